// `featherweight run`: one WASI command, like `wasmtime run`, through the same pool, limits and
// watchdog as a deployed component. `featherweight call` (call.ts) shares the exit codes below.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { ComponentImage } from '../../wasm/component/index.js';
import type { GuestErrorInfo, GuestErrorKind } from '../../core/errors.js';
import { parseDuration, parseSize } from '../../core/units.js';
import type { Abi, Job, JobResult } from '../../runtime/pool.js';
import { defaultLimits, type DirGrant, type Limits } from '../../wasm/limits.js';
import type { GuestRun } from '../../wasm/result.js';
import type { RunJob, RunReply } from '../run-worker.js';

/**
 * Exit codes of `run` and `call` for each typed failure (a guest's own non-zero exit passes through):
 * 124 timeout (as coreutils `timeout`), 125 featherweight could not run the module (bad module, bad
 * flags, unreadable files: as `timeout`/`docker run`), 134 trap (128+SIGABRT, as `wasmtime run`),
 * 137 memory limit (128+SIGKILL, as an OOM-killed container), 141 output limit (128+SIGPIPE).
 */
export const exitCodes: Record<Exclude<GuestErrorKind, 'exit'>, number> = {
  timeout: 124,
  'invalid-module': 125,
  trap: 134,
  'memory-limit': 137,
  'output-limit': 141,
  // only an app sets a record limit (run and call set none); it is an output limit like stdout's
  'record-limit': 141,
};
export const HOST_ERROR = 125;

/** Exit code for a guest error: the guest's own code for 'exit' (1 when it does not fit in 1..255). */
export function exitCodeFor(error: GuestErrorInfo): number {
  if (error.kind === 'exit') {
    const c = error.exitCode ?? 1;
    return c >= 1 && c <= 255 ? c : 1;
  }
  return exitCodes[error.kind];
}

/** Prints `featherweight: <message>` and exits 125 (also for usage errors, so scripts can tell them from the guest's codes). */
export function hostFailure(err: unknown): void {
  const e = err as Partial<GuestErrorInfo> & Error;
  const kind = typeof e.kind === 'string' ? `${e.kind}: ` : '';
  console.error(`featherweight: ${kind}${e?.message ?? String(err)}`);
  process.exitCode = HOST_ERROR;
}

export interface LimitFlags { timeout?: string; maxMemory?: string; maxOutput?: string; maxStdin?: string }

export function limitsFrom(flags: LimitFlags): Limits {
  const limits = { ...defaultLimits };
  if (flags.timeout !== undefined) limits.timeoutMs = parseDuration(flags.timeout);
  if (flags.maxMemory !== undefined) limits.maxMemoryBytes = parseSize(flags.maxMemory);
  if (flags.maxOutput !== undefined) limits.maxStdoutBytes = parseSize(flags.maxOutput);
  if (flags.maxStdin !== undefined) limits.maxStdinBytes = parseSize(flags.maxStdin);
  if (!(limits.timeoutMs > 0)) throw new Error(`--timeout must be above 0, got ${JSON.stringify(flags.timeout)}`);
  return limits;
}

export function limitOptions(cmd: Command): Command {
  return cmd
    .option('--timeout <duration>', `wall-clock limit, e.g. 500ms, 2s (default ${defaultLimits.timeoutMs / 1000}s)`)
    .option('--max-memory <size>', 'linear memory limit, e.g. 16MiB (default 64MiB)');
}

/**
 * A WASI 0.2 component (told apart by its header's layer bytes) runs like a command on a one-replica pool
 * (src/wasm/component/): its output is printed when it ends, and stdin is --stdin's bytes or empty.
 */
async function runIfComponent(file: string, o: { limits: Limits; env: Record<string, string>; dirs: DirGrant[]; args: string[]; stdin: Uint8Array | null }): Promise<boolean> {
  const { isComponent, loadComponent } = await import('../../wasm/component/index.js');
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    return false; // the core path names the problem
  }
  if (!isComponent(bytes)) return false;
  const component = loadComponent(bytes);
  const r = await runOnce(component.modules[0]!, 'wasi-command', o.limits, { kind: 'command', stdin: o.stdin ?? new Uint8Array(0), env: {}, args: o.args }, o.dirs, o.env, component);
  if ('stdout' in r) {
    if (r.stdout.length > 0) process.stdout.write(r.stdout);
    if (r.stderr.length > 0) process.stderr.write(r.stderr);
  }
  if (!r.ok) {
    if (r.error.kind !== 'exit') say(`${r.error.kind}: ${r.error.message}`);
    process.exitCode = exitCodeFor(r.error);
  }
  return true;
}

/** Runs one job on a one-replica pool (so the watchdog applies) and returns its result. */
export async function runOnce(module: WebAssembly.Module, abi: Abi, limits: Limits, job: Job, dirs: DirGrant[] = [], env: Record<string, string> = {}, component?: ComponentImage): Promise<JobResult> {
  const { createPool } = await import('../../runtime/pool.js');
  const pool = createPool({ module, abi, limits, grants: { env, dirs }, maxThreads: 1, warmThreads: 1, ...(component ? { component } : {}) });
  try {
    pool.setReplicas(1);
    return await pool.submit(job);
  } finally {
    await pool.close();
  }
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function parseEnv(items: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`invalid --env ${JSON.stringify(item)}: use NAME=VALUE, or NAME to pass the host's value`);
    if (eq >= 0) env[name] = item.slice(eq + 1);
    else if (process.env[name] !== undefined) env[name] = process.env[name]!; // like wasmtime: NAME alone inherits
  }
  return env;
}

function parseDirs(items: string[], writable: boolean, flag: string): DirGrant[] {
  return items.map((item) => {
    const sep = item.indexOf('::');
    const host = sep < 0 ? item : item.slice(0, sep);
    const guest = sep < 0 ? item : item.slice(sep + 2);
    if (!host || !guest) throw new Error(`invalid ${flag} ${JSON.stringify(item)}: use HOST or HOST::GUEST, e.g. ./data::/data`);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(host);
    } catch {
      throw new Error(`${flag} ${host}: no such directory`);
    }
    if (!stat.isDirectory()) throw new Error(`${flag} ${host}: not a directory`);
    return { host: path.resolve(host), guest, writable };
  });
}

/** The module, from a .wasm file or a .wat text file (compiled with wabt, as `wasmtime run x.wat` does). */
export async function loadGuest(file: string): Promise<WebAssembly.Module> {
  const { compileModule, loadModule } = await import('../../wasm/compile.js');
  if (!/\.wat$/i.test(file)) return loadModule(file).module;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`cannot read module ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message}`);
  }
  const wabt = await (await import('wabt')).default();
  let parsed: ReturnType<typeof wabt.parseWat> | undefined;
  try {
    parsed = wabt.parseWat(path.basename(file), text, { multi_value: true, bulk_memory: true, sign_extension: true, mutable_globals: true, sat_float_to_int: true });
    parsed.resolveNames();
    parsed.validate();
    return compileModule(parsed.toBinary({}).buffer).module;
  } catch (err) {
    // wabt's message already names the file, line and column, then the offending line.
    throw new Error(String((err as Error).message ?? err).replace(/^\w+ failed:\s*/, '').trimEnd());
  } finally {
    parsed?.destroy();
  }
}

/** Reads --stdin FILE (or "-", this process's stdin, to its end) into memory; null means inherited, read live. */
function stdinFrom(source: string | undefined, limit: number): Uint8Array | null {
  if (source === undefined) return null;
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(source === '-' ? 0 : source);
  } catch (err) {
    throw new Error(`--stdin ${source}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (bytes.length > limit) throw new Error(`--stdin ${source}: ${bytes.length} bytes is above --max-stdin (${limit} bytes)`);
  return bytes;
}

/** One line of ours on stderr, written at once (the guest's thread writes fd 2 directly too). */
function say(line: string): void {
  fs.writeSync(2, `featherweight: ${line}\n`);
}

/**
 * Runs the guest on its own thread, which streams its output. The thread starts first, so its boot
 * overlaps reading and compiling the module. On a timeout the process exits at once: the thread may
 * be blocked reading a terminal, which no terminate() can interrupt, and what it wrote is already out.
 */
async function runLive(file: string, job: Omit<RunJob, 'module'>): Promise<void> {
  const { runThread } = await import('../run-thread.js');
  const { worker, ready } = runThread();
  worker.ref();
  const died = new Promise<never>((_, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the guest's thread stopped (exit code ${code}) before the guest finished`)));
  });
  died.catch(() => {});
  let module: WebAssembly.Module;
  try {
    module = await loadGuest(file);
    await Promise.race([ready, died]);
  } catch (err) {
    void worker.terminate();
    throw err;
  }
  // The clock starts when the guest does, as in the pool: a slow thread start is not the guest's time.
  const done = new Promise<GuestRun>((resolve) => worker.once('message', (m: RunReply) => resolve(m.result)));
  worker.postMessage({ ...job, module } satisfies RunJob);
  const timer = setTimeout(() => {
    say(`timeout: guest ran past ${job.limits.timeoutMs % 1000 === 0 ? `${job.limits.timeoutMs / 1000}s` : `${job.limits.timeoutMs}ms`}`);
    process.exit(exitCodes.timeout);
  }, job.limits.timeoutMs);
  let result: GuestRun;
  try {
    result = await Promise.race([done, died]);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const oom = e.code === 'ERR_WORKER_OUT_OF_MEMORY';
    result = { ok: false, error: { kind: oom ? 'memory-limit' : 'trap', message: e.message }, stdout: new Uint8Array(0), stderr: new Uint8Array(0) };
  } finally {
    clearTimeout(timer);
  }
  void worker.terminate();
  if (!result.ok) {
    // A guest's own non-zero exit speaks for itself (its stderr, its code), as under wasmtime.
    if (result.error.kind !== 'exit') say(`${result.error.kind}: ${result.error.message}`);
    process.exitCode = exitCodeFor(result.error);
  }
}

interface RunFlags extends LimitFlags { stdin?: string; env?: string[]; dir?: string[]; dirRw?: string[]; argv0?: string; invoke?: string }

/**
 * Usage errors of `run` and `call` (unknown flag, missing argument) exit 125 with one line, so a
 * script can tell them from the guest's own codes; --help and --version still exit 0.
 */
export function usageErrors(cmd: Command): Command {
  return cmd
    .showHelpAfterError(false)
    .configureOutput({ outputError: (str, write) => write(`featherweight: ${str.replace(/^error: /, '').trimEnd()} (see featherweight ${cmd.name()} --help)\n`) })
    .exitOverride((err) => {
      process.exit(err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0 ? 0 : HOST_ERROR);
    });
}

export function register(program: Command): void {
  usageErrors(limitOptions(
    program
      .command('run')
      .description('run a WASI command module once, like `wasmtime run`: the guest\'s stdout/stderr are printed and its exit code returned')
      .argument('<module>', 'the .wasm file (a wasm32-wasi command exporting _start), or a .wat text file')
      .argument('[args...]', 'arguments for the guest (put them after --)')
      .option('--stdin <file>', 'feed this file to the guest\'s stdin ("-" reads all of this process\'s stdin first; default: the guest reads this process\'s stdin as it runs)')
      .option('--env <NAME=VALUE>', 'set an environment variable for the guest; NAME alone passes the host\'s value (repeatable)', collect)
      .option('--dir <HOST[::GUEST]>', 'grant read-only access to a host directory, seen by the guest at GUEST (repeatable)', collect)
      .option('--dir-rw <HOST[::GUEST]>', 'like --dir, writable (repeatable)', collect)
      .option('--argv0 <name>', 'the program name the guest sees as argv[0] (default: the module\'s file name)')
      .option('--invoke <export>', 'call this exported function instead of running _start (as `featherweight call`)'),
  )
    .option('--max-output <size>', 'limit on stdout and on stderr, each (default 50MiB)')
    .option('--max-stdin <size>', 'limit on --stdin\'s size (default 25MiB; a live stdin is streamed, not held)')
    .addHelpText('after', `
Exit codes: the guest's own code when it exits; ${exitCodes.timeout} timeout, ${exitCodes['invalid-module']} invalid module or bad flags,
${exitCodes.trap} trap, ${exitCodes['memory-limit']} memory limit, ${exitCodes['output-limit']} output limit.`))
    .action(async (file: string, args: string[], flags: RunFlags) => {
      try {
        if (flags.invoke !== undefined) {
          const { callAndPrint } = await import('./call.js');
          await callAndPrint(file, flags.invoke, args, flags);
          return;
        }
        const limits = limitsFrom(flags);
        const env = parseEnv(flags.env ?? []);
        const dirs = [...parseDirs(flags.dir ?? [], false, '--dir'), ...parseDirs(flags.dirRw ?? [], true, '--dir-rw')];
        const stdin = stdinFrom(flags.stdin, limits.maxStdinBytes);
        if (await runIfComponent(file, { limits, env, dirs, args, stdin })) return;
        await runLive(file, { limits, grants: { env, dirs }, argv0: flags.argv0 ?? path.basename(file), args, stdin });
      } catch (err) {
        hostFailure(err);
      }
    });
}
