/** Clocks (realtime from a monotonic base, so it never jumps inside a run), random, sched_yield. */
import { randomFillSync } from 'node:crypto';
import type { Call } from './context.js';
import { E, Errno } from './errno.js';

const hrBase = process.hrtime.bigint();
const epochBaseNs = BigInt(Date.now()) * 1_000_000n;

export function now(id: number): bigint {
  switch (id) {
    case 0: return epochBaseNs + (process.hrtime.bigint() - hrBase);
    case 1: case 2: case 3: return process.hrtime.bigint();
    default: throw new Errno(E.INVAL);
  }
}

export const clockRandomCalls: Record<string, Call> = {
  clock_res_get(ctx, id: number, resPtr: number) {
    now(id);
    ctx.mem.check(resPtr >>> 0, 8);
    ctx.mem.dv.setBigUint64(resPtr >>> 0, id === 0 ? 1000n : 1n, true);
    return 0;
  },
  clock_time_get(ctx, id: number, _precision: bigint, timePtr: number) {
    const t = now(id);
    ctx.mem.check(timePtr >>> 0, 8);
    ctx.mem.dv.setBigUint64(timePtr >>> 0, t, true);
    return 0;
  },
  random_get(ctx, ptr: number, len: number) {
    randomFillSync(ctx.mem.bytes(ptr >>> 0, len >>> 0));
    return 0;
  },
  sched_yield() { return 0; },
};
