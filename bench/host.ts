import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

/**
 * The host as a user runs it, for the benches that measure from outside: `featherweight up` from
 * dist/ in a process of its own, and its sink's rows counted from the SQLite file.
 */

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const guests = path.join(root, 'guests', 'build');
const bin = path.join(root, 'bin', 'featherweight.js');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface UpProcess {
  child: ChildProcess;
  /** CPU seconds the host process has used so far, all its threads (Linux /proc; NaN elsewhere). */
  cpuSeconds(): number;
  /** SIGTERM, and SIGKILL if it has not exited 30 s later. */
  stop(): Promise<void>;
}

/** Writes the manifest to <dir>/featherweight.yaml, starts `up` on it and waits for /healthz. */
export async function up(dir: string, manifest: string, port: number, logLevel = 'warn'): Promise<UpProcess> {
  const file = path.join(dir, 'featherweight.yaml');
  fs.writeFileSync(file, manifest);
  let err = '';
  // FW_BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the host (every thread writes
  // its own .cpuprofile on exit); NODE_OPTIONS refuses --cpu-prof.
  const flags = (process.env.FW_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...flags, bin, 'up', file, '--listen', `127.0.0.1:${port}`], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, FEATHERWEIGHT_LOG_LEVEL: logLevel },
  });
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`featherweight up exited ${child.exitCode}: ${err}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) })).ok) break;
    } catch {
      /* not listening yet */
    }
    if (i > 1200) throw new Error(`featherweight up did not answer http://127.0.0.1:${port}/healthz: ${err}`);
    await sleep(50);
  }
  return {
    child,
    cpuSeconds: () => processCpuSeconds(child.pid!),
    async stop() {
      if (child.exitCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await done;
      clearTimeout(t);
    },
  };
}

/** utime + stime of a process from /proc/<pid>/stat (clock ticks of 1/100 s), in seconds. */
function processCpuSeconds(pid: number): number {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

export interface Segment { seconds: number; counted: number; cpuSeconds: number }

/**
 * Polls the sink's row count until it passes each of `marks` in turn (row counts, ascending). The
 * first segment's clock starts at the first row seen, each later one where the one before ended;
 * `cpu` (the host's CPU seconds) is read at the same points, so startup is in no figure.
 */
export async function drain(dbFile: string, table: string, marks: number[], cpu: () => number = () => Number.NaN, timeoutMs = 600_000): Promise<Segment[]> {
  let db: Database.Database | null = null;
  let t0 = 0;
  let from = 0;
  let cpu0 = 0;
  const out: Segment[] = [];
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      if (!db && fs.existsSync(dbFile)) {
        try {
          db = new Database(dbFile, { readonly: true, fileMustExist: true });
        } catch {
          db = null;
        }
      }
      let n = 0;
      try {
        // The sink's table only grows, so its largest rowid is its row count, read from one b-tree
        // page. count(*) walks the whole table: at 80,000 rows, every 10 ms, it took ~12% of a core
        // from the host being measured. The last mark is checked with count(*) below.
        n = db ? ((db.prepare(`SELECT max(rowid) FROM "${table}"`).pluck().get() as number | null) ?? 0) : 0;
      } catch {
        n = 0; // the table is created with the first write
      }
      if (n > 0 && t0 === 0) {
        t0 = performance.now();
        from = n;
        cpu0 = cpu();
      }
      while (out.length < marks.length && n >= marks[out.length]!) {
        const t = performance.now();
        const c = cpu();
        out.push({ seconds: (t - t0) / 1000, counted: marks[out.length]! - from, cpuSeconds: c - cpu0 });
        [t0, from, cpu0] = [t, marks[out.length - 1]!, c];
      }
      if (out.length === marks.length) {
        const counted = db!.prepare(`SELECT count(*) FROM "${table}"`).pluck().get() as number;
        if (counted < marks[marks.length - 1]!) throw new Error(`${table}: max(rowid) said ${n} rows, count(*) says ${counted}`);
        return out;
      }
      await sleep(10);
    }
    throw new Error(`${table}: rows did not reach ${marks[marks.length - 1]} within ${timeoutMs / 1000} s`);
  } finally {
    db?.close();
  }
}
