// `featherweight run`: one WASI command, like `wasmtime run`, through the same pool, limits and
// watchdog as a deployed component. `featherweight call` (call.ts) shares the exit codes below.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { GuestErrorInfo, GuestErrorKind } from '../../core/errors.js';
import { parseDuration, parseSize } from '../../core/units.js';
import { createPool, formatMs, type Abi, type Job, type JobResult } from '../../runtime/pool.js';
import { defaultLimits, loadModule, type DirGrant, type Limits } from '../../wasm/index.js';

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
    .option('--timeout <duration>', `wall-clock limit, e.g. 500ms, 2s (default ${formatMs(defaultLimits.timeoutMs)})`)
    .option('--max-memory <size>', 'linear memory limit, e.g. 16MiB (default 64MiB)');
}

/** Runs one job on a one-replica pool (so the watchdog applies) and returns its result. */
export async function runOnce(module: WebAssembly.Module, abi: Abi, limits: Limits, job: Job, dirs: DirGrant[] = [], env: Record<string, string> = {}): Promise<JobResult> {
  const pool = createPool({ module, abi, limits, grants: { env, dirs }, maxThreads: 1, warmThreads: 1 });
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

function readStdin(source: string | undefined): Uint8Array {
  if (source === undefined) return new Uint8Array(0);
  try {
    return fs.readFileSync(source === '-' ? 0 : source);
  } catch (err) {
    throw new Error(`--stdin ${source}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

interface RunFlags extends LimitFlags { stdin?: string; env?: string[]; dir?: string[]; dirRw?: string[] }

export function register(program: Command): void {
  limitOptions(
    program
      .command('run')
      .description('run a WASI command module once, like `wasmtime run`: the guest\'s stdout/stderr are printed and its exit code returned')
      .argument('<module>', 'the .wasm file (a wasm32-wasi command exporting _start)')
      .argument('[args...]', 'arguments for the guest (put them after --)')
      .option('--stdin <file>', 'feed this file to the guest\'s stdin ("-" for this process\'s stdin; default: empty)')
      .option('--env <NAME=VALUE>', 'set an environment variable for the guest; NAME alone passes the host\'s value (repeatable)', collect)
      .option('--dir <HOST[::GUEST]>', 'grant read-only access to a host directory, seen by the guest at GUEST (repeatable)', collect)
      .option('--dir-rw <HOST[::GUEST]>', 'like --dir, writable (repeatable)', collect),
  )
    .option('--max-output <size>', 'limit on stdout and on stderr, each (default 50MiB)')
    .option('--max-stdin <size>', 'limit on the stdin size (default 25MiB)')
    .addHelpText('after', `
Exit codes: the guest's own code when it exits; ${exitCodes.timeout} timeout, ${exitCodes['invalid-module']} invalid module or bad flags,
${exitCodes.trap} trap, ${exitCodes['memory-limit']} memory limit, ${exitCodes['output-limit']} output limit.`)
    .action(async (file: string, args: string[], flags: RunFlags) => {
      let result: JobResult;
      try {
        const limits = limitsFrom(flags);
        const env = parseEnv(flags.env ?? []);
        const dirs = [...parseDirs(flags.dir ?? [], false, '--dir'), ...parseDirs(flags.dirRw ?? [], true, '--dir-rw')];
        const stdin = readStdin(flags.stdin);
        const { module } = loadModule(file);
        result = await runOnce(module, 'wasi-command', limits, { kind: 'command', stdin, env: {}, args }, dirs, env);
      } catch (err) {
        hostFailure(err);
        return;
      }
      if ('stdout' in result) {
        if (result.stdout.length > 0) process.stdout.write(result.stdout);
        if (result.stderr.length > 0) process.stderr.write(result.stderr);
      }
      if (!result.ok) {
        // A guest's own non-zero exit speaks for itself (its stderr, its code), as under wasmtime.
        if (result.error.kind !== 'exit') console.error(`featherweight: ${result.error.kind}: ${result.error.message}`);
        process.exitCode = exitCodeFor(result.error);
      }
    });
}
