import type { SinkRecord } from '../core/sink.js';
import { defaultMaxRecords } from '../wasm/limits.js';

export type ParsedRecords =
  | { ok: true; records: SinkRecord[] }
  | { ok: false; kind: 'output' | 'record-limit'; message: string };

/** Lines parsed between two yields to the event loop. */
const parseSlice = 2_000;

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The guest's stdout as sink records: one JSON object per line (NDJSON). Blank lines are skipped;
 * anything else is an error that names the line, because silently dropping it would lose output.
 * More than `maxRecords` records is a `record-limit` failure: parsing stops at the first record past
 * the limit, so a guest printing millions of `{}` lines costs no more than the limit. The parse
 * yields to the event loop every few thousand records so the API keeps answering meanwhile.
 */
export async function parseRecords(stdout: Uint8Array, maxRecords = defaultMaxRecords): Promise<ParsedRecords> {
  const text = Buffer.from(stdout.buffer, stdout.byteOffset, stdout.byteLength).toString('utf8');
  const records: SinkRecord[] = [];
  let lineNo = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    lineNo++;
    if (lineNo % parseSlice === 0) await yieldToLoop();
    const trimmed = line.trim();
    if (!trimmed) continue;
    if (records.length >= maxRecords) {
      return { ok: false, kind: 'record-limit', message: `guest wrote more than ${maxRecords} records for one event (the record limit, limits.maxRecords); nothing was written` };
    }
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch {
      return { ok: false, kind: 'output', message: `guest output line ${lineNo} is not JSON: ${preview(trimmed)}` };
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return { ok: false, kind: 'output', message: `guest output line ${lineNo} is not a JSON object: ${preview(trimmed)}` };
    }
    records.push(value as SinkRecord);
  }
  return { ok: true, records };
}

function preview(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}

/** The last `max` bytes of stderr as text, for dead letters and logs. */
export function tail(bytes: Uint8Array, max = 2048): string {
  const start = Math.max(0, bytes.byteLength - max);
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, bytes.byteLength - start).toString('utf8');
}
