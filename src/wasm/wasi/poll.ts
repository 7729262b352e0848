/**
 * poll_oneoff: fd subscriptions are always ready (stdin is a buffer, files never block); clock
 * subscriptions sleep the thread, in slices so a watchdog's thread termination is honoured promptly.
 */
import type { Call } from './context.js';
import { E } from './errno.js';
import { now } from './clock-random.js';

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

export const pollCalls: Record<string, Call> = {
  poll_oneoff(ctx, inPtr: number, outPtr: number, nsubs: number, neventsPtr: number) {
    inPtr >>>= 0; outPtr >>>= 0; nsubs >>>= 0; neventsPtr >>>= 0;
    if (nsubs === 0) return E.INVAL;
    const mem = ctx.mem;
    mem.check(inPtr, nsubs * 48);
    mem.check(outPtr, nsubs * 32);
    mem.check(neventsPtr, 4);
    const v = mem.dv;
    const ready: { userdata: bigint; error: number; type: number; nbytes: bigint }[] = [];
    let minWait: bigint | null = null;
    const clocks: { userdata: bigint; deadline: bigint }[] = [];
    for (let i = 0; i < nsubs; i++) {
      const s = inPtr + i * 48;
      const userdata = v.getBigUint64(s, true);
      const tag = v.getUint8(s + 8);
      if (tag === 0) {
        const id = v.getUint32(s + 16, true);
        const timeout = v.getBigUint64(s + 24, true);
        const abs = (v.getUint16(s + 40, true) & 1) !== 0;
        let t: bigint;
        try { t = now(id); } catch { ready.push({ userdata, error: E.INVAL, type: 0, nbytes: 0n }); continue; }
        const wait = abs ? timeout - t : timeout;
        clocks.push({ userdata, deadline: process.hrtime.bigint() + (wait > 0n ? wait : 0n) });
        if (minWait === null || wait < minWait) minWait = wait;
      } else if (tag === 1 || tag === 2) {
        const f = ctx.fds.peek(v.getUint32(s + 16, true));
        if (!f) ready.push({ userdata, error: E.BADF, type: tag, nbytes: 0n });
        else {
          const nbytes = tag === 1 && f.kind === 'stdin' ? BigInt(ctx.stdin.length - ctx.stdinPos) : 0n;
          ready.push({ userdata, error: 0, type: tag, nbytes });
        }
      } else ready.push({ userdata, error: E.INVAL, type: tag, nbytes: 0n });
    }
    if (ready.length === 0 && minWait !== null && minWait > 0n) {
      const until = process.hrtime.bigint() + minWait;
      for (let left = minWait; left > 0n; left = until - process.hrtime.bigint()) {
        Atomics.wait(sleepCell, 0, 0, Math.min(50, Math.max(1, Number(left / 1_000_000n))));
      }
    }
    if (ready.length === 0) {
      const t = process.hrtime.bigint();
      for (const c of clocks) if (c.deadline <= t) ready.push({ userdata: c.userdata, error: 0, type: 0, nbytes: 0n });
    }
    const u8 = mem.u8;
    for (let i = 0; i < ready.length; i++) {
      const e = ready[i]!;
      const o = outPtr + i * 32;
      u8.fill(0, o, o + 32);
      v.setBigUint64(o, e.userdata, true);
      v.setUint16(o + 8, e.error, true);
      v.setUint8(o + 10, e.type);
      v.setBigUint64(o + 16, e.nbytes, true);
    }
    v.setUint32(neventsPtr, ready.length, true);
    return 0;
  },
};
