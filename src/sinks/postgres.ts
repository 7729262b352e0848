import pg from 'pg';
import { z } from 'zod';
import type { RowsQuery, Sink, SinkPlugin, SinkRecord } from '../core/sink.js';
import { parseOrThrow } from '../core/validation.js';
import { checkColumnBudget, checkIdentifier, tableField, defaultMaxColumns, defaultTableName, eventColumns, kindOf, page, quoteIdent, writeSlice, type ColumnKind } from './table.js';

/**
 * PostgreSQL sink (pg Pool). Same contract as the sqlite sink: INSERT ... ON CONFLICT (event_id,
 * record_index) DO NOTHING, columns added on first sight. The records of one event go in one
 * transaction of multi-row INSERTs of at most `writeSlice` rows (a statement takes at most 65535
 * parameters); the driver is asynchronous, so the event loop is free while PostgreSQL works.
 * A new column's type comes from the first value seen for it (text, bigint for whole numbers,
 * double precision, boolean, jsonb); a bigint column that meets a fraction is widened to double
 * precision. Columns are added before the transaction with ADD COLUMN IF NOT EXISTS so that two
 * writers never deadlock upgrading their locks inside one.
 */

export const config = z.strictObject({
  type: z.literal('postgres'),
  connectionString: z.string().min(1),
  table: tableField.optional(),
  /** Record columns the table may have (PostgreSQL's own cap is 1600 columns, 3 of them ours). */
  maxColumns: z.number().int().min(1).max(1597).optional(),
});
export type PostgresSinkConfig = z.infer<typeof config>;

export interface PostgresSink extends Sink {
  readonly table: string;
  rows(q: RowsQuery): Promise<{ total: number; rows: SinkRecord[] }>;
  count(): Promise<number>;
}

const pgType: Record<ColumnKind, string> = { text: 'text', integer: 'bigint', number: 'double precision', boolean: 'boolean', json: 'jsonb' };

/** bigint comes back as a JS number when it fits (pg returns every int8 as a string by default). */
const int8 = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === int8
      ? (v: string) => {
          const n = Number(v);
          return Number.isSafeInteger(n) ? n : v;
        }
      : (pg.types.getTypeParser as (oid: number, format?: 'text' | 'binary') => unknown)(oid, format)) as typeof pg.types.getTypeParser,
};

function toPgValue(v: unknown): unknown {
  if (v === undefined) return null;
  // JSON text explicitly: pg would turn a JS array into a PostgreSQL array literal.
  if (kindOf(v) === 'json') return JSON.stringify(v);
  if (typeof v === 'bigint') return v.toString();
  return v;
}

export function create(cfg: PostgresSinkConfig, opts: { dataDir: string; component: string }): PostgresSink {
  const c = parseOrThrow(config, cfg, 'postgres sink');
  const table = checkIdentifier(c.table ?? defaultTableName(opts.component), 'sink table');
  const t = quoteIdent(table);
  const maxColumns = c.maxColumns ?? defaultMaxColumns;
  let pool: pg.Pool | null = null;
  /** column name -> data_type as information_schema reports it. */
  let columns = new Map<string, string>();

  const need = () => {
    if (!pool) throw new Error(`postgres sink ${table} is not started`);
    return pool;
  };
  const fail = (err: unknown): never => {
    throw new Error(`postgres sink ${table}: ${(err as Error).message}`);
  };
  async function loadColumns(p: pg.Pool): Promise<void> {
    const r = await p.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`,
      [table],
    );
    columns = new Map(r.rows.map((row) => [row.column_name, row.data_type]));
  }

  const sink: PostgresSink = {
    type: 'postgres',
    table,
    async start() {
      if (pool) return;
      const p = new pg.Pool({ connectionString: c.connectionString, max: 8, types });
      p.on('error', () => {}); // an idle client's lost connection: the next query reconnects
      try {
        await p.query(`CREATE TABLE IF NOT EXISTS ${t} (
          event_id text NOT NULL,
          record_index integer NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (event_id, record_index)
        )`);
      } catch (err) {
        // Two processes creating the same table at once: the loser sees a duplicate type/relation.
        const code = (err as { code?: string }).code;
        if (code !== '23505' && code !== '42P07') {
          await p.end();
          fail(err);
        }
      }
      await loadColumns(p);
      pool = p;
    },
    async write(eventId, records) {
      const p = need();
      if (records.length === 0) return;
      const cols = eventColumns(records);
      if (cols.some((k) => !columns.has(k))) await loadColumns(p).catch(fail); // another writer may have added them
      const added = cols.filter((k) => !columns.has(k));
      checkColumnBudget(table, columns.size - 3, added, maxColumns);
      for (const k of added) {
        const first = records.find((r) => r[k] !== undefined && r[k] !== null)?.[k];
        const type = pgType[kindOf(first ?? '')];
        try {
          await p.query(`ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS ${quoteIdent(k)} ${type}`);
          columns.set(k, type);
        } catch (err) {
          fail(err);
        }
      }
      // A whole-number column that now meets a fraction becomes double precision (bigint -> float8 is lossless here: JSON numbers are doubles).
      for (const k of cols) {
        if (columns.get(k) !== 'bigint') continue;
        if (!records.some((r) => kindOf(r[k]) === 'number')) continue;
        try {
          await p.query(`ALTER TABLE ${t} ALTER COLUMN ${quoteIdent(k)} TYPE double precision`);
          columns.set(k, 'double precision');
        } catch (err) {
          fail(err);
        }
      }
      const names = ['event_id', 'record_index', ...cols].map(quoteIdent).join(', ');
      const perStatement = Math.max(1, Math.min(writeSlice, Math.floor(60_000 / (cols.length + 2))));
      const client = await p.connect().catch(fail);
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        for (let from = 0; from < records.length; from += perStatement) {
          const values: unknown[] = [];
          const tuples: string[] = [];
          for (let i = from; i < Math.min(records.length, from + perStatement); i++) {
            const r = records[i]!;
            const row = [eventId, i, ...cols.map((k) => toPgValue(r[k]))];
            const start = values.length;
            values.push(...row);
            tuples.push(`(${row.map((_, j) => `$${start + j + 1}`).join(', ')})`);
          }
          await client.query(`INSERT INTO ${t} (${names}) VALUES ${tuples.join(', ')} ON CONFLICT (event_id, record_index) DO NOTHING`, values);
        }
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch((e: Error) => (broken = e)); // a dead connection leaves the pool
        if ((err as { code?: string }).code === '42703') await loadColumns(p).catch(() => undefined); // column dropped meanwhile
        fail(err);
      } finally {
        client.release(broken);
      }
    },
    async rows(q) {
      const p = need();
      await loadColumns(p);
      const { limit, offset } = page(q);
      const params: unknown[] = [];
      let where = '';
      if (q.filter) {
        const textCols = [...columns].filter(([, type]) => type === 'text' || type === 'jsonb' || type === 'character varying').map(([n]) => n);
        params.push(q.filter);
        where = `WHERE ${textCols.map((n) => `strpos(${quoteIdent(n)}::text, $1) > 0`).join(' OR ') || 'false'}`;
      }
      const total = Number((await p.query(`SELECT count(*) AS n FROM ${t} ${where}`, params)).rows[0].n);
      const rows = await p.query(
        `SELECT * FROM ${t} ${where} ORDER BY created_at DESC, event_id, record_index LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
        [...params, limit, offset],
      );
      return { total, rows: rows.rows as SinkRecord[] };
    },
    async count() {
      const r = await need().query(`SELECT count(*) AS n FROM ${t}`);
      return Number(r.rows[0].n);
    },
    async close() {
      const p = pool;
      pool = null;
      await p?.end();
    },
  };
  return sink;
}

export const plugin: SinkPlugin<PostgresSinkConfig> = { type: 'postgres', config, create };
