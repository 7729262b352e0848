import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

/**
 * Isolation, measured from outside as a user runs it: `featherweight up` from dist/ in its own process.
 * A good component (echo.wasm, embedded queue, SQLite sink) drains N events twice in the same run:
 *
 * - alone: the good component is the only one;
 * - beside the hostile guests of guests/hostile/, each at default limits with a backlog of its own:
 *   table bomb, row bomb (endless `{}` lines), fd bomb (opens its granted dir in a loop), stderr bomb,
 *   an endless loop, and an http-wasm guest that never returns, called by 2 clients in a loop.
 *
 * Printed: the good component's events/s alone and beside them and the ratio (goal >= 0.8); the host's
 * peak RSS (VmHWM) in the hostile run (goal <= 1 GiB); and /healthz sampled every 200 ms during it
 * (slowest answer, failures), with the hostile events' outcomes (dead letters by reason).
 *
 * Env: FW_BENCH_EVENTS (5000 good events), FW_BENCH_HOSTILE_EVENTS (100 per hostile component),
 * FW_BENCH_HOSTILE_LIMITS (a YAML flow map for the queued hostile components' limits instead of the
 * defaults, e.g. '{ maxStderr: 50MiB }' for stderr's budget before decision 122 gave it its own).
 * Needs `npm run build` first (it runs dist/, like a user).
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'featherweight.js');
const guests = path.join(root, 'guests', 'build');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** GET with its own socket and a generous bound; resolves with the status (0 = no answer) and the time. */
function get(url: string, timeoutMs = 30_000): Promise<{ status: number; ms: number; body: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, ms: performance.now() - t0, body: '' }));
  });
}

async function up(dir: string, manifest: string, port: number): Promise<{ child: ChildProcess; stop(): Promise<void> }> {
  const file = path.join(dir, 'featherweight.yaml');
  fs.writeFileSync(file, manifest);
  let err = '';
  const child = spawn(process.execPath, [bin, 'up', file, '--listen', `127.0.0.1:${port}`], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, FEATHERWEIGHT_LOG_LEVEL: 'error' },
  });
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`featherweight up exited ${child.exitCode}: ${err}`);
    if ((await get(`http://127.0.0.1:${port}/healthz`, 2000)).status === 200) break;
    if (i > 1200) throw new Error(`featherweight up did not answer /healthz: ${err}`);
    await sleep(50);
  }
  return {
    child,
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

function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Polls the good component's row count; the clock runs from the first row to the last. */
async function drain(dbFile: string, table: string, want: number): Promise<number> {
  let db: Database.Database | null = null;
  let t0 = 0;
  let first = 0;
  const deadline = Date.now() + 900_000;
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
        n = db ? (db.prepare(`SELECT count(*) FROM "${table}"`).pluck().get() as number) : 0;
      } catch {
        n = 0;
      }
      if (n > 0 && t0 === 0) {
        t0 = performance.now();
        first = n;
      }
      if (n >= want) return (want - first) / ((performance.now() - t0) / 1000);
      await sleep(20);
    }
    throw new Error(`${table}: rows did not reach ${want} within 900 s`);
  } finally {
    db?.close();
  }
}

const hostileQueued = ['table-bomb', 'row-bomb', 'fd-bomb', 'stderr-bomb', 'spin'];
const hostileLimits = process.env.FW_BENCH_HOSTILE_LIMITS;

function manifest(dir: string, withHostile: boolean): string {
  const good = `  - name: good
    module: ${JSON.stringify(path.join(guests, 'echo.wasm'))}
    trigger: { type: embedded, metadata: { queue: good } }
    scaling: { minReplicaCount: 0, maxReplicaCount: 8, cooldownPeriod: 30 }
    sink: { type: sqlite, table: good_rows }
`;
  if (!withHostile) return header(dir) + good;
  const grant = path.join(dir, 'granted');
  fs.mkdirSync(grant, { recursive: true });
  const bad = hostileQueued.map((name) => `  - name: ${name}
    module: ${JSON.stringify(path.join(guests, 'hostile', `${name}.wasm`))}
    trigger: { type: embedded, metadata: { queue: ${name} } }
    scaling: { minReplicaCount: 0, maxReplicaCount: 8, cooldownPeriod: 30 }
    sink: { type: sqlite, table: ${name.replace('-', '_')}_rows }
${name === 'fd-bomb' ? `    grants: { dirs: [${JSON.stringify(`${grant}::/data`)}] }\n` : ''}${hostileLimits ? `    limits: ${hostileLimits}\n` : ''}`).join('');
  const hang = `  - name: hang
    module: ${JSON.stringify(path.join(guests, 'hostile', 'http-hang.wasm'))}
    abi: http-wasm
    trigger: { type: http }
`;
  return header(dir) + good + bad + hang;
}

function header(dir: string): string {
  return `apiVersion: featherweight.dev/v1
kind: App
metadata: { name: bench-isolation }
dataDir: ${JSON.stringify(dir)}
components:
`;
}

async function once(n: number, hostileN: number, withHostile: boolean) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-bench-isolation-'));
  try {
    const { openQueue } = (await import(path.join(root, 'dist', 'sources', 'embedded', 'index.js'))) as typeof import('../src/sources/embedded/index.js');
    const q = openQueue(dir);
    for (let i = 0; i < n; i++) q.send('good', { body: Buffer.from(`{"n":${i}}\n`) });
    if (withHostile) for (const name of hostileQueued) for (let i = 0; i < hostileN; i++) q.send(name, { body: Buffer.from('x') });
    q.close();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const app = await up(dir, manifest(dir, withHostile), port);
    let stop = false;
    const health = { samples: 0, failures: 0, slowestMs: 0 };
    const hang = { requests: 0, statuses: new Map<number, number>() };
    const loops: Promise<void>[] = [];
    loops.push((async () => {
      while (!stop) {
        const r = await get(`${base}/healthz`);
        health.samples++;
        if (r.status !== 200) health.failures++;
        health.slowestMs = Math.max(health.slowestMs, r.ms);
        await sleep(200);
      }
    })());
    if (withHostile) {
      for (let c = 0; c < 2; c++) {
        loops.push((async () => {
          while (!stop) {
            const r = await get(`${base}/v1/components/hang/http/`);
            hang.requests++;
            hang.statuses.set(r.status, (hang.statuses.get(r.status) ?? 0) + 1);
          }
        })());
      }
    }
    try {
      const rate = await drain(path.join(dir, 'rows.db'), 'good_rows', n);
      const rss = peakRss(app.child.pid!);
      let outcomes = '';
      if (withHostile) {
        const dl = await get(`${base}/v1/dlq?limit=1000`);
        const byReason = new Map<string, number>();
        for (const d of (JSON.parse(dl.body) as { deadLetters: Array<{ component: string; error?: { kind?: string } }> }).deadLetters) {
          const k = `${d.component}: ${d.error?.kind ?? '?'}`;
          byReason.set(k, (byReason.get(k) ?? 0) + 1);
        }
        outcomes = [...byReason].map(([k, v]) => `${k} x${v}`).join(', ');
      }
      return { rate, rss, health, hang, outcomes };
    } finally {
      stop = true;
      await Promise.race([Promise.all(loops), sleep(35_000)]);
      await app.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

export async function run(): Promise<void> {
  if (!fs.existsSync(path.join(root, 'dist', 'runtime', 'budget.js'))) throw new Error('isolation bench runs dist/: run `npm run build` first');
  const n = Number(process.env.FW_BENCH_EVENTS ?? 5000);
  const hostileN = Number(process.env.FW_BENCH_HOSTILE_EVENTS ?? 100);
  const alone = await once(n, hostileN, false);
  const beside = await once(n, hostileN, true);
  console.log(`good component alone:              ${alone.rate.toFixed(0)} events/s, peak RSS ${mib(alone.rss)}`);
  console.log(`good component beside 6 hostiles:  ${beside.rate.toFixed(0)} events/s = ${(beside.rate / alone.rate).toFixed(2)}x alone (goal >= 0.8)`);
  console.log(`host peak RSS with the hostiles:   ${mib(beside.rss)} (goal <= 1024 MiB)`);
  console.log(`/healthz during the hostile run:   ${beside.health.samples} samples, ${beside.health.failures} failed, slowest ${beside.health.slowestMs.toFixed(0)} ms`);
  console.log(`http-wasm hang:                    ${beside.hang.requests} requests, statuses ${[...beside.hang.statuses].map(([s, c]) => `${s} x${c}`).join(', ')}`);
  console.log(`hostile dead letters:              ${beside.outcomes || 'none yet'}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
