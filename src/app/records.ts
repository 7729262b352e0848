import type { SinkRecord } from '../core/sink.js';

export type ParsedRecords = { ok: true; records: SinkRecord[] } | { ok: false; message: string };

/**
 * The guest's stdout as sink records: one JSON object per line (NDJSON). Blank lines are skipped;
 * anything else is an error that names the line, because silently dropping it would lose output.
 */
export function parseRecords(stdout: Uint8Array): ParsedRecords {
  const text = Buffer.from(stdout.buffer, stdout.byteOffset, stdout.byteLength).toString('utf8');
  const records: SinkRecord[] = [];
  let lineNo = 0;
  for (const line of text.split('\n')) {
    lineNo++;
    const trimmed = line.trim();
    if (!trimmed) continue;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch {
      return { ok: false, message: `guest output line ${lineNo} is not JSON: ${preview(trimmed)}` };
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return { ok: false, message: `guest output line ${lineNo} is not a JSON object: ${preview(trimmed)}` };
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
