import type { Delivery, LagReport, Source, SourceContext } from '../../core/source.js';
import type { FwEvent } from '../../core/event.js';
import { addTo, openStore, releaseStore, removeFrom, type Row, type Store } from './store.js';

export const defaultVisibilityTimeoutMs = 30_000;

export interface EmbeddedQueueOptions {
  /** Queue name inside queue.db. */
  queue: string;
  visibilityTimeoutMs?: number;
  pollIntervalMs?: number;
  prefetch?: number;
  /** Most rows one lease statement takes ahead of next(); 1 turns read-ahead off. */
  leaseBatch?: number;
}

/**
 * Read-ahead (decision 190): one lease takes up to this many rows, so a draining consumer pays one
 * lease statement and commit per batch instead of per event. The rows wait in the source, leased
 * but not handed out (prefetch still bounds what is handed out), and count as backlog in lag().
 */
export const defaultLeaseBatch = 16;

/** A Source over one queue of <dataDir>/queue.db; smtp, http and cron sources wrap it. */
export interface EmbeddedSource extends Source {
  readonly queue: string;
  readonly dataDir: string;
}

export function createEmbeddedQueue(dataDir: string, o: EmbeddedQueueOptions, type = 'embedded'): EmbeddedSource {
  const queue = o.queue;
  const visibilityMs = o.visibilityTimeoutMs ?? defaultVisibilityTimeoutMs;
  const prefetch = Math.max(1, o.prefetch ?? Number.MAX_SAFE_INTEGER);
  const leaseBatch = Math.max(1, Math.floor(o.leaseBatch ?? defaultLeaseBatch));
  /**
   * Rows leased ahead and not yet handed out, oldest first, each with its lease's end. A kill -9 leaves them leased, and they come back after the visibility timeout
   * like any in-flight event (so nothing is lost, and the rows' primary key drops the duplicate).
   */
  let ahead: Array<{ row: Row; until: number }> = [];
  /** Rows asked for by lease statements not yet committed. */
  let leasing = 0;
  let store: Store | null = null;
  let ctx: SourceContext | null = null;
  let closed = false;
  let held = 0;
  /** Woken when a delivery settles or the source closes (prefetch bound, close). */
  const settleWaiters = new Set<() => void>();
  /** Wakes seen on this queue (publish, nack, poll): a lease that found nothing retries if one came meanwhile. */
  let wakes = 0;
  const notify = () => {
    wakes++;
    ctx?.notify();
  };

  const need = (): Store => {
    if (!store) throw new Error(`${type} source for queue "${queue}" is not started`);
    return store;
  };

  const wakeSettled = () => {
    for (const w of settleWaiters) w();
  };

  function toDelivery(s: Store, row: Row): Delivery {
    held++;
    let settled = false;
    const settle = (what: string) => {
      if (settled) throw new Error(`event ${row.id} was already settled; ${what} ignored`);
      settled = true;
      held--;
      wakeSettled();
    };
    const event: FwEvent = {
      id: row.id,
      source: row.source,
      subject: row.subject,
      headers: JSON.parse(row.headers) as Record<string, string>,
      body: row.body,
      attempt: row.attempt,
      enqueuedAt: row.enqueued_at,
    };
    return {
      event,
      async ack() {
        settle('ack');
        await s.batch(() => s.ack(row.seq));
      },
      async nack(delayMs: number) {
        settle('nack');
        // Only if our lease is still the current one: after a visibility timeout another consumer owns it.
        await s.batch(() => s.nack(row.seq, row.attempt, Date.now() + Math.max(0, delayMs)));
        // Sleepers recompute their wake-up time: this row may now be the earliest.
        s.wake(queue);
      },
      async reject() {
        settle('reject');
        await s.batch(() => s.ack(row.seq));
      },
    };
  }

  /** Resolves on the first of: a wake on this queue, a settle, timeout, abort, close. */
  function waitForChange(s: Store, signal: AbortSignal, timeoutMs: number | null, onSettle: boolean): Promise<void> {
    return new Promise((resolve) => {
      // Aborted or closed while this next() was awaiting a lease: no event will come to wake it.
      if (closed || signal.aborted) return resolve();
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        removeFrom(s.waiters, queue, done);
        settleWaiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      if (onSettle) settleWaiters.add(done);
      else addTo(s.waiters, queue, done);
      signal.addEventListener('abort', done, { once: true });
      if (timeoutMs !== null) timer = setTimeout(done, Math.max(1, timeoutMs));
    });
  }

  /** Returns leased-ahead rows to the queue, visible at once, their attempt not counted. */
  function giveBack(rows: Array<{ row: Row; until: number }>): Promise<void> {
    if (rows === ahead) ahead = [];
    const s = store;
    if (!s || rows.length === 0) return Promise.resolve();
    return s
      .batch(() => {
        const now = Date.now();
        for (const { row } of rows) s.unlease(row.seq, row.attempt, now);
      })
      .then(
        () => s.wake(queue, rows.length),
        () => {
          // queue.db already closed: the leases simply expire after the visibility timeout.
        },
      );
  }

  const source: EmbeddedSource = {
    type,
    queue,
    dataDir,
    async start(c) {
      if (store) return;
      ctx = c;
      store = openStore(dataDir, o.pollIntervalMs);
      store.registerQueue(queue);
      addTo(store.watchers, queue, notify);
      // A backlog left by a previous run is lag the scaler should see at once.
      if (store.stats(queue, Date.now()).ready > 0) notify();
    },
    async next(signal) {
      const s = need();
      for (;;) {
        if (closed || signal.aborted) return null;
        if (held >= prefetch) {
          await waitForChange(s, signal, null, true);
          continue;
        }
        while (ahead.length > 0) {
          const a = ahead.shift()!;
          // Half its lease gone while it waited (a slow guest): give it back rather than hand out a
          // lease that may run out under the replica; it is leased again, fresh, below.
          if (Date.now() < a.until - visibilityMs / 2) return toDelivery(s, a.row);
          void giveBack([a]);
        }
        // Not bounded by prefetch - held: a busy consumer sits near prefetch, which would leave one row
        // per lease. Prefetch bounds what is handed out; concurrent callers each take at least one.
        const want = Math.max(1, leaseBatch - leasing);
        const wakesBefore = wakes;
        let leasedAt = Date.now();
        leasing += want;
        const rows = await s
          .batch(() => {
            const now = (leasedAt = Date.now());
            const until = now + visibilityMs;
            return s.leaseMany(queue, now, until, want).map((row) => ({ row, until }));
          })
          .finally(() => (leasing -= want));
        if (closed || signal.aborted) {
          // Too late to hand out: make them visible again at once rather than after the timeout.
          void giveBack(rows);
          return null;
        }
        if (rows.length > 0) {
          ahead.push(...rows.slice(1));
          // Other next() calls may be waiting on this queue: the rows just read ahead are leased, so
          // no publish or poll will wake them for these; wake them here, one per row.
          if (rows.length > 1) s.wake(queue, rows.length - 1);
          return toDelivery(s, rows[0]!.row);
        }
        // A concurrent next() leased this batch's rows ahead in the same commit: take one of those.
        if (ahead.length > 0) continue;
        // Rows arrived after the lease ran but before this caller waits: their wake has passed already.
        if (wakes !== wakesBefore) continue;
        // Counted from the lease's own clock: a row that became visible since (a nack's short backoff)
        // gives a wait of ~0 instead of none at all (which would wait for a wake that never comes).
        const now = Date.now();
        const at = s.nextVisible(queue, leasedAt);
        await waitForChange(s, signal, at === null ? null : at - now, false);
      }
    },
    async lag(): Promise<LagReport> {
      const st = need().stats(queue, Date.now());
      // Rows leased ahead are still waiting for a replica: backlog, not in flight.
      const inFlight = Math.max(0, st.inFlight - ahead.length);
      return { lag: st.ready + st.delayed + st.inFlight, inFlight };
    },
    async publish(e) {
      const s = need();
      const added = await s.batch(() => s.insert(queue, { ...e, source: e.source || type }, Date.now()));
      if (added) s.wake(queue, 1);
      else ctx?.notify();
    },
    async close() {
      if (closed) return;
      closed = true;
      wakeSettled();
      // Committed before close() resolves, so the next consumer finds them visible at once.
      const back = giveBack(ahead);
      if (store) {
        for (const w of [...(store.waiters.get(queue) ?? [])]) w();
        removeFrom(store.watchers, queue, notify);
        await back;
        releaseStore(store);
      }
    },
  };
  return source;
}

