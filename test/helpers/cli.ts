import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import assert from 'node:assert/strict';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cliEntry = path.join(repoRoot, 'src/cli/bin.ts');

// By URL, so a CLI started with another cwd (a temp folder without node_modules) still finds tsx.
const tsxLoader = import.meta.resolve('tsx');

/** argv to start the CLI from source (tests never depend on a stale dist/). */
export function cliArgv(args: string[]): string[] {
  return ['--import', tsxLoader, cliEntry, ...args];
}

export interface CliResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Runs `featherweight ...args` to completion. */
export function runCli(args: string[], opts: SpawnOptions & { input?: string | Buffer } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, opts);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
}

/** Starts `featherweight ...args` and leaves it running (e.g. `up`, to kill -9 it). */
export function spawnCli(args: string[], opts: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, cliArgv(args), { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'], ...opts });
}

export interface RunningUp {
  child: ChildProcess;
  /** The API's URL, read from the "featherweight is up" log line. */
  url: string;
  /** stdout and stderr so far, interleaved. */
  output(): string;
  /** SIGTERM (unless it already ended), then waits for it to close. */
  stop(): Promise<void>;
}

/** Starts `featherweight up ...args` and resolves once it logs that it is up; rejects with its output if it exits first. */
export async function startUp(args: string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<RunningUp> {
  const child = spawnCli(['up', ...args], opts);
  const closed = new Promise((r) => child.once('close', r));
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await closed;
  };
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)".*featherweight is up/.exec(out);
      if (m) {
        clearInterval(timer);
        resolve(m[1]!);
      }
    }, 100);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`featherweight up exited with ${code}: ${out}`));
    });
    setTimeout(() => {
      clearInterval(timer);
      reject(new Error(`featherweight up did not come up within ${opts.timeoutMs ?? 60_000} ms: ${out}`));
    }, opts.timeoutMs ?? 60_000).unref();
  }).catch(async (err: unknown) => {
    await stop();
    throw err;
  });
  return { child, url, output: () => out, stop };
}

/**
 * `featherweight up` on the folder's featherweight.yaml, one event POSTed to component `name`, and
 * the component's rows once there are some (up is stopped after).
 */
export async function upAndPost(dir: string, name: string, body: string, opts: { upTimeoutMs?: number; rowsTimeoutMs?: number } = {}): Promise<Array<Record<string, unknown>>> {
  const up = await startUp([path.join(dir, 'featherweight.yaml'), '--listen', '127.0.0.1:0'], { timeoutMs: opts.upTimeoutMs ?? 60_000 });
  try {
    const res = await fetch(`${up.url}/v1/components/${name}/events`, { method: 'POST', body });
    assert.equal(res.status, 202, await res.clone().text());
    const deadline = Date.now() + (opts.rowsTimeoutMs ?? 60_000);
    for (;;) {
      const rows = (await (await fetch(`${up.url}/v1/components/${name}/rows?limit=10`)).json()) as { total: number; rows: Array<Record<string, unknown>> };
      if (rows.total > 0) return rows.rows;
      if (Date.now() > deadline) throw new Error(`no rows after the event: ${up.output()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await up.stop();
  }
}
