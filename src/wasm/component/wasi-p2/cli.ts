/**
 * wasi:cli, wasi:clocks and wasi:random 0.2. The guest sees exactly the environment and arguments it was
 * given, stdin is the event body, stdout/stderr are captured, and exit unwinds the guest with ProcExit
 * (the same typed result as preview1's proc_exit), never ending the host process.
 */
import { randomBytes, randomFillSync } from 'node:crypto';
import { ProcExit } from '../../wasi/index.js';
import { readyPollable, type HostFuncs, type InputStream, type OutputStream, type Pollable } from './io.js';

const hrBase = process.hrtime.bigint();
const epochBaseNs = BigInt(Date.now()) * 1_000_000n;

function wallNow(): { seconds: bigint; nanoseconds: number } {
  const ns = epochBaseNs + (process.hrtime.bigint() - hrBase);
  return { seconds: ns / 1_000_000_000n, nanoseconds: Number(ns % 1_000_000_000n) };
}

function timer(deadline: bigint): Pollable {
  return { deadline, ready: () => process.hrtime.bigint() >= deadline };
}

export interface CliOptions {
  args: string[];
  env: Record<string, string>;
  stdin: InputStream;
  stdout: OutputStream;
  stderr: OutputStream;
}

export function cliFuncs(o: CliOptions): HostFuncs {
  const envList = Object.entries(o.env);
  return {
    'wasi:cli/environment#get-environment': () => envList,
    'wasi:cli/environment#get-arguments': () => o.args,
    'wasi:cli/environment#initial-cwd': () => null,
    'wasi:cli/exit#exit': (status: { tag: string }) => {
      throw new ProcExit(status.tag === 'ok' ? 0 : 1);
    },
    'wasi:cli/exit#exit-with-code': (code: number) => {
      throw new ProcExit(code);
    },
    'wasi:cli/stdin#get-stdin': () => o.stdin,
    'wasi:cli/stdout#get-stdout': () => o.stdout,
    'wasi:cli/stderr#get-stderr': () => o.stderr,
    // Not a terminal: stdio is captured.
    'wasi:cli/terminal-stdin#get-terminal-stdin': () => null,
    'wasi:cli/terminal-stdout#get-terminal-stdout': () => null,
    'wasi:cli/terminal-stderr#get-terminal-stderr': () => null,

    'wasi:clocks/monotonic-clock#now': () => process.hrtime.bigint(),
    'wasi:clocks/monotonic-clock#resolution': () => 1n,
    'wasi:clocks/monotonic-clock#subscribe-instant': (when: bigint) => timer(when),
    'wasi:clocks/monotonic-clock#subscribe-duration': (d: bigint) => (d <= 0n ? readyPollable : timer(process.hrtime.bigint() + d)),
    'wasi:clocks/wall-clock#now': wallNow,
    'wasi:clocks/wall-clock#resolution': () => ({ seconds: 0n, nanoseconds: 1000 }),

    'wasi:random/random#get-random-bytes': (len: bigint) => randomBytes(Number(len)),
    'wasi:random/random#get-random-u64': () => randU64(),
    'wasi:random/insecure#get-insecure-random-bytes': (len: bigint) => randomBytes(Number(len)),
    'wasi:random/insecure#get-insecure-random-u64': () => randU64(),
    'wasi:random/insecure-seed#insecure-seed': () => [randU64(), randU64()],
  };
}

const u64 = new BigUint64Array(1);
function randU64(): bigint {
  randomFillSync(u64);
  return u64[0]!;
}
