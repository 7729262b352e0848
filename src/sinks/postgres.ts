import pg from 'pg';
import { z } from 'zod';
import type { RowsQuery, Sink, SinkRecord } from '../core/sink.js';
import { checkIdentifier, defaultTableName, kindOf, page, quoteIdent, recordColumns, type ColumnKind } from './table.js';

/**
 * PostgreSQL sink (pg Pool). Same contract as the sqlite sink: one transaction per event,
 * INSERT ... ON CONFLICT (event_id, record_index) DO NOTHING, columns added on first sight.
 * A new column's type comes from the first value seen for it (text, double precision, boolean,
 * jsonb); the column is added before the transaction with ADD COLUMN IF NOT EXISTS so that two
 * writers never deadlock upgrading their locks inside one.
 */

export const config = z.strictObject({
  type: z.literal('postgres'),
  connectionString: z.string().min(1),
  table: z.string().min(1).optional(),
});
export type PostgresSinkConfig = z.infer<typeof config>;

export interface PostgresSink extends Sink {
  readonly table: string;
  rows(q: RowsQuery): Promise<{ total: number; rows: SinkRecord[] }>;
  count(): Promise<number>;
}

const pgType: Record<ColumnKind, string> = { text: 'text', number: 'double precision', boolean: 'boolean', json: 'jsonb' };

function toPgValue(v: unknown): unknown {
  if (v === undefined) return null;
  // JSON text explicitly: pg would turn a JS array into a PostgreSQL array literal.
  if (kindOf(v) === 'json') return JSON.stringify(v);
  if (typeof v === 'bigint') return v.toString();
  return v;
}

export function create(cfg: PostgresSinkConfig, opts: { dataDir: string; component: string }): PostgresSink {
  const c = config.parse(cfg);
  const table = checkIdentifier(c.table ?? defaultTableName(opts.component), 'sink table');
  const t = quoteIdent(table);
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
      const p = new pg.Pool({ connectionString: c.connectionString, max: 8 });
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
      const cols: string[] = [];
      const seen = new Set<string>();
      records.forEach((r, i) => {
        for (const k of recordColumns(r, i)) {
          if (!seen.has(k)) seen.add(k), cols.push(k);
          if (!columns.has(k)) columns.set(k, ''); // mark; typed below from the first value
        }
      });
      for (const k of cols) {
        if (columns.get(k) !== '') continue;
        const first = records.find((r) => r[k] !== undefined && r[k] !== null)?.[k];
        const type = pgType[kindOf(first ?? '')];
        try {
          await p.query(`ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS ${quoteIdent(k)} ${type}`);
          columns.set(k, type);
        } catch (err) {
          columns.delete(k);
          fail(err);
        }
      }
      const names = ['event_id', 'record_index', ...cols].map(quoteIdent).join(', ');
      const values: unknown[] = [];
      const tuples = records.map((r, i) => {
        const row = [eventId, i, ...cols.map((k) => toPgValue(r[k]))];
        const start = values.length;
        values.push(...row);
        return `(${row.map((_, j) => `$${start + j + 1}`).join(', ')})`;
      });
      // One statement is one transaction: every record of the event or none.
      try {
        await p.query(`INSERT INTO ${t} (${names}) VALUES ${tuples.join(', ')} ON CONFLICT (event_id, record_index) DO NOTHING`, values);
      } catch (err) {
        if ((err as { code?: string }).code === '42703') await loadColumns(p); // column dropped meanwhile
        fail(err);
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
