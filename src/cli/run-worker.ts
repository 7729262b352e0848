// The thread `featherweight run` runs its guest on: it writes the guest's stdout/stderr straight to
// this process's fds 1 and 2 as the guest writes, and reads fd 0 only when the guest reads stdin, so
// output is live and a timeout (the main thread ends the process) loses nothing already written.
import fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { Grants, Limits } from '../wasm/limits.js';
import type { GuestRun } from '../wasm/result.js';
import { runWasiCommand } from '../wasm/wasi-command.js';

export interface RunJob {
  module: WebAssembly.Module;
  limits: Limits;
  grants: Grants;
  argv0: string;
  args: string[];
  /** The whole of stdin (--stdin FILE), or null to read this process's stdin as the guest asks. */
  stdin: Uint8Array | null;
}
export type RunReply = { result: GuestRun };

const pause = new Int32Array(new SharedArrayBuffer(4));
/** fd 0/1/2 may be non-blocking (a pipe set so by another process): wait a moment and retry. */
function again(err: unknown): boolean {
  if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return false;
  Atomics.wait(pause, 0, 0, 2);
  return true;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) {
    try {
      off += fs.writeSync(fd, bytes, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EPIPE') return; // reader went away, as `| head`: drop the rest
      if (!again(err)) throw err;
    }
  }
}

function readStdin(buf: Uint8Array): number {
  for (;;) {
    try {
      return fs.readSync(0, buf, 0, buf.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EOF') return 0;
      if (!again(err)) throw err;
    }
  }
}

parentPort!.once('message', (job: RunJob) => {
  const result = runWasiCommand(
    job.module,
    { stdin: job.stdin ?? new Uint8Array(0), env: {}, args: job.args, argv0: job.argv0 },
    job.limits,
    job.grants,
    { write: (stream, bytes) => writeAll(stream === 'stdout' ? 1 : 2, bytes), ...(job.stdin === null ? { read: readStdin } : {}) },
  );
  parentPort!.postMessage({ result } satisfies RunReply);
});

parentPort!.postMessage('ready');
