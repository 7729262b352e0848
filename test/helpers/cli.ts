import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

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
