// Thread round trips: a dispatcher-like client keeps `replicas` trivial events in flight on a pool of 2
// threads, with batches (one message carries several jobs, decision 231) and with one message per job
// (maxBatch 1), alternating in the same run. Printed: events/s and the main thread's event-loop
// utilisation per event (the main thread is what the pipeline runs out of, issue 14).
// Usage: npm run bench -- pool-batch   (FW_BENCH_EVENTS=20000 per round, FW_BENCH_ROUNDS=3)
// Runs dist/ (run `npx tsc -p tsconfig.json` first), as a deployed host does.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CommandJob } from '../dist/runtime/pool.js';

type PoolMod = typeof import('../dist/runtime/pool.js');
type WasmMod = typeof import('../dist/wasm/index.js');

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');

async function drive(rt: PoolMod, module: WebAssembly.Module, limits: WasmMod['defaultLimits'], maxBatch: number, n: number, replicas: number) {
  const pool = rt.createPool({ module, abi: 'wasi-command', limits, maxThreads: 2, warmThreads: 2, maxBatch });
  await pool.ready();
  pool.setReplicas(replicas);
  const stdin = new TextEncoder().encode('{"hello":"world"}\n');
  const job = (): CommandJob => ({ kind: 'command', stdin, env: { EVENT_ID: 'bench' }, args: [] });
  for (let i = 0; i < 500; i++) await pool.submit(job()); // warm both sides
  let submitted = 0;
  let done = 0;
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const next = () => {
      if (submitted >= n) return;
      submitted++;
      pool.submit(job()).then((r) => {
        if (!r.ok) return reject(new Error(`guest failed: ${JSON.stringify(r.error)}`));
        if (++done === n) resolve();
        else next();
      }, reject);
    };
    for (let i = 0; i < replicas; i++) next();
  });
  const seconds = (performance.now() - t0) / 1000;
  const elu = performance.eventLoopUtilization(elu0);
  await pool.close();
  return { rate: n / seconds, mainUsPerEvent: (elu.active * 1000) / n };
}

export async function run(): Promise<void> {
  if (!fs.existsSync(path.join(dist, 'runtime', 'pool.js'))) throw new Error('dist/ is missing: run `npx tsc -p tsconfig.json` first');
  const rt = (await import(pathToFileURL(path.join(dist, 'runtime', 'pool.js')).href)) as PoolMod;
  const wasm = (await import(pathToFileURL(path.join(dist, 'wasm', 'index.js')).href)) as WasmMod;
  const { module } = wasm.loadModule(path.join(root, 'guests/build/echo.wasm'));
  const n = Number(process.env.FW_BENCH_EVENTS ?? 20_000);
  const rounds = Number(process.env.FW_BENCH_ROUNDS ?? 3);
  const replicas = 8;
  const rows: Record<string, { rate: number[]; us: number[] }> = { 'maxBatch 1': { rate: [], us: [] }, 'maxBatch 32': { rate: [], us: [] } };
  for (let r = 0; r < rounds; r++) {
    for (const b of r % 2 === 0 ? [1, 32] : [32, 1]) {
      const m = await drive(rt, module, wasm.defaultLimits, b, n, replicas);
      rows[`maxBatch ${b}`]!.rate.push(m.rate);
      rows[`maxBatch ${b}`]!.us.push(m.mainUsPerEvent);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const load = () => os.loadavg()[0]!.toFixed(1);
  const base = median(rows['maxBatch 1']!.rate);
  for (const [name, v] of Object.entries(rows)) {
    const rate = median(v.rate);
    console.log(`pool-batch: echo guest, ${replicas} in flight on 2 threads, ${name.padEnd(12)} ${Math.round(rate).toString().padStart(7)} events/s  ${(rate / base).toFixed(2)}x  main thread ${median(v.us).toFixed(1)} µs/event (median of ${rounds}; load ${load()} on ${os.availableParallelism()} cores)`);
  }
}
