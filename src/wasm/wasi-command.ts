/**
 * ABI `wasi-command` (the CGI/WAGI model): WASI preview1 `_start`, event body on stdin, metadata in env,
 * stdout captured, exit code 0 = success. Synchronous: it runs inside a worker thread, and the pool
 * enforces the wall-clock timeout by terminating that thread.
 */
import type { FwEvent } from '../core/event.js';
import type { GuestErrorInfo } from '../core/errors.js';
import { moduleMeta, PAGE, type MemoryMeta, type ModuleMeta } from './compile.js';
import { stderrCap, type Grants, type Limits } from './limits.js';
import { formatBytes, type GuestRun } from './result.js';
import { withStdio, type Stdio } from './stdio.js';
import { createWasi, OutputLimitExceeded, ProcExit, type Wasi, type WasiOptions } from './wasi.js';

export interface CommandInput {
  stdin: Uint8Array;
  env: Record<string, string>;
  /** Arguments after the program name; the guest sees argv = [argv0, ...args]. */
  args: string[];
  /** The program name, argv[0] (default 'guest'; `featherweight run` passes the module's file name, as wasmtime). */
  argv0?: string;
}

export const ARGV0 = 'guest';
const WASI = 'wasi_snapshot_preview1';
const empty = new Uint8Array(0);

/** Environment for one event: EVENT_ID, EVENT_SOURCE, EVENT_SUBJECT, EVENT_HEADER_<NAME> (upper case, non-alphanumerics as _). */
export function eventEnv(event: FwEvent): Record<string, string> {
  const env: Record<string, string> = { EVENT_ID: event.id, EVENT_SOURCE: event.source, EVENT_SUBJECT: event.subject };
  for (const [name, value] of Object.entries(event.headers)) {
    env[`EVENT_HEADER_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = String(value);
  }
  return env;
}

interface Checked {
  /** null when the module is fine for the ABI, else why not. */
  problem: string | null;
  meta: ModuleMeta;
}

const checkedCommand = new WeakMap<WebAssembly.Module, Checked>();

/** The first import the host does not provide, as "imports env.foo which the host does not provide". */
export function missingImport(module: WebAssembly.Module, meta: ModuleMeta, wasiNames: Set<string>): string | null {
  for (const imp of WebAssembly.Module.imports(module)) {
    if (meta.memory && imp.kind === 'memory' && imp.module === meta.memory.module && imp.name === meta.memory.name) continue;
    if (imp.module === WASI && imp.kind === 'function' && wasiNames.has(imp.name)) continue;
    return `imports ${imp.module}.${imp.name} (${imp.kind}) which the host does not provide`;
  }
  return null;
}

let wasiNamesCache: Set<string> | null = null;
export function wasiNames(): Set<string> {
  wasiNamesCache ??= new Set(Object.keys(createWasi({ args: [], env: {}, stdin: empty, maxStdoutBytes: 0, preopens: [] }).imports[WASI]));
  return wasiNamesCache;
}

/** Why the module cannot run as a WASI command (a missing import or export), or null; checked before a module is swapped in. */
export function commandProblem(module: WebAssembly.Module): string | null {
  return checkCommand(module).problem;
}

function checkCommand(module: WebAssembly.Module): Checked {
  let c = checkedCommand.get(module);
  if (c) return c;
  const meta = moduleMeta(module);
  let problem = missingImport(module, meta, wasiNames());
  if (!problem) {
    const exps = WebAssembly.Module.exports(module);
    if (!exps.some((e) => e.name === '_start' && e.kind === 'function')) {
      problem = 'exports no _start function: it is not a WASI command (build it as a wasm32-wasi executable, not a library)';
    } else if (!exps.some((e) => e.name === 'memory' && e.kind === 'memory')) {
      problem = 'exports no memory named "memory", which WASI needs';
    }
  }
  c = { problem, meta };
  checkedCommand.set(module, c);
  return c;
}

/**
 * Zeroed memories kept per thread for reuse, keyed by "initial/maximum". The first touch of a fresh
 * WebAssembly.Memory page-faults (and each one reserves ~10 GiB of address space), which costs far more
 * than the guest's whole run; a memory that did not grow is wiped and handed to the next instance instead.
 * Safe because an instance never runs again once its call returns (nothing keeps it).
 */
const memoryPool = new Map<string, WebAssembly.Memory[]>();
const POOL_PER_KEY = 4;

/** Pages the host lets the memory grow to: the declared maximum, capped by the limit. */
function maximumPages(m: MemoryMeta, limits: Limits): number {
  return Math.min(m.maximum ?? 65536, Math.floor(limits.maxMemoryBytes / PAGE));
}

/** A capped memory for a module compiled by compileModule, or an error if even its initial size is over the limit. */
export function makeMemory(meta: ModuleMeta, limits: Limits): { memory: WebAssembly.Memory | null; error: GuestErrorInfo | null } {
  const m = meta.memory;
  if (!m) return { memory: null, error: null };
  const capPages = Math.floor(limits.maxMemoryBytes / PAGE);
  if (m.initial > capPages) {
    return {
      memory: null,
      error: {
        kind: 'memory-limit',
        message: `guest needs ${formatBytes(m.initial * PAGE)} of memory at start, above the memory limit of ${formatBytes(limits.maxMemoryBytes)}`,
      },
    };
  }
  const maximum = maximumPages(m, limits);
  if (!m.shared) {
    const pooled = memoryPool.get(`${m.initial}/${maximum}`)?.pop();
    if (pooled) return { memory: pooled, error: null };
  }
  try {
    const desc = m.shared ? { initial: m.initial, maximum, shared: true } : { initial: m.initial, maximum };
    return { memory: new WebAssembly.Memory(desc), error: null };
  } catch (err) {
    // V8 could not reserve address space: too many live instances in this process.
    return { memory: null, error: { kind: 'memory-limit', message: `host could not reserve memory for the guest: ${(err as Error).message}` } };
  }
}

/** Gives a memory from makeMemory back after the instance is done with it. */
export function releaseMemory(meta: ModuleMeta, limits: Limits, memory: WebAssembly.Memory | null): void {
  const m = meta.memory;
  if (!memory || !m || m.shared) return;
  const buf = memory.buffer;
  if (buf.byteLength !== m.initial * PAGE) return; // it grew: cannot shrink, let GC have it
  const key = `${m.initial}/${maximumPages(m, limits)}`;
  let list = memoryPool.get(key);
  if (!list) memoryPool.set(key, (list = []));
  if (list.length >= POOL_PER_KEY) return;
  new Uint8Array(buf).fill(0);
  list.push(memory);
}

export function importObject(wasi: Wasi | null, meta: ModuleMeta, memory: WebAssembly.Memory | null): WebAssembly.Imports {
  const imports: WebAssembly.Imports = wasi ? { ...wasi.imports } : {};
  if (meta.memory && memory) {
    imports[meta.memory.module] = { ...(imports[meta.memory.module] ?? {}), [meta.memory.name]: memory };
  }
  return imports;
}

/**
 * Turns whatever ended a guest into its typed error. A trap or non-zero exit while the memory is within
 * max(64 KiB, limit/8) of the cap counts as 'memory-limit': the likeliest cause is a failed memory.grow.
 */
export function classify(err: unknown, memory: WebAssembly.Memory | null, limits: Limits): GuestErrorInfo {
  const near = (): string | null => {
    if (!memory) return null;
    const size = memory.buffer.byteLength;
    const cap = limits.maxMemoryBytes;
    return cap - size <= Math.max(PAGE, cap / 8) ? `guest hit the memory limit of ${formatBytes(cap)} (memory at ${formatBytes(size)})` : null;
  };
  if (err instanceof ProcExit) {
    const n = near();
    if (n) return { kind: 'memory-limit', message: `${n} and exited with code ${err.code}` };
    return { kind: 'exit', message: `guest exited with code ${err.code}`, exitCode: err.code };
  }
  if (err instanceof OutputLimitExceeded) {
    const which = err.stream === 'stderr' ? 'the stderr limit, maxStderr' : 'the output limit';
    return { kind: 'output-limit', message: `guest wrote more than ${formatBytes(err.limit)} to ${err.stream} (${which}); output was cut there` };
  }
  if (err instanceof WebAssembly.RuntimeError) {
    const n = near();
    if (n) return { kind: 'memory-limit', message: `${n} and trapped: ${err.message}` };
    return { kind: 'trap', message: `guest trapped: ${err.message}` };
  }
  if (err instanceof RangeError && /call stack/i.test(err.message)) {
    return { kind: 'trap', message: 'guest trapped: call stack exhausted (Maximum call stack size exceeded)' };
  }
  if (err instanceof WebAssembly.LinkError || err instanceof WebAssembly.CompileError) {
    return { kind: 'invalid-module', message: `guest cannot be instantiated: ${err.message}` };
  }
  if (err instanceof RangeError && /memory/i.test(err.message)) {
    return { kind: 'memory-limit', message: `host could not allocate memory for the guest: ${err.message}` };
  }
  // Anything else is a JS error raised inside the guest's call chain (e.g. a bad value at the boundary).
  return { kind: 'trap', message: `guest trapped: ${(err as Error)?.message ?? String(err)}` };
}

/** The run that refuses an event body above maxStdinBytes before any instance exists (every command ABI). */
export function stdinTooLarge(input: CommandInput, limits: Limits): GuestRun | undefined {
  if (input.stdin.length <= limits.maxStdinBytes) return undefined;
  return {
    ok: false,
    error: {
      kind: 'memory-limit',
      message: `event body of ${formatBytes(input.stdin.length)} is above the stdin limit of ${formatBytes(limits.maxStdinBytes)} (maxStdinBytes); the guest was not run`,
    },
    stdout: empty,
    stderr: empty,
  };
}

/**
 * Runs the module's _start once on a fresh instance. Never throws for anything the guest does. With
 * `stdio`, output goes there as it is written (the result's stdout/stderr stay empty) and stdin may be read live.
 * `onOutput` sees each captured write as it is made (the pool's worker keeps a tail a watchdog can read).
 */
export function runWasiCommand(module: WebAssembly.Module, input: CommandInput, limits: Limits, grants?: Grants, stdio?: Stdio, onOutput?: WasiOptions['onOutput']): GuestRun {
  const tooLarge = stdinTooLarge(input, limits);
  if (tooLarge) return tooLarge;
  const { problem, meta } = checkCommand(module);
  if (problem) return { ok: false, error: { kind: 'invalid-module', message: `module ${problem}` }, stdout: empty, stderr: empty };
  const { memory: provided, error } = makeMemory(meta, limits);
  if (error) return { ok: false, error, stdout: empty, stderr: empty };

  const env = grants && Object.keys(grants.env).length > 0 ? { ...grants.env, ...input.env } : input.env;
  const wasi = createWasi({
    args: [input.argv0 ?? ARGV0, ...input.args],
    env,
    stdin: input.stdin,
    maxStdoutBytes: limits.maxStdoutBytes,
    maxStderrBytes: stderrCap(limits),
    preopens: grants?.dirs ?? [],
    ...(onOutput ? { onOutput } : {}),
    ...(limits.maxOpenFiles !== undefined ? { maxOpenFiles: limits.maxOpenFiles } : {}),
  });
  let memory = provided;
  try {
    const imports = importObject(wasi, meta, provided);
    if (stdio) imports[WASI] = withStdio(wasi.imports[WASI], () => memory, stdio, limits.maxStdoutBytes);
    const instance = new WebAssembly.Instance(module, imports);
    memory = instance.exports.memory as WebAssembly.Memory;
    wasi.bind(memory);
    (instance.exports._start as () => void)();
    // A module compiled elsewhere (no meta) cannot be capped by import; at least report that it went over.
    if (!provided && memory.buffer.byteLength > limits.maxMemoryBytes) {
      return { ok: false, error: classify(new WebAssembly.RuntimeError('memory above the limit'), memory, limits), stdout: wasi.stdout(), stderr: wasi.stderr() };
    }
    return { ok: true, exitCode: 0, stdout: wasi.stdout(), stderr: wasi.stderr() };
  } catch (err) {
    if (err instanceof ProcExit && err.code === 0) return { ok: true, exitCode: 0, stdout: wasi.stdout(), stderr: wasi.stderr() };
    return { ok: false, error: classify(err, memory, limits), stdout: wasi.stdout(), stderr: wasi.stderr() };
  } finally {
    wasi.dispose();
    releaseMemory(meta, limits, provided);
  }
}
