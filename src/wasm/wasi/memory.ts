/**
 * The guest's linear memory as the WASI calls see it. Every pointer is checked here, and calls check
 * their output pointers before doing anything, so an out-of-bounds pointer is EFAULT with no side effect.
 */
import { E, Errno } from './errno.js';

const empty = new Uint8Array(0);
const emptyView = new DataView(new ArrayBuffer(0));
const decoder = new TextDecoder('utf-8', { fatal: true });

export class GuestMemory {
  private memory: WebAssembly.Memory | null = null;
  private buf: ArrayBuffer | null = null;
  dv: DataView = emptyView;
  u8: Uint8Array = empty;

  bind(m: WebAssembly.Memory): void {
    this.memory = m;
  }

  /** Current views; memory.grow detaches the old buffer, so call this at the start of each call. */
  view(): DataView {
    if (!this.memory) throw new Errno(E.FAULT); // called from a start function before bind(): no memory yet
    const b = this.memory.buffer as ArrayBuffer;
    if (b !== this.buf) {
      this.buf = b;
      this.dv = new DataView(b);
      this.u8 = new Uint8Array(b);
    }
    return this.dv;
  }

  /** Throws EFAULT unless [ptr, ptr+len) lies in memory. */
  check(ptr: number, len: number): void {
    this.view();
    if (ptr < 0 || len < 0 || ptr + len > this.u8.length) throw new Errno(E.FAULT);
  }

  bytes(ptr: number, len: number): Uint8Array {
    this.check(ptr, len);
    return this.u8.subarray(ptr, ptr + len);
  }

  str(ptr: number, len: number): string {
    const b = this.bytes(ptr, len);
    try {
      return decoder.decode(b);
    } catch {
      throw new Errno(E.ILSEQ); // not UTF-8
    }
  }

  /** [ptr, len] pairs of an iovec array, each checked. */
  iovs(ptr: number, n: number): [number, number][] {
    this.check(ptr, n * 8);
    const v = this.dv;
    const list: [number, number][] = [];
    for (let i = 0; i < n; i++) {
      const p = v.getUint32(ptr + i * 8, true);
      const l = v.getUint32(ptr + i * 8 + 4, true);
      if (p + l > this.u8.length) throw new Errno(E.FAULT);
      list.push([p, l]);
    }
    return list;
  }
}
