// http-wasm middleware cost. Throughput (keep-alive client, 32 in flight, a few seconds each) and
// sequential latency of: the upstream alone; a proxy without guests; a proxy running the no-op guest
// (guests/http/noop.wat) with pooled and with fresh instances. The upstream and the proxy run in their own
// worker threads so the load generator on the main thread does not share their event loop. Also the
// in-process cost of one guest.run() (no HTTP) per instance mode. Goal: proxied >= 50% of direct.
// Usage: npm run bench http-wasm   (FW_BENCH_SECONDS=3 per target, split over 3 interleaved rounds)
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { compileModule } from '../dist/wasm/compile.js';
import { createHttpWasmGuest, emptyResponse, type HttpRequestModel, type InstanceMode } from '../dist/wasm/http-wasm/index.js';
import { startHttpProxy } from '../dist/server/http-proxy.js';

const noopWat = `(module (memory (export "memory") 1)
  (func (export "handle_request") (result i64) (i64.const 1))
  (func (export "handle_response") (param i32 i32)))`;

async function noopModule(): Promise<WebAssembly.Module> {
  const wabt = await (await import('wabt')).default();
  const m = wabt.parseWat('noop.wat', noopWat);
  return compileModule(m.toBinary({}).buffer).module;
}

const silent = { debug() {}, info() {}, warn() {}, error() {}, isLevelEnabled: () => false };

type Role = { role: 'upstream' } | { role: 'proxy'; upstream: string; guests: number; instances: InstanceMode };

async function serveRole(r: Role): Promise<string> {
  if (r.role === 'upstream') {
    const body = Buffer.from('hello from upstream\n');
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
      res.end(body);
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  }
  const module = await noopModule();
  const middleware = Array.from({ length: r.guests }, (_, i) => ({ name: `noop-${i}`, module }));
  const p = await startHttpProxy({ middleware, upstream: r.upstream, log: silent, instances: r.instances });
  return p.url;
}

if (!isMainThread && workerData) {
  const url = await serveRole(workerData as Role);
  parentPort!.postMessage(url);
}

function startWorker(role: Role): Promise<{ url: string; worker: Worker }> {
  // A worker does not inherit tsx's loader in Node 20: register it, then load this file as the worker.
  const code = `import('tsx/esm/api').then((m) => m.tsImport(${JSON.stringify(import.meta.url)}, ${JSON.stringify(import.meta.url)}))`;
  const worker = new Worker(code, { eval: true, workerData: role });
  return new Promise((resolve, reject) => {
    worker.once('message', (url: string) => resolve({ url, worker }));
    worker.once('error', reject);
  });
}

async function load(url: string, seconds: number, concurrency: number): Promise<{ rps: number; meanUs: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(url);
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.request({ agent, host: target.hostname, port: target.port, path: '/bench' }, (res) => {
        res.on('data', () => {});
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end();
    });
  const until = performance.now() + seconds * 1000;
  let done = 0;
  let latency = 0;
  const loop = async () => {
    while (performance.now() < until) {
      const t = performance.now();
      await one();
      latency += performance.now() - t;
      done++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  return { rps: done / elapsed, meanUs: (latency / done) * 1000 };
}

/** In-process: one request model through guest.run with a next that answers at once. */
async function runCost(module: WebAssembly.Module, instances: InstanceMode, n: number): Promise<number> {
  const g = createHttpWasmGuest(module, { log: silent, instances });
  const next = async () => emptyResponse(200);
  const model = (): HttpRequestModel => ({
    method: 'GET', uri: '/bench', protocol: 'HTTP/1.1', sourceAddr: '127.0.0.1:1', headers: new Map([['host', ['x']]]),
    trailers: new Map(), body: new Uint8Array(0),
  });
  for (let i = 0; i < 2000; i++) await g.run(model(), next);
  const t = performance.now();
  for (let i = 0; i < n; i++) await g.run(model(), next);
  return ((performance.now() - t) * 1000) / n;
}

export async function run(): Promise<void> {
  const seconds = Number(process.env.FW_BENCH_SECONDS ?? 3);
  const rounds = 3;
  const module = await noopModule();
  const pooledUs = await runCost(module, 'pooled', 20000);
  const freshUs = await runCost(module, 'fresh', 20000);
  console.log(`guest.run() in process (no HTTP): pooled ${pooledUs.toFixed(1)} µs, fresh ${freshUs.toFixed(1)} µs per request`);

  const up = await startWorker({ role: 'upstream' });
  const proxies = {
    'proxy, no guest': await startWorker({ role: 'proxy', upstream: up.url, guests: 0, instances: 'pooled' }),
    'no-op guest, pooled': await startWorker({ role: 'proxy', upstream: up.url, guests: 1, instances: 'pooled' }),
    'no-op guest, fresh': await startWorker({ role: 'proxy', upstream: up.url, guests: 1, instances: 'fresh' }),
  };
  try {
    await load(up.url, 0.5, 8); // warm-up
    for (const p of Object.values(proxies)) await load(p.url, 0.5, 8);
    // Interleaved rounds, best of each: the machine may be shared, and a burst of someone else's load
    // should not land on one target only.
    const targets: Record<string, string> = { 'upstream alone': up.url };
    for (const [name, p] of Object.entries(proxies)) targets[name] = p.url;
    const best: Record<string, { rps: number; seqUs: number }> = {};
    for (let round = 0; round < rounds; round++) {
      for (const [name, url] of Object.entries(targets)) {
        const r = await load(url, seconds / rounds, 32);
        const seq = await load(url, seconds / rounds / 2, 1);
        const b = (best[name] ??= { rps: 0, seqUs: Infinity });
        b.rps = Math.max(b.rps, r.rps);
        b.seqUs = Math.min(b.seqUs, seq.meanUs);
      }
    }
    const direct = best['upstream alone']!;
    console.log(`upstream alone:        ${direct.rps.toFixed(0)} req/s (32 in flight), ${direct.seqUs.toFixed(0)} µs sequential`);
    for (const name of Object.keys(proxies)) {
      const r = best[name]!;
      console.log(
        `${(name + ':').padEnd(22)} ${r.rps.toFixed(0)} req/s = ${((r.rps / direct.rps) * 100).toFixed(0)}% of direct (goal >= 50%), ` +
          `${r.seqUs.toFixed(0)} µs sequential = +${(r.seqUs - direct.seqUs).toFixed(0)} µs per request`,
      );
    }
  } finally {
    await Promise.all([up, ...Object.values(proxies)].map((w) => w.worker.terminate()));
  }
}

if (isMainThread && process.argv[1] === fileURLToPath(import.meta.url)) await run();
