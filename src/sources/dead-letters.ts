import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { FwEvent } from '../core/event.js';
import type { FailureInfo } from '../core/errors.js';

/**
 * The dead-letter store: events that failed maxAttempts times, with why, in
 * <dataDir>/dead-letters.db. The dispatcher adds the entry before rejecting the event on its
 * source, so an event is always in one of the two places (at worst briefly in both).
 */

export interface DeadLetterInput {
  component: string;
  event: FwEvent;
  reason: string;
  error: FailureInfo;
  stderrTail: string;
}

export interface DeadLetter extends DeadLetterInput {
  id: string;
  /** Epoch milliseconds when it was dead-lettered. */
  createdAt: number;
}

export interface DeadLetters {
  add(entry: DeadLetterInput): string;
  /** Newest first. */
  list(q?: { component?: string; limit?: number }): DeadLetter[];
  get(id: string): DeadLetter | undefined;
  /** True when it existed. */
  remove(id: string): boolean;
  count(component?: string): number;
  close(): void;
}

interface Row {
  id: string;
  component: string;
  event_id: string;
  source: string;
  subject: string;
  headers: string;
  body: Buffer;
  attempt: number;
  enqueued_at: number;
  reason: string;
  error: string;
  stderr_tail: string;
  created_at: number;
}

const fromRow = (r: Row): DeadLetter => ({
  id: r.id,
  component: r.component,
  event: {
    id: r.event_id,
    source: r.source,
    subject: r.subject,
    headers: JSON.parse(r.headers) as Record<string, string>,
    body: r.body,
    attempt: r.attempt,
    enqueuedAt: r.enqueued_at,
  },
  reason: r.reason,
  error: JSON.parse(r.error) as FailureInfo,
  stderrTail: r.stderr_tail,
  createdAt: r.created_at,
});

export function openDeadLetters(dataDir: string): DeadLetters {
  const file = path.resolve(dataDir, 'dead-letters.db');
  mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.exec(`
    CREATE TABLE IF NOT EXISTS dead_letters (
      id TEXT PRIMARY KEY,
      component TEXT NOT NULL,
      event_id TEXT NOT NULL,
      source TEXT NOT NULL,
      subject TEXT NOT NULL,
      headers TEXT NOT NULL,
      body BLOB NOT NULL,
      attempt INTEGER NOT NULL,
      enqueued_at INTEGER NOT NULL,
      reason TEXT NOT NULL,
      error TEXT NOT NULL,
      stderr_tail TEXT NOT NULL,
      created_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS dead_letters_component ON dead_letters(component, created_at);
  `);
  const insert = db.prepare(`INSERT INTO dead_letters VALUES (@id, @component, @event_id, @source, @subject, @headers, @body, @attempt, @enqueued_at, @reason, @error, @stderr_tail, @created_at)`);
  const listAll = db.prepare(`SELECT * FROM dead_letters ORDER BY created_at DESC, rowid DESC LIMIT ?`);
  const listOne = db.prepare(`SELECT * FROM dead_letters WHERE component = ? ORDER BY created_at DESC, rowid DESC LIMIT ?`);
  const getStmt = db.prepare(`SELECT * FROM dead_letters WHERE id = ?`);
  const removeStmt = db.prepare(`DELETE FROM dead_letters WHERE id = ?`);
  const countAll = db.prepare(`SELECT COUNT(*) FROM dead_letters`).pluck();
  const countOne = db.prepare(`SELECT COUNT(*) FROM dead_letters WHERE component = ?`).pluck();
  let open = true;

  return {
    add(e) {
      const id = `dl-${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
      const body = Buffer.from(e.event.body.buffer, e.event.body.byteOffset, e.event.body.byteLength);
      insert.run({
        id,
        component: e.component,
        event_id: e.event.id,
        source: e.event.source,
        subject: e.event.subject,
        headers: JSON.stringify(e.event.headers),
        body,
        attempt: e.event.attempt,
        enqueued_at: e.event.enqueuedAt,
        reason: e.reason,
        error: JSON.stringify(e.error),
        // Bounded: a guest that floods stderr must not bloat the store.
        stderr_tail: e.stderrTail.slice(-8192),
        created_at: Date.now(),
      });
      return id;
    },
    list(q = {}) {
      const limit = Math.max(1, Math.min(100_000, q.limit ?? 100));
      const rows = (q.component === undefined ? listAll.all(limit) : listOne.all(q.component, limit)) as Row[];
      return rows.map(fromRow);
    },
    get(id) {
      const r = getStmt.get(id) as Row | undefined;
      return r && fromRow(r);
    },
    remove: (id) => removeStmt.run(id).changes > 0,
    count: (component) => (component === undefined ? countAll.get() : countOne.get(component)) as number,
    close() {
      if (open) db.close();
      open = false;
    },
  };
}
