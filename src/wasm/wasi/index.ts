/**
 * A WASI preview1 host written in plain JS, built as a sandbox: in-memory stdio, args, env, clocks,
 * random, proc_exit, and directory preopens only for granted directories. Every other call returns a
 * WASI errno; a bad pointer or any host-side failure inside a call becomes an errno too. The only things
 * that leave an import by throwing are ProcExit and OutputLimitExceeded, both caught by the ABI runners.
 * Why not node:wasi or a library: docs/decisions/001-wasi-preview1-in-js.md; rights, links and the fd
 * limit: docs/decisions/100-wasi-rights-links-fd-limit.md.
 *
 * The calls live by the spec's seams, as wazero lays them out: args-env, clock-random, fs (over
 * fd-table, rights and path, the sandbox boundary), poll, proc. Each is a plain function taking the
 * instance's context first, so making an instance allocates no closures but the ones it imports.
 */
import nodePath from 'node:path';
import type { DirGrant } from '../limits.js';
import { argsEnvCalls, encodeZ } from './args-env.js';
import { clockRandomCalls } from './clock-random.js';
import type { Call, Ctx } from './context.js';
import { errnoOf } from './errno.js';
import { DEFAULT_MAX_OPEN_FILES, FdTable } from './fd-table.js';
import { fsCalls } from './fs.js';
import { GuestMemory } from './memory.js';
import { grantedDirectory } from './path.js';
import { pollCalls } from './poll.js';
import { ProcExit, procCalls } from './proc.js';
import { concat, OutputLimitExceeded, RecordLimitExceeded } from './stdio.js';

export { E } from './errno.js';
export { ProcExit } from './proc.js';
export { OutputLimitExceeded, RecordLimitExceeded } from './stdio.js';
export { DEFAULT_MAX_OPEN_FILES } from './fd-table.js';

export interface WasiOptions {
  /** argv as the guest sees it, argv[0] included. */
  args: string[];
  env: Record<string, string>;
  stdin: Uint8Array;
  /** Cap on stdout (and on stderr without maxStderrBytes); passing it ends the run with OutputLimitExceeded. */
  maxStdoutBytes: number;
  /** Cap on stderr; default maxStdoutBytes. */
  maxStderrBytes?: number;
  /** Cap on stdout's completed non-blank lines (an event's NDJSON records); past it the run ends with RecordLimitExceeded. Default: none. */
  maxRecords?: number;
  /** Called with every write to stdout/stderr as the guest makes it (the bytes are the guest's: copy to keep). */
  onOutput?: (stream: 'stdout' | 'stderr', bytes: Uint8Array) => void;
  preopens: DirGrant[];
  /** Cap on fds open at once (stdio and preopens count); past it path_open is MFILE. Default 1024. */
  maxOpenFiles?: number;
}

export interface Wasi {
  imports: { wasi_snapshot_preview1: Record<string, Function> };
  /** Call after instantiation with the instance's memory. */
  bind(memory: WebAssembly.Memory): void;
  /**
   * Replaces argv, environ and stdin before the guest's first call: an instance made ahead of its
   * event (prepareWasiCommand) gets them when the event arrives. Only before any guest code ran.
   */
  input(args: string[], env: Record<string, string>, stdin: Uint8Array): void;
  stdout(): Uint8Array;
  stderr(): Uint8Array;
  /** Closes host files the guest left open. The runners call it; call it if you use createWasi with preopens. */
  dispose(): void;
}

const calls: Record<string, Call> = Object.assign(Object.create(null) as Record<string, Call>,
  argsEnvCalls, clockRandomCalls, fsCalls, pollCalls, procCalls);
const names = Object.keys(calls);
const has = (name: string): boolean => Object.prototype.hasOwnProperty.call(calls, name);

export function createWasi(opts: WasiOptions): Wasi {
  const fds = new FdTable(opts.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES);
  for (const g of opts.preopens) {
    const hostReal = grantedDirectory(g.host);
    fds.addPreopen({ hostReal, hostGiven: nodePath.resolve(g.host), writable: g.writable }, g.guest || '/');
  }
  const ctx: Ctx = {
    mem: new GuestMemory(),
    fds,
    argv: encodeZ(opts.args),
    envv: encodeZ(Object.entries(opts.env).map(([k, v]) => `${k}=${v}`)),
    stdin: opts.stdin,
    stdinPos: 0,
    out: { stdout: [], stderr: [] },
    outLen: { stdout: 0, stderr: 0 },
    maxOut: { stdout: opts.maxStdoutBytes, stderr: opts.maxStderrBytes ?? opts.maxStdoutBytes },
    onOutput: opts.onOutput ?? null,
    maxRecords: opts.maxRecords ?? Infinity,
    records: 0,
    lineHasContent: false,
    times: null,
  };

  // Wrappers are made on first lookup: instantiation asks only for what the module imports, and building
  // all ~45 per event was half the cost of running a trivial guest. The Proxy still answers spread/keys.
  const wrapped: Record<string, Function> = Object.create(null);
  const lookup = (name: string): Function | undefined => {
    let w = wrapped[name];
    if (w) return w;
    const f = has(name) ? calls[name] : undefined;
    if (!f) return undefined;
    w = wrapped[name] = (a: any, b: any, c: any, d: any, e: any, g: any, h: any, i: any, j: any) => {
      try {
        return f(ctx, a, b, c, d, e, g, h, i, j);
      } catch (err) {
        if (err instanceof ProcExit || err instanceof OutputLimitExceeded || err instanceof RecordLimitExceeded) throw err;
        return errnoOf(err);
      }
    };
    return w;
  };
  const imports = new Proxy(wrapped, {
    get: (_t, name) => (typeof name === 'string' ? lookup(name) : undefined),
    has: (_t, name) => typeof name === 'string' && has(name),
    ownKeys: () => names,
    getOwnPropertyDescriptor: (_t, name) =>
      typeof name === 'string' && has(name)
        ? { value: lookup(name), writable: true, enumerable: true, configurable: true }
        : undefined,
  });

  let stdoutCache: Uint8Array | null = null;
  let stderrCache: Uint8Array | null = null;
  return {
    imports: { wasi_snapshot_preview1: imports },
    bind(m: WebAssembly.Memory) {
      ctx.mem.bind(m);
    },
    input(args, env, stdin) {
      ctx.argv = encodeZ(args);
      ctx.envv = encodeZ(Object.entries(env).map(([k, v]) => `${k}=${v}`));
      ctx.stdin = stdin;
      ctx.stdinPos = 0;
    },
    stdout() {
      if (!stdoutCache || stdoutCache.length !== ctx.outLen.stdout) stdoutCache = concat(ctx.out.stdout, ctx.outLen.stdout);
      return stdoutCache;
    },
    stderr() {
      if (!stderrCache || stderrCache.length !== ctx.outLen.stderr) stderrCache = concat(ctx.out.stderr, ctx.outLen.stderr);
      return stderrCache;
    },
    dispose() {
      fds.dispose();
    },
  };
}
