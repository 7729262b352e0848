/** stdin from a buffer, stdout/stderr into capped buffers (the CGI/WAGI model of wasi-command). */
import type { Ctx } from './context.js';

/** Thrown by fd_write when a stream passes its cap. */
export class OutputLimitExceeded {
  constructor(readonly stream: 'stdout' | 'stderr', readonly limit: number) {}
}

/** Thrown by fd_write when stdout's completed records (non-blank lines) pass the record cap. */
export class RecordLimitExceeded {
  constructor(readonly limit: number) {}
}

/**
 * Counts stdout's completed non-blank lines (NDJSON records) as they are written, so a guest
 * printing millions of `{}` lines is stopped at the record limit instead of after its whole output
 * (decision 234). A line of ASCII whitespace only is blank, as the record parser skips it.
 */
function countRecords(ctx: Ctx, data: Uint8Array): void {
  let content = ctx.lineHasContent;
  let records = ctx.records;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (b === 10) {
      if (content) records++;
      content = false;
    } else if (!content && b !== 32 && b !== 9 && b !== 13 && b !== 11 && b !== 12) {
      content = true;
    }
  }
  ctx.lineHasContent = content;
  ctx.records = records;
  if (records > ctx.maxRecords) throw new RecordLimitExceeded(ctx.maxRecords);
}

export function emit(ctx: Ctx, stream: 'stdout' | 'stderr', data: Uint8Array): void {
  if (stream === 'stdout' && ctx.maxRecords !== Infinity) countRecords(ctx, data);
  const max = ctx.maxOut[stream];
  if (ctx.outLen[stream] + data.length > max) {
    const room = max - ctx.outLen[stream];
    if (room > 0) {
      const kept = data.slice(0, room);
      ctx.out[stream].push(kept);
      ctx.onOutput?.(stream, kept);
    }
    ctx.outLen[stream] = max;
    throw new OutputLimitExceeded(stream, max);
  }
  ctx.out[stream].push(data.slice());
  ctx.outLen[stream] += data.length;
  ctx.onOutput?.(stream, data);
}

export function readStdin(ctx: Ctx, list: [number, number][]): number {
  const u8 = ctx.mem.u8;
  let total = 0;
  for (const [p, l] of list) {
    const n = Math.min(l, ctx.stdin.length - ctx.stdinPos);
    if (n <= 0) break;
    u8.set(ctx.stdin.subarray(ctx.stdinPos, ctx.stdinPos + n), p);
    ctx.stdinPos += n;
    total += n;
  }
  return total;
}

export function writeStdio(ctx: Ctx, stream: 'stdout' | 'stderr', list: [number, number][]): number {
  const u8 = ctx.mem.u8;
  let total = 0;
  for (const [p, l] of list) {
    if (l === 0) continue;
    emit(ctx, stream, u8.subarray(p, p + l));
    total += l;
  }
  return total;
}

export function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  return out;
}
