/** Rules both SQL sinks share: which names may become tables and columns, and how values are stored. */
import type { RowsQuery } from '../core/sink.js';

/** Columns every sink table has besides the record's keys. */
export const reservedColumns = ['event_id', 'record_index', 'created_at'] as const;

const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** PostgreSQL truncates longer names silently (NAMEDATALEN 64), which would merge two columns. */
const maxIdentifierLength = 63;

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
    throw new Error(`record ${index} is not a JSON object: each output line must be an object whose keys become columns`);
  }
  const keys = Object.keys(record);
  for (const k of keys) {
    checkIdentifier(k, `record ${index} key`);
    if ((reservedColumns as readonly string[]).includes(k.toLowerCase())) {
      throw new Error(`record ${index} key ${JSON.stringify(k)} is reserved: the sink fills ${reservedColumns.join(', ')} itself`);
    }
  }
  return keys;
}

export type ColumnKind = 'text' | 'number' | 'boolean' | 'json';

export function kindOf(v: unknown): ColumnKind {
  if (typeof v === 'number' || typeof v === 'bigint') return 'number';
  if (typeof v === 'boolean') return 'boolean';
  if (v !== null && typeof v === 'object') return 'json';
  return 'text';
}

/** The page rows() reads: at most 10 000 rows, whole non-negative numbers. */
export function page(q: RowsQuery): { limit: number; offset: number } {
  return { limit: Math.max(0, Math.min(10_000, Math.floor(q.limit))), offset: Math.max(0, Math.floor(q.offset)) };
}
