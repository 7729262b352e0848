import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { z } from 'zod';
import type { RowsQuery, Sink, SinkPlugin, SinkRecord } from '../core/sink.js';
import { parseOrThrow } from '../core/validation.js';
import {
  checkColumnBudget, checkIdentifier, tableField, defaultMaxColumns, defaultTableName, eventColumns, kindOf, page, quoteIdent, writeSlice, yieldToLoop,
} from './table.js';

/**
 * SQLite sink: one table per component in <dataDir>/rows.db (or `path`). Small events whose writes
 * arrive within a millisecond share one transaction (group commit, decision 232); a larger
 * event is written in IMMEDIATE transactions of `writeSlice` records with INSERT ... ON CONFLICT DO
 * NOTHING on the primary key (event_id, record_index), yielding to the event loop between two, so a
 * large event never holds the main thread for long (better-sqlite3 is synchronous). A redelivered
 * event writes nothing twice: the slices it had committed conflict and are skipped. write()
 * resolves after the last slice commits, and only then is the event acknowledged (decision 130).
 * A record key the table does not have yet becomes a column (ALTER TABLE ADD COLUMN) inside the
 * slice's transaction; every key of the event is validated, and the column cap checked, before the
 * first slice. Whole numbers are bound as INTEGER (better-sqlite3 binds a JS number as REAL).
 */

/**
 * How long a small event's rows wait for others to share their commit (like Postgres' commit_delay
 * or Kafka's linger.ms): 1 ms made groups of ~5 events instead of ~2 and cut the main thread's time
 * per event by a third in the e2e bench (decision 232). The event's replica is free meanwhile.
 */
const groupCommitDelayMs = 1;

/**
 * Records per multi-row INSERT: 20 rows of three columns took ~25% less time as one statement than
 * as twenty (better-sqlite3 binds and steps once per call). At most 999 bound values per statement,
 * SQLite's historical limit, so a wide table still fits; a run's remainder gets a statement of its
 * own size (one cached statement per size and key set).
 */
const rowsPerInsert = (columns: number) => Math.max(1, Math.min(16, Math.floor(999 / (columns + 2))));

export const config = z.strictObject({
  type: z.literal('sqlite'),
  path: z.string().min(1).optional(),
  table: tableField.optional(),
  /** Record columns the table may have (SQLite's own cap is 2000 columns, 3 of them ours). */
  maxColumns: z.number().int().min(1).max(1997).optional(),
});
export type SqliteSinkConfig = z.infer<typeof config>;

export interface SqliteSink extends Sink {
  readonly table: string;
  readonly path: string;
  rows(q: RowsQuery): Promise<{ total: number; rows: SinkRecord[] }>;
  count(): Promise<number>;
}

function toSqlValue(v: unknown): unknown {
  switch (kindOf(v)) {
    case 'boolean':
      return v ? 1 : 0;
    case 'integer':
      return typeof v === 'bigint' ? v : BigInt(v as number);
    case 'json':
      return JSON.stringify(v);
    default:
      return v === undefined ? null : v;
  }
}

export function create(cfg: SqliteSinkConfig, opts: { dataDir: string; component: string }): SqliteSink {
  const c = parseOrThrow(config, cfg, 'sqlite sink');
  const table = checkIdentifier(c.table ?? defaultTableName(opts.component), 'sink table');
  // A relative `path` is relative to the working directory, like the data dir itself.
  const file = path.resolve(c.path ?? path.join(opts.dataDir, 'rows.db'));
  const t = quoteIdent(table);
  const maxColumns = c.maxColumns ?? defaultMaxColumns;
  let db: Database.Database | null = null;
  /** lower-cased name -> the column's name (SQLite column names are case-insensitive). */
  let columns = new Map<string, string>();
  const inserts = new Map<string, Database.Statement>();
  type WriteBody = (eventId: string, records: SinkRecord[], from: number, to: number) => void;
  let writeTx: WriteBody | null = null;
  /** One IMMEDIATE transaction over several small events (group commit). */
  let batchTx: ((batch: Pending[]) => void) | null = null;
  type Pending = { eventId: string; records: SinkRecord[]; resolve: () => void; reject: (err: unknown) => void };
  let batch: Pending[] = [];
  let batchRecords = 0;
  let batchScheduled = false;
  /** Record columns the table has (the reserved ones not counted). */
  const recordColumnCount = () => columns.size - 3;
  /** The event's keys the table has no column for, one per case-insensitive name. */
  const missing = (keys: string[]) => [...new Map(keys.filter((k) => !columns.has(k.toLowerCase())).map((k) => [k.toLowerCase(), k])).values()];

  const need = () => {
    if (!db) throw new Error(`sqlite sink ${table} is not started`);
    return db;
  };
  const loadColumns = (d: Database.Database) => {
    const info = d.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[];
    columns = new Map(info.map((n) => [n.toLowerCase(), n]));
  };

  function insertFor(d: Database.Database, cols: string[], rows: number): Database.Statement {
    const key = `${rows}\0${cols.join('\0')}`;
    let stmt = inserts.get(key);
    if (!stmt) {
      const names = ['event_id', 'record_index', ...cols].map(quoteIdent).join(', ');
      const tuple = `(${['?', '?', ...cols.map(() => '?')].join(', ')})`;
      stmt = d.prepare(`INSERT INTO ${t} (${names}) VALUES ${Array.from({ length: rows }, () => tuple).join(', ')} ON CONFLICT (event_id, record_index) DO NOTHING`);
      inserts.set(key, stmt);
    }
    return stmt;
  }

  /** A rolled-back transaction may have added columns that are gone again: re-read them. */
  const forgetRolledBack = (d: Database.Database) => {
    loadColumns(d);
    inserts.clear();
  };

  /**
   * Group commit: the small events whose write() came within groupCommitDelayMs (results of several
   * replicas arrive close together) commit in one transaction, as the embedded queue batches its
   * acks. If that transaction fails (one event's new column past the cap), each event is retried in
   * a transaction of its own, so only the event at fault fails.
   */
  function flushBatch(): void {
    batchScheduled = false;
    const b = batch;
    batch = [];
    batchRecords = 0;
    if (b.length === 0) return;
    if (!db) {
      for (const p of b) p.reject(new Error(`sqlite sink ${table} was closed before event ${p.eventId} was written; it will be written again on redelivery`));
      return;
    }
    try {
      batchTx!(b);
      for (const p of b) p.resolve();
    } catch {
      forgetRolledBack(db);
      for (const p of b) {
        try {
          writeTx!(p.eventId, p.records, 0, p.records.length);
          p.resolve();
        } catch (err) {
          forgetRolledBack(db);
          p.reject(err);
        }
      }
    }
  }

  const sink: SqliteSink = {
    type: 'sqlite',
    table,
    path: file,
    async start() {
      if (db) return;
      mkdirSync(path.dirname(file), { recursive: true });
      const d = new Database(file);
      d.pragma('journal_mode = WAL');
      d.pragma('synchronous = NORMAL');
      d.pragma('busy_timeout = 5000');
      d.exec(`CREATE TABLE IF NOT EXISTS ${t} (
        event_id TEXT NOT NULL,
        record_index INTEGER NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (event_id, record_index)
      )`);
      loadColumns(d);
      /** The table's column for each key, adding the ones it lacks (inside the caller's transaction). */
      const columnsFor = (keys: string[]): string[] => {
        const cols: string[] = [];
        for (const k of keys) {
          let col = columns.get(k.toLowerCase());
          if (col === undefined) {
            loadColumns(d); // another process may have added it meanwhile
            col = columns.get(k.toLowerCase());
            if (col === undefined) {
              // another event may have widened the table since write() checked the budget
              if (recordColumnCount() + 1 > maxColumns) checkColumnBudget(table, recordColumnCount(), [k], maxColumns);
              d.exec(`ALTER TABLE ${t} ADD COLUMN ${quoteIdent(k)}`);
              columns.set(k.toLowerCase(), (col = k));
              inserts.clear();
            }
          }
          cols.push(col);
        }
        return cols;
      };
      const sameKeys = (a: string[], b: string[]) => a.length === b.length && a.every((k, j) => k === b[j]);
      const body: WriteBody = (eventId, records, from, to) => {
        // Records of one event usually share their keys: a run of them goes in multi-row INSERTs,
        // one statement call per rowsPerInsert records instead of one per record.
        const args: unknown[] = [];
        let index = from;
        while (index < to) {
          const keys = Object.keys(records[index]!); // validated by eventColumns before the first slice
          let end = index + 1;
          while (end < to && sameKeys(Object.keys(records[end]!), keys)) end++;
          const cols = columnsFor(keys);
          const perInsert = rowsPerInsert(cols.length);
          while (index < end) {
            const rows = Math.min(perInsert, end - index);
            args.length = 0;
            for (let i = index; i < index + rows; i++) {
              const record = records[i]!;
              args.push(eventId, i);
              for (const k of keys) args.push(toSqlValue(record[k]));
            }
            insertFor(d, cols, rows).run(args);
            index += rows;
          }
        }
      };
      writeTx = d.transaction(body).immediate as unknown as WriteBody;
      batchTx = d.transaction((b: Pending[]) => {
        for (const p of b) body(p.eventId, p.records, 0, p.records.length);
      }).immediate as unknown as (b: Pending[]) => void;
      db = d;
    },
    async write(eventId, records) {
      const d = need();
      if (records.length === 0) return;
      const keys = eventColumns(records);
      let added = missing(keys);
      if (added.length > 0) {
        loadColumns(d); // another process may have added some meanwhile
        added = missing(keys);
        checkColumnBudget(table, recordColumnCount(), added, maxColumns);
      }
      if (records.length <= writeSlice) {
        if (batchRecords + records.length > writeSlice) flushBatch();
        return new Promise<void>((resolve, reject) => {
          batch.push({ eventId, records, resolve, reject });
          batchRecords += records.length;
          if (!batchScheduled) {
            batchScheduled = true;
            setTimeout(flushBatch, groupCommitDelayMs);
          }
        });
      }
      for (let from = 0; from < records.length; from += writeSlice) {
        if (from > 0) {
          await yieldToLoop();
          if (db !== d) throw new Error(`sqlite sink ${table} was closed while writing event ${eventId}; it will be written again on redelivery`);
        }
        try {
          writeTx!(eventId, records, from, Math.min(records.length, from + writeSlice));
        } catch (err) {
          forgetRolledBack(d);
          throw err;
        }
      }
    },
    async rows(q) {
      const d = need();
      loadColumns(d);
      const { limit, offset } = page(q);
      let where = '';
      const params: unknown[] = [];
      if (q.filter) {
        const cols = [...columns.values()].filter((c) => c !== 'record_index' && c !== 'created_at');
        where = `WHERE ${cols.map((col) => `instr(${quoteIdent(col)}, ?) > 0`).join(' OR ')}`;
        for (let i = 0; i < cols.length; i++) params.push(q.filter);
      }
      const total = d.prepare(`SELECT COUNT(*) FROM ${t} ${where}`).pluck().get(...params) as number;
      const rows = d.prepare(`SELECT * FROM ${t} ${where} ORDER BY rowid DESC LIMIT ? OFFSET ?`).all(...params, limit, offset) as SinkRecord[];
      return { total, rows };
    },
    async count() {
      return need().prepare(`SELECT COUNT(*) FROM ${t}`).pluck().get() as number;
    },
    async close() {
      flushBatch();
      db?.close();
      db = null;
      inserts.clear();
    },
  };
  return sink;
}

export const plugin: SinkPlugin<SqliteSinkConfig> = { type: 'sqlite', config, create };
