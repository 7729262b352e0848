/**
 * wasi:io 0.2 (error, streams, poll) over in-memory stdio and host files. Everything is synchronous: a
 * guest runs to completion on a worker thread, so a "blocking" call either has its data now or sleeps
 * (only timers ever make a pollable wait).
 */
import { OutputLimitExceeded } from '../../wasi/index.js';

export type HostFn = (...args: any[]) => unknown;
export type HostFuncs = Record<string, HostFn>;

/** A wasi:io/error resource. */
export interface IoError { message: string; fsCode?: string }

/** Thrown by a stream operation to return stream-error.last-operation-failed. */
export class StreamFailed {
  constructor(readonly error: IoError) {}
}

export interface InputStream {
  /** Up to n bytes; null at end of stream. */
  read(n: number): Uint8Array | null;
  drop?(): void;
}

export interface OutputStream {
  write(bytes: Uint8Array): void;
  drop?(): void;
}

export interface Pollable { ready(): boolean; /** monotonic ns when it becomes ready (timers) */ deadline?: bigint }

export const readyPollable: Pollable = { ready: () => true };

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Sleeps until the monotonic clock reaches `deadline`, in slices so a thread termination is honoured promptly. */
export function sleepUntil(deadline: bigint): void {
  for (let left = deadline - process.hrtime.bigint(); left > 0n; left = deadline - process.hrtime.bigint()) {
    Atomics.wait(sleepCell, 0, 0, Math.min(50, Math.max(1, Number(left / 1_000_000n))));
  }
}

/** stdout/stderr capture with the output limit, as the preview1 shim does. */
export function captureStream(
  stream: 'stdout' | 'stderr',
  max: number,
  onOutput?: (stream: 'stdout' | 'stderr', bytes: Uint8Array) => void,
): OutputStream & { bytes(): Uint8Array } {
  const chunks: Uint8Array[] = [];
  let len = 0;
  return {
    write(data) {
      if (len + data.length > max) {
        const room = max - len;
        if (room > 0) {
          const kept = data.slice(0, room);
          chunks.push(kept);
          onOutput?.(stream, kept);
        }
        len = max;
        throw new OutputLimitExceeded(stream, max);
      }
      if (data.length === 0) return;
      chunks.push(data);
      len += data.length;
      // the pool's board keeps a tail, so a killed guest's last writes reach its error (decision 230)
      onOutput?.(stream, data);
    },
    bytes() {
      if (chunks.length === 1) return chunks[0]!;
      const out = new Uint8Array(len);
      let o = 0;
      for (const c of chunks) { out.set(c, o); o += c.length; }
      chunks.length = 0;
      chunks.push(out);
      return out;
    },
  };
}

export function bytesInput(bytes: Uint8Array): InputStream {
  let pos = 0;
  return {
    read(n) {
      if (pos >= bytes.length) return n === 0 ? new Uint8Array(0) : null;
      const out = bytes.subarray(pos, Math.min(bytes.length, pos + n));
      pos += out.length;
      return out;
    },
  };
}

const WRITE_BUDGET = 1n << 20n;
const MAX_READ = 1 << 24;

function streamResult<T>(f: () => T): { tag: 'ok'; val: T } | { tag: 'err'; val: { tag: string; val?: IoError } } {
  try {
    return { tag: 'ok', val: f() };
  } catch (err) {
    if (err instanceof StreamFailed) return { tag: 'err', val: { tag: 'last-operation-failed', val: err.error } };
    if (err === CLOSED) return { tag: 'err', val: { tag: 'closed' } };
    throw err;
  }
}

const CLOSED = Symbol('closed');

function readSome(s: InputStream, len: bigint): Uint8Array {
  const r = s.read(Number(len > BigInt(MAX_READ) ? BigInt(MAX_READ) : len));
  if (r === null) throw CLOSED;
  return r;
}

export function ioFuncs(): HostFuncs {
  return {
    'wasi:io/error#[method]error.to-debug-string': (e: IoError) => e.message,

    'wasi:io/streams#[method]input-stream.read': (s: InputStream, len: bigint) => streamResult(() => readSome(s, len)),
    'wasi:io/streams#[method]input-stream.blocking-read': (s: InputStream, len: bigint) => streamResult(() => readSome(s, len)),
    'wasi:io/streams#[method]input-stream.skip': (s: InputStream, len: bigint) => streamResult(() => BigInt(readSome(s, len).length)),
    'wasi:io/streams#[method]input-stream.blocking-skip': (s: InputStream, len: bigint) => streamResult(() => BigInt(readSome(s, len).length)),
    'wasi:io/streams#[method]input-stream.subscribe': () => readyPollable,

    'wasi:io/streams#[method]output-stream.check-write': () => ({ tag: 'ok', val: WRITE_BUDGET }),
    'wasi:io/streams#[method]output-stream.write': (s: OutputStream, b: Uint8Array) => streamResult(() => s.write(b)),
    'wasi:io/streams#[method]output-stream.blocking-write-and-flush': (s: OutputStream, b: Uint8Array) => streamResult(() => s.write(b)),
    'wasi:io/streams#[method]output-stream.flush': () => ({ tag: 'ok' }),
    'wasi:io/streams#[method]output-stream.blocking-flush': () => ({ tag: 'ok' }),
    'wasi:io/streams#[method]output-stream.subscribe': () => readyPollable,
    'wasi:io/streams#[method]output-stream.write-zeroes': (s: OutputStream, n: bigint) => streamResult(() => s.write(new Uint8Array(Number(n)))),
    'wasi:io/streams#[method]output-stream.blocking-write-zeroes-and-flush': (s: OutputStream, n: bigint) => streamResult(() => s.write(new Uint8Array(Number(n)))),
    'wasi:io/streams#[method]output-stream.splice': (s: OutputStream, src: InputStream, len: bigint) => streamResult(() => {
      const b = readSome(src, len);
      s.write(b);
      return BigInt(b.length);
    }),
    'wasi:io/streams#[method]output-stream.blocking-splice': (s: OutputStream, src: InputStream, len: bigint) => streamResult(() => {
      const b = readSome(src, len);
      s.write(b);
      return BigInt(b.length);
    }),

    'wasi:io/poll#[method]pollable.ready': (p: Pollable) => p.ready(),
    'wasi:io/poll#[method]pollable.block': (p: Pollable) => {
      if (!p.ready() && p.deadline !== undefined) sleepUntil(p.deadline);
    },
    'wasi:io/poll#poll': (ps: Pollable[]) => {
      if (ps.length === 0) throw new WebAssembly.RuntimeError('poll of an empty list');
      let ready = ps.flatMap((p, i) => (p.ready() ? [i] : []));
      if (ready.length === 0) {
        const next = ps.reduce<bigint | null>((m, p) => (p.deadline !== undefined && (m === null || p.deadline < m) ? p.deadline : m), null);
        if (next !== null) sleepUntil(next);
        ready = ps.flatMap((p, i) => (p.ready() ? [i] : []));
      }
      return ready;
    },
  };
}
