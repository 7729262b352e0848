/** args_* and environ_*: NUL-terminated strings laid out as the guest's libc expects. */
import type { Call, Ctx } from './context.js';

const encoder = new TextEncoder();

export function encodeZ(items: string[]): Uint8Array[] {
  return items.map((s) => {
    const b = encoder.encode(s);
    const z = new Uint8Array(b.length + 1);
    z.set(b);
    return z;
  });
}

function putSizes(ctx: Ctx, items: Uint8Array[], countPtr: number, sizePtr: number): number {
  ctx.mem.check(countPtr, 4);
  ctx.mem.check(sizePtr, 4);
  const v = ctx.mem.dv;
  v.setUint32(countPtr, items.length, true);
  v.setUint32(sizePtr, items.reduce((n, a) => n + a.length, 0), true);
  return 0;
}

function putStrings(ctx: Ctx, items: Uint8Array[], ptrs: number, bufPtr: number): number {
  ctx.mem.check(ptrs, items.length * 4);
  ctx.mem.check(bufPtr, items.reduce((n, a) => n + a.length, 0));
  const v = ctx.mem.dv;
  let o = bufPtr;
  for (let i = 0; i < items.length; i++) {
    v.setUint32(ptrs + i * 4, o, true);
    ctx.mem.u8.set(items[i]!, o);
    o += items[i]!.length;
  }
  return 0;
}

export const argsEnvCalls: Record<string, Call> = {
  args_sizes_get: (ctx, countPtr: number, sizePtr: number) => putSizes(ctx, ctx.argv, countPtr >>> 0, sizePtr >>> 0),
  args_get: (ctx, ptrs: number, bufPtr: number) => putStrings(ctx, ctx.argv, ptrs >>> 0, bufPtr >>> 0),
  environ_sizes_get: (ctx, countPtr: number, sizePtr: number) => putSizes(ctx, ctx.envv, countPtr >>> 0, sizePtr >>> 0),
  environ_get: (ctx, ptrs: number, bufPtr: number) => putStrings(ctx, ctx.envv, ptrs >>> 0, bufPtr >>> 0),
};
