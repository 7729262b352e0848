/** Rules both SQL sinks share: which names may become tables and columns, and how values are stored. */
import { z } from 'zod';
import { RecordError } from '../core/errors.js';
import type { RowsQuery, SinkRecord } from '../core/sink.js';

/** Columns every sink table has besides the record's keys. */
export const reservedColumns = ['event_id', 'record_index', 'created_at'] as const;

const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** PostgreSQL truncates longer names silently (NAMEDATALEN 64), which would merge two columns. */
const maxIdentifierLength = 63;

/** A sink's `table:` field: validation refuses what checkIdentifier would refuse when the sink opens. */
export const tableField = z
  .string()
  .min(1)
  .superRefine((name, ctx) => {
    try {
      checkIdentifier(name, 'sink table');
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

/** Throws unless `name` is a plain SQL identifier; names are still quoted when used. */
export function checkIdentifier(name: string, what: string): string {
  if (typeof name !== 'string' || !identifier.test(name) || name.length > maxIdentifierLength) {
    throw new Error(
      `${what} ${JSON.stringify(name)} is not a safe SQL identifier: use letters, digits and _ (not starting with a digit), at most ${maxIdentifierLength} characters`,
    );
  }
  return name;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The default table for a component: its name with every non-identifier character replaced by _. */
export function defaultTableName(component: string): string {
  let t = component.replace(/[^A-Za-z0-9_]/g, '_');
  if (!/^[A-Za-z_]/.test(t)) t = `_${t}`;
  return t.slice(0, maxIdentifierLength);
}

/** Validates one record's keys (the record index is for the error message). */
export function recordColumns(record: unknown, index: number): string[] {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) {
    throw new RecordError(`record ${index} is not a JSON object: each output line must be an object whose keys become columns`);
  }
  const keys = Object.keys(record);
  for (const k of keys) {
    try {
      checkIdentifier(k, `record ${index} key`);
    } catch (err) {
      throw new RecordError((err as Error).message);
    }
    if ((reservedColumns as readonly string[]).includes(k.toLowerCase())) {
      throw new RecordError(`record ${index} key ${JSON.stringify(k)} is reserved: the sink fills ${reservedColumns.join(', ')} itself`);
    }
  }
  return keys;
}

/**
 * Every key of every record of one event, validated, in first-seen order. Both SQL sinks call it
 * before writing anything, so a bad key or a column past the cap fails the whole event up front.
 */
export function eventColumns(records: SinkRecord[]): string[] {
  const seen = new Set<string>();
  const cols: string[] = [];
  records.forEach((r, i) => {
    if (r === null || typeof r !== 'object' || Array.isArray(r)) recordColumns(r, i); // throws, naming the record
    for (const k in r) {
      if (seen.has(k)) continue; // each distinct key is validated once, not once per record
      recordColumns({ [k]: null }, i);
      seen.add(k);
      cols.push(k);
    }
  });
  return cols;
}

/**
 * Columns a sink table may grow to (record keys; the three reserved columns not counted). Every
 * new key is a column for good, so one record with thousands of keys would widen the table for
 * every later read; 200 is far above any row a handler means to write and below SQLite's 2000 and
 * PostgreSQL's 1600 (decision 134).
 */
export const defaultMaxColumns = 200;

/** Throws a RecordError when adding `added` to a table of `existing` record columns passes `max`. */
export function checkColumnBudget(table: string, existing: number, added: string[], max: number): void {
  if (added.length === 0 || existing + added.length <= max) return;
  const shown = added.slice(0, 5).join(', ') + (added.length > 5 ? `, … (${added.length} in all)` : '');
  throw new RecordError(
    `table ${table} would grow to ${existing + added.length} columns, above its cap of ${max} (sink.maxColumns): the event's records add ${shown}; nothing was written`,
  );
}

/** Records committed per transaction; the sink yields to the event loop between two (decision 130). */
export const writeSlice = 1_000;

export const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export type ColumnKind = 'text' | 'integer' | 'number' | 'boolean' | 'json';

export function kindOf(v: unknown): ColumnKind {
  if (typeof v === 'bigint' || (typeof v === 'number' && Number.isSafeInteger(v))) return 'integer';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'boolean';
  if (v !== null && typeof v === 'object') return 'json';
  return 'text';
}

/** The page rows() reads: at most 10 000 rows, whole non-negative numbers. */
export function page(q: RowsQuery): { limit: number; offset: number } {
  return { limit: Math.max(0, Math.min(10_000, Math.floor(q.limit))), offset: Math.max(0, Math.floor(q.offset)) };
}
