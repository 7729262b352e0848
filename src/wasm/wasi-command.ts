/**
 * ABI `wasi-command` (the CGI/WAGI model): WASI preview1 `_start`, event body on stdin, metadata in env,
 * stdout captured, exit code 0 = success. Synchronous: it runs inside a worker thread, and the pool
 * enforces the wall-clock timeout by terminating that thread.
 */
import type { FwEvent } from '../core/event.js';
import { moduleMeta, type ModuleMeta } from './compile.js';
import { stderrCap, type Grants, type Limits } from './limits.js';
import { formatBytes, type GuestRun } from './result.js';
import { withStdio, type Stdio } from './stdio.js';
import { createWasi, ProcExit, type WasiOptions } from './wasi/index.js';
import { classify, importObject, makeMemory, missingImport, releaseMemory, wasiNames } from './instance.js';

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
 * A fresh instance of a WASI command, made before its event: its memory, its WASI context and the
 * instantiation itself (V8's part of which costs several times more on a thread that has just woken
 * than on a busy one) are off the event's path. It runs once; one never run is its thread's until
 * that thread ends, like the memories the thread keeps for reuse.
 */
export interface PreparedCommand {
  /** Binds the event's argv, env and stdin, runs _start; never throws for anything the guest does. */
  run(input: CommandInput): GuestRun;
}

type Made = { prepared: PreparedCommand; error?: undefined } | { prepared?: undefined; error: GuestRun };

/**
 * Instantiates. With `input` the WASI context has it from the start (a start section sees it, as it
 * always did); without, run() binds it, which is safe only for a module known to have no start section.
 */
function instantiate(module: WebAssembly.Module, limits: Limits, grants: Grants | undefined, stdio: Stdio | undefined, onOutput: WasiOptions['onOutput'] | undefined, input?: CommandInput): Made {
  const { problem, meta } = checkCommand(module);
  if (problem) return { error: { ok: false, error: { kind: 'invalid-module', message: `module ${problem}` }, stdout: empty, stderr: empty } };
  const { memory: provided, error } = makeMemory(meta, limits);
  if (error) return { error: { ok: false, error, stdout: empty, stderr: empty } };
  const argv = (i: CommandInput) => [i.argv0 ?? ARGV0, ...i.args];
  const envOf = (i: CommandInput) => (grants && Object.keys(grants.env).length > 0 ? { ...grants.env, ...i.env } : i.env);
  const wasi = createWasi({
    args: input ? argv(input) : [],
    env: input ? envOf(input) : {},
    stdin: input ? input.stdin : empty,
    maxStdoutBytes: limits.maxStdoutBytes,
    maxStderrBytes: stderrCap(limits),
    ...(limits.maxRecords !== undefined ? { maxRecords: limits.maxRecords } : {}),
    preopens: grants?.dirs ?? [],
    ...(onOutput ? { onOutput } : {}),
    ...(limits.maxOpenFiles !== undefined ? { maxOpenFiles: limits.maxOpenFiles } : {}),
  });
  let memory = provided;
  let instance: WebAssembly.Instance | null = null;
  let failure: unknown = null;
  try {
    const imports = importObject(wasi, meta, provided);
    if (stdio) imports[WASI] = withStdio(wasi.imports[WASI], () => memory, stdio, limits.maxStdoutBytes);
    if (provided) wasi.bind(provided); // a start function may already call WASI with pointers into it
    instance = new WebAssembly.Instance(module, imports);
    memory = instance.exports.memory as WebAssembly.Memory;
    wasi.bind(memory);
  } catch (err) {
    failure = err; // a start function's trap or exit, or a link error: reported by run(), as before
  }
  let used = false;
  const bound = input !== undefined;
  const release = () => {
    used = true;
    wasi.dispose();
    releaseMemory(meta, limits, provided);
  };
  const outcome = (err: unknown): GuestRun => {
    if (err instanceof ProcExit && err.code === 0) return { ok: true, exitCode: 0, stdout: wasi.stdout(), stderr: wasi.stderr() };
    return { ok: false, error: classify(err, memory, limits), stdout: wasi.stdout(), stderr: wasi.stderr() };
  };
  if (!bound && failure !== null) {
    // Made ahead and failed (say, no address space left for now): the event's own attempt will tell.
    release();
    return { error: outcome(failure) };
  }
  return {
    prepared: {
      run(given) {
        if (used) throw new Error('a prepared instance runs once');
        try {
          const tooLarge = stdinTooLarge(given, limits);
          if (tooLarge) return tooLarge;
          if (failure !== null) return outcome(failure);
          if (!bound) wasi.input(argv(given), envOf(given), given.stdin);
          (instance!.exports._start as () => void)();
          // A module compiled elsewhere (no meta) cannot be capped by import; at least report that it went over.
          if (!provided && memory!.buffer.byteLength > limits.maxMemoryBytes) {
            return { ok: false, error: classify(new WebAssembly.RuntimeError('memory above the limit'), memory, limits), stdout: wasi.stdout(), stderr: wasi.stderr() };
          }
          return { ok: true, exitCode: 0, stdout: wasi.stdout(), stderr: wasi.stderr() };
        } catch (err) {
          return outcome(err);
        } finally {
          release();
        }
      },
    },
  };
}

/**
 * An instance made now for an event that comes later, or null when it cannot be made ahead: the
 * module runs guest code as it is instantiated (a start section, or a build whose meta does not say),
 * or it could not be instantiated now (runWasiCommand, with the event, then reports why).
 */
export function prepareWasiCommand(module: WebAssembly.Module, limits: Limits, grants?: Grants, onOutput?: WasiOptions['onOutput']): PreparedCommand | null {
  const meta = moduleMeta(module);
  if (!meta.parsed || meta.start !== false) return null;
  const made = instantiate(module, limits, grants, undefined, onOutput);
  return made.prepared ?? null;
}

/**
 * Runs the module's _start once on a fresh instance. Never throws for anything the guest does. With
 * `stdio`, output goes there as it is written (the result's stdout/stderr stay empty) and stdin may be read live.
 * `onOutput` sees each captured write as it is made (the pool's worker keeps a tail a watchdog can read).
 */
export function runWasiCommand(module: WebAssembly.Module, input: CommandInput, limits: Limits, grants?: Grants, stdio?: Stdio, onOutput?: WasiOptions['onOutput']): GuestRun {
  const tooLarge = stdinTooLarge(input, limits);
  if (tooLarge) return tooLarge;
  const made = instantiate(module, limits, grants, stdio, onOutput, input);
  return made.error ?? made.prepared.run(input);
}
