import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { z } from 'zod';
import type { Delivery, LagReport, Source, SourceContext, SourceFactory, SourceOptions } from '../core/source.js';
import type { FwEvent } from '../core/event.js';
import { parseDuration } from '../core/units.js';
import { parseOrThrow } from '../core/validation.js';

/**
 * The embedded queue: one SQLite file (<dataDir>/queue.db) holding every queue of the data dir in
 * one table keyed by queue name. Durable across kill -9 (WAL, synchronous=NORMAL: a commit is in
 * the WAL file before the call returns; see docs/decisions/030-embedded-queue.md).
 *
 * A delivery is a lease: `visible_at` moves to now + visibilityTimeout and `attempt` grows by one.
 * A lease that is not settled in time is simply visible again, which is how an event held by a
 * crashed process comes back. Ack and reject delete the row; nack makes it visible after a delay.
 */

/** Keys every embedded-queue-backed trigger accepts (the scaler's keys are read by the app). */
export const queueMetadataKeys = {
  queue: z.string().min(1).optional(),
  visibilityTimeout: z.string().optional(),
  pollInterval: z.string().optional(),
  lagThreshold: z.string().optional(),
  activationLagThreshold: z.string().optional(),
} as const;

export const metadata = z.strictObject({ ...queueMetadataKeys }) as unknown as z.ZodType<Record<string, string>>;

export const defaultVisibilityTimeoutMs = 30_000;
export const defaultPollIntervalMs = 200;

type Published = Omit<FwEvent, 'attempt' | 'enqueuedAt'> & Partial<Pick<FwEvent, 'attempt' | 'enqueuedAt'>>;

interface Row {
  seq: number;
  id: string;
  source: string;
  subject: string;
  headers: string;
  body: Buffer;
  attempt: number;
  enqueued_at: number;
}

export interface QueueStats {
  queue: string;
  ready: number;
  delayed: number;
  inFlight: number;
  /** Milliseconds since the oldest un-acked event was first accepted; null when empty. */
  oldestAgeMs: number | null;
}

/** One open queue.db, shared by every source and API handle of the process on that data dir. */
interface Store {
  file: string;
  db: Database.Database;
  refs: number;
  /** next() callers waiting for rows on a queue. */
  waiters: Map<string, Set<() => void>>;
  /** Sources to notify (scaler push) when rows appear on their queue. */
  watchers: Map<string, Set<() => void>>;
  insert(queue: string, e: Published, now: number): boolean;
  lease(queue: string, now: number, until: number): Row | undefined;
  /** Leases up to `max` visible rows at once, oldest first (a source's read-ahead, decision 190). */
  leaseMany(queue: string, now: number, until: number, max: number): Row[];
  /** Gives back a lease never handed out: visible at once, its attempt not counted (if still ours). */
  unlease(seq: number, attempt: number, now: number): void;
  nextVisible(queue: string, now: number): number | null;
  ack(seq: number): void;
  nack(seq: number, attempt: number, visibleAt: number): void;
  registerQueue(queue: string): void;
  queues(): string[];
  stats(queue: string, now: number): QueueStats;
  /** Wakes up to `n` next() callers waiting on the queue (each takes one row) and notifies its sources. */
  wake(queue: string, n?: number): void;
  /**
   * Group commit: runs `op` inside the transaction of every op scheduled in the same event-loop turn
   * and resolves once that transaction has committed. One fsync-free WAL commit per batch instead
   * of per statement is what makes the queue fast under concurrent producers and consumers.
   */
  batch<T>(op: () => T): Promise<T>;
  /** Commits whatever batch() holds now (before closing). */
  flush(): void;
  /** Wakes every waiter and watcher when another connection has committed since the last call. */
  poll(): void;
  pollTimer: NodeJS.Timeout | null;
  pollMs: number;
}

const stores = new Map<string, Store>();

function openStore(dataDir: string, pollMs = defaultPollIntervalMs): Store {
  const file = path.resolve(dataDir, 'queue.db');
  const existing = stores.get(file);
  if (existing) {
    existing.refs++;
    if (pollMs < existing.pollMs) restartPoll(existing, pollMs);
    return existing;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.exec(`
    CREATE TABLE IF NOT EXISTS messages (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      queue TEXT NOT NULL,
      id TEXT NOT NULL,
      source TEXT NOT NULL,
      subject TEXT NOT NULL,
      headers TEXT NOT NULL,
      body BLOB NOT NULL,
      attempt INTEGER NOT NULL,      -- deliveries so far
      enqueued_at INTEGER NOT NULL,  -- epoch ms, first accepted
      visible_at INTEGER NOT NULL,   -- epoch ms; deliverable when <= now
      leased INTEGER NOT NULL DEFAULT 0
    );
    CREATE UNIQUE INDEX IF NOT EXISTS messages_queue_id ON messages(queue, id);
    CREATE INDEX IF NOT EXISTS messages_ready ON messages(queue, visible_at, seq);
    CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY, created_at INTEGER NOT NULL);
  `);
  const insertStmt = db.prepare(
    `INSERT OR IGNORE INTO messages (queue, id, source, subject, headers, body, attempt, enqueued_at, visible_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const leaseStmt = db.prepare(
    `UPDATE messages SET attempt = attempt + 1, leased = 1, visible_at = ?
     WHERE seq = (SELECT seq FROM messages WHERE queue = ? AND visible_at <= ? ORDER BY visible_at, seq LIMIT 1)
     RETURNING seq, id, source, subject, headers, body, attempt, enqueued_at`,
  );
  const peekStmt = db.prepare(
    `SELECT seq, id, source, subject, headers, body, attempt, enqueued_at FROM messages
     WHERE queue = ? AND visible_at <= ? ORDER BY visible_at, seq LIMIT ?`,
  );
  const takeStmt = db.prepare(`UPDATE messages SET attempt = attempt + 1, leased = 1, visible_at = ? WHERE seq = ?`);
  const unleaseStmt = db.prepare(`UPDATE messages SET attempt = attempt - 1, leased = 0, visible_at = ? WHERE seq = ? AND attempt = ?`);
  const nextVisibleStmt = db.prepare(`SELECT MIN(visible_at) AS t FROM messages WHERE queue = ? AND visible_at > ?`).pluck();
  const ackStmt = db.prepare(`DELETE FROM messages WHERE seq = ?`);
  const nackStmt = db.prepare(`UPDATE messages SET leased = 0, visible_at = ? WHERE seq = ? AND attempt = ?`);
  const registerStmt = db.prepare(`INSERT OR IGNORE INTO queues (name, created_at) VALUES (?, ?)`);
  const queuesStmt = db.prepare(`SELECT name FROM queues UNION SELECT DISTINCT queue FROM messages ORDER BY 1`).pluck();
  const statsStmt = db.prepare(
    `SELECT
       COALESCE(SUM(visible_at <= @now), 0) AS ready,
       COALESCE(SUM(leased = 0 AND visible_at > @now), 0) AS delayed,
       COALESCE(SUM(leased = 1 AND visible_at > @now), 0) AS inFlight,
       MIN(enqueued_at) AS oldest
     FROM messages WHERE queue = @queue`,
  );
  const dataVersion = db.prepare('PRAGMA data_version').pluck();

  type Pending = { op: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void };
  let pending: Pending[] = [];
  let flushScheduled = false;
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  const flush = () => {
    flushScheduled = false;
    if (pending.length === 0) return;
    const ops = pending;
    pending = [];
    const results: { ok: boolean; value: unknown }[] = [];
    try {
      begin.run();
      for (const p of ops) {
        // A failing statement is undone on its own (statement journal); the others still commit.
        try {
          results.push({ ok: true, value: p.op() });
        } catch (err) {
          results.push({ ok: false, value: err });
        }
      }
      commit.run();
    } catch (err) {
      if (db.inTransaction) rollback.run();
      for (const p of ops) p.reject(err);
      return;
    }
    ops.forEach((p, i) => (results[i]!.ok ? p.resolve(results[i]!.value) : p.reject(results[i]!.value)));
  };

  // Another process (`featherweight queue send`, a second `up`) committed: data_version changes only
  // for other connections' commits, so this costs one pragma read per interval and wakes nobody otherwise.
  let lastVersion = dataVersion.get() as number;
  const store: Store = {
    file,
    db,
    refs: 1,
    waiters: new Map(),
    watchers: new Map(),
    insert(queue, e, now) {
      const attempt = e.attempt !== undefined ? Math.max(0, e.attempt - 1) : 0;
      const body = Buffer.isBuffer(e.body) ? e.body : Buffer.from(e.body.buffer, e.body.byteOffset, e.body.byteLength);
      const r = insertStmt.run(queue, e.id, e.source, e.subject, JSON.stringify(e.headers ?? {}), body, attempt, e.enqueuedAt ?? now, now);
      return r.changes > 0;
    },
    lease: (queue, now, until) => leaseStmt.get(until, queue, now) as Row | undefined,
    leaseMany(queue, now, until, max) {
      if (max <= 1) {
        const row = leaseStmt.get(until, queue, now) as Row | undefined;
        return row ? [row] : [];
      }
      // Inside batch()'s transaction, so the select and the updates are one atomic lease.
      const rows = peekStmt.all(queue, now, max) as Row[];
      for (const r of rows) {
        takeStmt.run(until, r.seq);
        r.attempt++;
      }
      return rows;
    },
    unlease: (seq, attempt, now) => void unleaseStmt.run(now, seq, attempt),
    nextVisible: (queue, now) => nextVisibleStmt.get(queue, now) as number | null,
    ack: (seq) => void ackStmt.run(seq),
    nack: (seq, attempt, visibleAt) => void nackStmt.run(visibleAt, seq, attempt),
    registerQueue: (queue) => void registerStmt.run(queue, Date.now()),
    queues: () => queuesStmt.all() as string[],
    stats(queue, now) {
      const r = statsStmt.get({ queue, now }) as { ready: number; delayed: number; inFlight: number; oldest: number | null };
      return { queue, ready: r.ready, delayed: r.delayed, inFlight: r.inFlight, oldestAgeMs: r.oldest === null ? null : Math.max(0, now - r.oldest) };
    },
    wake(queue, n = Infinity) {
      const waiting = this.waiters.get(queue);
      if (waiting) for (const w of [...waiting].slice(0, n)) w();
      for (const w of this.watchers.get(queue) ?? []) w();
    },
    flush: () => {
      if (pending.length) flush();
    },
    batch(op) {
      return new Promise((resolve, reject) => {
        if (!db.open) return reject(new Error(`queue ${file} is closed`));
        pending.push({ op, resolve: resolve as (v: unknown) => void, reject });
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(flush);
        }
      });
    },
    poll() {
      const v = dataVersion.get() as number;
      if (v === lastVersion) return;
      lastVersion = v;
      for (const q of new Set([...this.waiters.keys(), ...this.watchers.keys()])) this.wake(q);
    },
    pollTimer: null,
    pollMs,
  };
  restartPoll(store, pollMs);
  stores.set(file, store);
  return store;
}

function restartPoll(store: Store, pollMs: number): void {
  if (store.pollTimer) clearInterval(store.pollTimer);
  store.pollMs = pollMs;
  store.pollTimer = setInterval(() => store.poll(), pollMs);
  store.pollTimer.unref();
}

function releaseStore(store: Store): void {
  if (--store.refs > 0) return;
  store.flush();
  if (store.pollTimer) clearInterval(store.pollTimer);
  stores.delete(store.file);
  store.db.close();
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}

/** Time-ordered unique id (sortable like a ULID, readable in logs). */
export function newEventId(): string {
  return `${Date.now().toString(36).padStart(9, '0')}-${randomUUID().slice(0, 18)}`;
}

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

/** Parses a unit-valued metadata key (a duration, a size) or returns the fallback; the error names the key. */
export function unitKey(m: Record<string, string | undefined>, key: string, parse: (v: string) => number, fallback: number): number {
  const v = m[key];
  if (v === undefined) return fallback;
  try {
    return parse(v);
  } catch (err) {
    throw new Error(`trigger metadata ${key}: ${(err as Error).message}`);
  }
}

/** Reads the keys every embedded-queue-backed trigger shares, with errors naming the key. */
export function queueOptions(m: Record<string, string | undefined>, opts: SourceOptions): EmbeddedQueueOptions {
  return {
    queue: m.queue ?? opts.component,
    visibilityTimeoutMs: unitKey(m, 'visibilityTimeout', parseDuration, defaultVisibilityTimeoutMs),
    pollIntervalMs: unitKey(m, 'pollInterval', parseDuration, defaultPollIntervalMs),
    prefetch: opts.prefetch,
  };
}

export const create: SourceFactory = (md, opts) => {
  const m = parseOrThrow(metadata, md, 'embedded trigger metadata', 'metadata') as Record<string, string | undefined>;
  return createEmbeddedQueue(opts.dataDir, queueOptions(m, opts), 'embedded');
};

/** What `featherweight queue send` and the API need without a running source. */
export interface QueueHandle {
  send(queue: string, e: { body: Uint8Array; headers?: Record<string, string>; id?: string; source?: string; subject?: string; attempt?: number; enqueuedAt?: number }): string;
  queues(): string[];
  stats(queue?: string): QueueStats[];
  close(): void;
}

export function openQueue(dataDir: string): QueueHandle {
  const s = openStore(dataDir);
  let open = true;
  return {
    send(queue, e) {
      const id = e.id ?? newEventId();
      s.insert(queue, { id, source: e.source ?? 'embedded', subject: e.subject ?? queue, headers: e.headers ?? {}, body: e.body, attempt: e.attempt, enqueuedAt: e.enqueuedAt }, Date.now());
      s.registerQueue(queue);
      s.wake(queue);
      return id;
    },
    queues: () => s.queues(),
    stats(queue) {
      const now = Date.now();
      return (queue === undefined ? s.queues() : [queue]).map((q) => s.stats(q, now));
    },
    close() {
      if (!open) return;
      open = false;
      releaseStore(s);
    },
  };
}
