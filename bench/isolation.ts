import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { drain, freePort, guests, root, sleep, up } from './host.js';

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

function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
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
    const app = await up(dir, manifest(dir, withHostile), port, 'error');
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
      // The clock runs from the good component's first row to its last.
      const [good] = await drain(path.join(dir, 'rows.db'), 'good_rows', [n], undefined, 900_000);
      const rate = good!.counted / good!.seconds;
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
