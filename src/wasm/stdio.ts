/**
 * Live stdio for a wasi-command run (`featherweight run`): the guest's writes to stdout/stderr go out as
 * they happen and stdin is read when the guest asks, as under wasmtime, instead of the captured
 * buffers an event handler gets. Done by wrapping the WASI imports, so the WASI shim itself needs no
 * mode; the wrapper follows fd_close/fd_renumber so that only the fds that still are stdio are routed.
 */
import { OutputLimitExceeded } from './wasi/index.js';

export interface Stdio {
  /** Each write to stdout or stderr, in order, as the guest makes it. */
  write(stream: 'stdout' | 'stderr', bytes: Uint8Array): void;
  /** Fills buf from stdin and returns the bytes read (0 at end of input). Absent: stdin stays the run's buffer. */
  read?(buf: Uint8Array): number;
}

type Stream = 'stdin' | 'stdout' | 'stderr';
type Fn = (...args: number[]) => number;

// wasi_snapshot_preview1 errno values (fixed by the spec).
const ERRNO_FAULT = 21;
const ERRNO_IO = 29;

/**
 * The imports with fd_write/fd_read on stdio routed to `stdio`. `memory()` gives the instance's memory
 * once it exists; `maxBytes` caps stdout and stderr each, as the captured buffers are capped.
 */
export function withStdio(
  imports: Record<string, Function>,
  memory: () => WebAssembly.Memory | null,
  stdio: Stdio,
  maxBytes: number,
): Record<string, Function> {
  const streams = new Map<number, Stream>([[0, 'stdin'], [1, 'stdout'], [2, 'stderr']]);
  const written = { stdout: 0, stderr: 0 };
  const orig = imports as Record<string, Fn>;

  /** The (pointer, length) pairs of an iovec array, or null when one falls outside memory. */
  function iovecs(ptr: number, n: number): { view: Uint8Array; list: Array<[number, number]> } | null {
    const m = memory();
    if (!m) return null;
    const view = new Uint8Array(m.buffer);
    const dv = new DataView(m.buffer);
    if (ptr + n * 8 > view.length) return null;
    const list: Array<[number, number]> = [];
    for (let i = 0; i < n; i++) {
      const p = dv.getUint32(ptr + i * 8, true);
      const l = dv.getUint32(ptr + i * 8 + 4, true);
      if (p + l > view.length) return null;
      list.push([p, l]);
    }
    return { view, list };
  }

  function setU32(ptr: number, value: number): boolean {
    const m = memory();
    if (!m || ptr + 4 > m.buffer.byteLength) return false;
    new DataView(m.buffer).setUint32(ptr, value, true);
    return true;
  }

  return {
    ...imports,
    fd_write(fd: number, iovsPtr: number, n: number, nwrittenPtr: number): number {
      const stream = streams.get(fd);
      if (stream !== 'stdout' && stream !== 'stderr') return orig.fd_write!(fd, iovsPtr, n, nwrittenPtr);
      const io = iovecs(iovsPtr >>> 0, n >>> 0);
      if (!io || !setU32(nwrittenPtr >>> 0, 0)) return ERRNO_FAULT;
      let total = 0;
      for (const [p, l] of io.list) {
        if (l === 0) continue;
        const room = maxBytes - written[stream];
        if (l > room) {
          if (room > 0) stdio.write(stream, io.view.slice(p, p + room));
          written[stream] = maxBytes;
          throw new OutputLimitExceeded(stream, maxBytes);
        }
        // A copy: the guest may reuse its buffer before a consumer on another thread reads this one.
        stdio.write(stream, io.view.slice(p, p + l));
        written[stream] += l;
        total += l;
      }
      setU32(nwrittenPtr >>> 0, total);
      return 0;
    },
    fd_read(fd: number, iovsPtr: number, n: number, nreadPtr: number): number {
      if (streams.get(fd) !== 'stdin' || !stdio.read) return orig.fd_read!(fd, iovsPtr, n, nreadPtr);
      const io = iovecs(iovsPtr >>> 0, n >>> 0);
      if (!io || !setU32(nreadPtr >>> 0, 0)) return ERRNO_FAULT;
      let total = 0;
      try {
        // Like read(2): return what one read gives rather than block for every buffer to fill.
        for (const [p, l] of io.list) {
          if (l === 0) continue;
          const got = stdio.read(io.view.subarray(p, p + l));
          total += got;
          if (got < l) break;
        }
      } catch {
        return ERRNO_IO;
      }
      setU32(nreadPtr >>> 0, total);
      return 0;
    },
    fd_close(fd: number): number {
      const r = orig.fd_close!(fd);
      if (r === 0) streams.delete(fd);
      return r;
    },
    fd_renumber(from: number, to: number): number {
      const r = orig.fd_renumber!(from, to);
      if (r === 0) {
        const s = streams.get(from);
        streams.delete(from);
        if (s) streams.set(to, s);
        else streams.delete(to);
      }
      return r;
    },
  };
}
