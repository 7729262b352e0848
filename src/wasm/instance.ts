/**
 * Instance plumbing every core-module ABI shares (wasi-command, exports, http-wasm, the component host's
 * core modules): the imports a host provides, capped linear memories reused per thread, and the typed
 * error for whatever ended a guest.
 */
import type { GuestErrorInfo } from '../core/errors.js';
import { PAGE, type MemoryMeta, type ModuleMeta } from './compile.js';
import type { Limits } from './limits.js';
import { formatBytes } from './result.js';
import { createWasi, OutputLimitExceeded, ProcExit, RecordLimitExceeded, type Wasi } from './wasi/index.js';

const WASI = 'wasi_snapshot_preview1';
const empty = new Uint8Array(0);

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

/**
 * Zeroed memories kept per thread for reuse, keyed by "initial/maximum". The first touch of a fresh
 * WebAssembly.Memory page-faults (and each one reserves ~10 GiB of address space), which costs far more
 * than the guest's whole run; a memory that did not grow is wiped and handed to the next instance instead.
 * Safe because an instance never runs again once its call returns (nothing keeps it).
 */
const memoryPool = new Map<string, WebAssembly.Memory[]>();
const POOL_PER_KEY = 4;
let created = 0;

/**
 * Memories this thread has created (not taken from the pool): each reserved ~10 GiB of address space
 * that only GC gives back, so the pool recycles a thread after so many (decision 010).
 */
export function memoriesCreated(): number {
  return created;
}

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
    const memory = new WebAssembly.Memory(desc);
    created++;
    return { memory, error: null };
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
  if (err instanceof RecordLimitExceeded) {
    return { kind: 'record-limit', message: `guest wrote more than ${err.limit} records for one event (the record limit, limits.maxRecords); it was stopped there and nothing was written` };
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
