// One thread budget for the whole host: about `slots` guests run at the same instant, whichever
// component they belong to, shared max-min fairly (decision 122). Every member with work may always run
// one guest (its floor): a runaway of another component can never hold every slot and make it wait up to
// a timeout. Beyond that floor, slots are shared. A pool asks for a slot before it hands a
// job (or an http-wasm phase) to a thread and gives it back when the thread answers or the watchdog
// fires. A free slot goes to the waiting member that runs the fewest guests right now, ties to the one
// that used the least thread time recently. So a component with work always gets its share, and one whose
// events run long (a runaway until its timeout) cannot take a second slot while another waits: its
// usage counts against it the whole time it holds a slot.
import os from 'node:os';

export interface BudgetMember {
  /**
   * Takes a slot: a member's first is always granted (its floor, even past `slots`); more come from free
   * slots no better-placed waiting member needs, or are reserved for it as they free up.
   */
  acquire(): boolean;
  /** Gives a slot back (the thread answered, or its watchdog fired). */
  release(): void;
  /** Jobs this member could start right now if it had slots (work waiting and a free thread for each; 0 = none). */
  want(n: number): void;
  /** The member closed: its reservations go back to the budget. */
  leave(): void;
}

export interface BudgetStats {
  slots: number;
  running: number;
  members: Array<{ name: string; running: number; waiting: number; usageMs: number }>;
}

export interface ThreadBudget {
  readonly slots: number;
  /** `onGrant` is called (from a microtask) when a slot has been reserved for the member: acquire() it then. */
  join(name: string, onGrant: () => void): BudgetMember;
  stats(): BudgetStats;
}

interface Member {
  name: string;
  onGrant(): void;
  running: number;
  reserved: number;
  waiting: number;
  /** Thread time used, decayed with HALF_LIFE_MS, up to `at`. */
  usage: number;
  at: number;
  /** Sum of the start times of the slots held now: their time so far is running * now - startSum. */
  startSum: number;
  left: boolean;
}

/** Recent usage halves every 2 s: long enough to remember a 5 s runaway, short enough to forgive it soon. */
const HALF_LIFE_MS = 2000;

export function createThreadBudget(slots = os.availableParallelism()): ThreadBudget {
  if (!Number.isInteger(slots) || slots < 1) throw new Error(`thread budget must be an integer >= 1, got ${slots}`);
  const members = new Set<Member>();
  const now = () => performance.now();
  let running = 0;
  let reserved = 0;

  const usage = (m: Member, t: number) => m.usage * 0.5 ** ((t - m.at) / HALF_LIFE_MS) + (m.running * t - m.startSum);
  const charge = (m: Member, t: number, ms: number) => {
    m.usage = m.usage * 0.5 ** ((t - m.at) / HALF_LIFE_MS) + ms;
    m.at = t;
  };
  /** a before b: fewer guests running (reserved slots count as running), then less recent usage. */
  const better = (a: Member, b: Member, t: number) =>
    a.running + a.reserved !== b.running + b.reserved ? a.running + a.reserved < b.running + b.reserved : usage(a, t) < usage(b, t);

  function free(): number {
    return slots - running - reserved;
  }

  /** Hands free slots to waiting members, best-placed first. */
  function grant(): void {
    while (free() > 0) {
      const t = now();
      let best: Member | null = null;
      for (const m of members) if (!m.left && m.waiting > m.reserved && (!best || better(m, best, t))) best = m;
      if (!best) return;
      best.reserved++;
      reserved++;
      const m = best;
      queueMicrotask(() => {
        if (!m.left) m.onGrant();
      });
    }
  }

  return {
    slots,
    join(name, onGrant) {
      const m: Member = { name, onGrant, running: 0, reserved: 0, waiting: 0, usage: 0, at: now(), startSum: 0, left: false };
      members.add(m);
      return {
        acquire() {
          if (m.left) return false;
          const t = now();
          if (m.reserved > 0) {
            m.reserved--;
            reserved--;
          } else if (m.running > 0) {
            if (free() <= 0) return false;
            // A free slot: take it unless a better-placed member is waiting for one.
            for (const o of members) if (o !== m && !o.left && o.waiting > o.reserved && better(o, m, t)) return false;
          }
          m.running++;
          running++;
          m.startSum += t;
          return true;
        },
        release() {
          if (m.running === 0) return;
          const t = now();
          // The slot's own start time is not known here: charge the average of those held.
          const start = m.startSum / m.running;
          m.running--;
          running--;
          m.startSum -= start;
          charge(m, t, t - start);
          grant();
        },
        want(n) {
          m.waiting = n;
          // Reservations it can no longer use (its threads got busy, its work went) go to others.
          if (m.reserved > n) {
            reserved -= m.reserved - n;
            m.reserved = n;
          }
          grant();
        },
        leave() {
          m.left = true;
          reserved -= m.reserved;
          m.reserved = 0;
          running -= m.running;
          m.running = 0;
          members.delete(m);
          grant();
        },
      };
    },
    stats: () => {
      const t = now();
      return {
        slots,
        running,
        members: [...members].map((m) => ({ name: m.name, running: m.running, waiting: m.waiting, usageMs: Math.round(usage(m, t)) })),
      };
    },
  };
}
