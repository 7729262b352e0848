import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { z } from 'zod';
import type { RowsQuery, Sink, SinkRecord } from '../core/sink.js';
import { checkIdentifier, defaultTableName, kindOf, page, quoteIdent, recordColumns } from './table.js';

/**
 * SQLite sink: one table per component in <dataDir>/rows.db (or `path`). The records of one event
 * are written in one IMMEDIATE transaction with INSERT ... ON CONFLICT DO NOTHING on the primary key
 * (event_id, record_index): a redelivered event writes nothing twice, and a partial write cannot
 * exist. A record key the table does not have yet becomes a column (ALTER TABLE ADD COLUMN) inside
 * the same transaction.
 */

export const config = z.strictObject({
  type: z.literal('sqlite'),
  path: z.string().min(1).optional(),
  table: z.string().min(1).optional(),
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
    case 'json':
      return JSON.stringify(v);
    default:
      return v === undefined ? null : v;
  }
}

export function create(cfg: SqliteSinkConfig, opts: { dataDir: string; component: string }): SqliteSink {
  const c = config.parse(cfg);
  const table = checkIdentifier(c.table ?? defaultTableName(opts.component), 'sink table');
  // A relative `path` is relative to the working directory, like the data dir itself.
  const file = path.resolve(c.path ?? path.join(opts.dataDir, 'rows.db'));
  const t = quoteIdent(table);
  let db: Database.Database | null = null;
  /** lower-cased name -> the column's name (SQLite column names are case-insensitive). */
  let columns = new Map<string, string>();
  const inserts = new Map<string, Database.Statement>();
  let writeTx: ((eventId: string, records: SinkRecord[]) => void) | null = null;

  const need = () => {
    if (!db) throw new Error(`sqlite sink ${table} is not started`);
    return db;
  };
  const loadColumns = (d: Database.Database) => {
    const info = d.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[];
    columns = new Map(info.map((n) => [n.toLowerCase(), n]));
  };

  function insertFor(d: Database.Database, cols: string[]): Database.Statement {
    const key = cols.join('\0');
    let stmt = inserts.get(key);
    if (!stmt) {
      const names = ['event_id', 'record_index', ...cols].map(quoteIdent).join(', ');
      const params = ['?', '?', ...cols.map(() => '?')].join(', ');
      stmt = d.prepare(`INSERT INTO ${t} (${names}) VALUES (${params}) ON CONFLICT (event_id, record_index) DO NOTHING`);
      inserts.set(key, stmt);
    }
    return stmt;
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
      writeTx = d.transaction((eventId: string, records: SinkRecord[]) => {
        records.forEach((record, index) => {
          const keys = recordColumns(record, index);
          const cols: string[] = [];
          for (const k of keys) {
            let col = columns.get(k.toLowerCase());
            if (col === undefined) {
              loadColumns(d); // another process may have added it meanwhile
              col = columns.get(k.toLowerCase());
              if (col === undefined) {
                d.exec(`ALTER TABLE ${t} ADD COLUMN ${quoteIdent(k)}`);
                columns.set(k.toLowerCase(), (col = k));
                inserts.clear();
              }
            }
            cols.push(col);
          }
          insertFor(d, cols).run(eventId, index, ...keys.map((k) => toSqlValue(record[k])));
        });
      }).immediate as unknown as (eventId: string, records: SinkRecord[]) => void;
      db = d;
    },
    async write(eventId, records) {
      need();
      writeTx!(eventId, records);
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
      db?.close();
      db = null;
      inserts.clear();
    },
  };
  return sink;
}
