// Scale from zero: submit-to-result of the first event after setReplicas(0) -> setReplicas(1) with a warm
// thread (goal, issue 14: <= 0.1 ms p50; one thread round trip plus one instance is the floor), against the same handler started cold as a new worker thread and as a new
// `node` child process, all measured in this run.
// Usage: npm run bench pool   (FW_BENCH_TRIALS=200 warm trials; FW_BENCH_COLD_TRIALS=20 cold ones)
//
// The runtime is loaded from dist/ (run `npx tsc -p tsconfig.json` first), so the worker threads and the
// child process load the compiled JavaScript a deployed host runs (under tsx each thread would
// transpile TypeScript on start).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

import type { CommandJob } from '../dist/runtime/pool.js';

type PoolMod = typeof import('../dist/runtime/pool.js');
type WasmMod = typeof import('../dist/wasm/index.js');

const dist = path.join(root, 'dist');

async function load(): Promise<{ pool: PoolMod; wasm: WasmMod }> {
  if (!fs.existsSync(path.join(dist, 'runtime', 'pool.js'))) throw new Error('dist/ is missing: run `npx tsc -p tsconfig.json` first');
  return {
    pool: (await import(pathToFileURL(path.join(dist, 'runtime', 'pool.js')).href)) as PoolMod,
    wasm: (await import(pathToFileURL(path.join(dist, 'wasm', 'index.js')).href)) as WasmMod,
  };
}

function stats(us: number[]): { p50: number; p99: number } {
  const s = [...us].sort((a, b) => a - b);
  return { p50: s[Math.floor(s.length * 0.5)]!, p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]! };
}

const ms = (us: number) => `${(us / 1000).toFixed(2)} ms`;

export async function run(): Promise<void> {
  const trials = Number(process.env.FW_BENCH_TRIALS ?? 200);
  const coldTrials = Number(process.env.FW_BENCH_COLD_TRIALS ?? 20);
  {
    const { pool: rt, wasm } = await load();
    const guestPath = path.join(root, 'guests/build/echo.wasm');
    const { module } = wasm.loadModule(guestPath);
    const stdin = new TextEncoder().encode('{"hello":"world"}\n');
    const job: CommandJob = { kind: 'command', stdin, env: { EVENT_ID: 'bench' }, args: [] };
    const check = (r: { ok: boolean }) => {
      if (!r.ok) throw new Error(`guest failed: ${JSON.stringify(r)}`);
    };

    // 1. Warm thread: replicas 0 -> 1, first event.
    const pool = rt.createPool({ module, abi: 'wasi-command', limits: wasm.defaultLimits, warmThreads: 1 });
    await pool.ready();
    pool.setReplicas(1);
    for (let i = 0; i < 50; i++) check(await pool.submit(job)); // let V8 tier up both sides
    const warm: number[] = [];
    const waits: number[] = [];
    const runs: number[] = [];
    let cold = 0;
    for (let i = 0; i < trials; i++) {
      pool.setReplicas(0);
      await new Promise((r) => setTimeout(r, 2)); // at zero for a moment, as after a cooldown
      const t0 = performance.now();
      pool.setReplicas(1);
      const r = await pool.submit(job);
      warm.push((performance.now() - t0) * 1000);
      waits.push(r.waitUs);
      runs.push(r.durationUs);
      check(r);
      if (r.coldStart) cold++;
    }
    await pool.close();

    // The floor's thread part on this machine, in this run: a bare worker that echoes a message,
    // after the same 2 ms idle (both threads asleep, as the pool's are).
    const bare: number[] = [];
    {
      const echo = new Worker(`require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m));`, { eval: true });
      const rtt = () =>
        new Promise<number>((resolve) => {
          const t0 = performance.now();
          echo.once('message', () => resolve((performance.now() - t0) * 1000));
          echo.postMessage(1);
        });
      for (let i = 0; i < 50; i++) await rtt();
      for (let i = 0; i < trials; i++) {
        await new Promise((r) => setTimeout(r, 2));
        bare.push(await rtt());
      }
      await echo.terminate();
    }

    // 2. Cold worker thread: a new pool with no warm thread, first event.
    const thread: number[] = [];
    for (let i = 0; i < coldTrials; i++) {
      const t0 = performance.now();
      const p = rt.createPool({ module, abi: 'wasi-command', limits: wasm.defaultLimits, warmThreads: 0 });
      p.setReplicas(1);
      const r = await p.submit(job);
      thread.push((performance.now() - t0) * 1000);
      check(r);
      await p.close();
    }

    // 3. Cold process: `node` starts, loads the runtime, compiles the module, runs the event, prints.
    const script = `import { loadModule, runWasiCommand, defaultLimits } from ${JSON.stringify(pathToFileURL(path.join(dist, 'wasm', 'index.js')).href)};
const { module } = loadModule(${JSON.stringify(guestPath)});
const r = runWasiCommand(module, { stdin: new TextEncoder().encode(${JSON.stringify(new TextDecoder().decode(stdin))}), env: {}, args: [] }, defaultLimits);
process.stdout.write(r.stdout); process.exitCode = r.ok ? 0 : 1;`;
    const child: number[] = [];
    for (let i = 0; i < coldTrials; i++) {
      const t0 = performance.now();
      const out = await new Promise<string>((resolve, reject) => {
        const c = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
        let s = '';
        c.stdout.on('data', (d) => (s += d));
        c.on('error', reject);
        c.on('close', (code) => (code === 0 ? resolve(s) : reject(new Error(`child exited ${code}`))));
      });
      child.push((performance.now() - t0) * 1000);
      if (out !== '{"hello":"world"}\n') throw new Error(`child printed ${JSON.stringify(out)}`);
    }

    const w = stats(warm);
    const b = stats(bare);
    const t = stats(thread);
    const c = stats(child);
    console.log(`scale from zero, first event submit-to-result (echo guest, node ${process.version}, ${os.availableParallelism()} cores, load average ${os.loadavg()[0]!.toFixed(1)})`);
    console.log(`  warm thread, replicas 0->1   p50 ${ms(w.p50)}  p99 ${ms(w.p99)}  (${trials} trials, ${cold} cold)  goal <= 0.1 ms p50: ${w.p50 <= 100 ? 'met' : 'NOT met'}`);
    console.log(`    of which: submit to start on the thread p50 ${ms(stats(waits).p50)}, the run there p50 ${ms(stats(runs).p50)}`);
    console.log(`  bare worker round trip after the same idle   p50 ${ms(b.p50)}  p99 ${ms(b.p99)}  (no guest, no pool: the machine's floor)  warm/bare ${(w.p50 / b.p50).toFixed(1)}x`);
    console.log(`  cold worker thread           p50 ${ms(t.p50)}  p99 ${ms(t.p99)}  (${coldTrials} trials)  ratio ${(t.p50 / w.p50).toFixed(0)}x`);
    console.log(`  cold node child process      p50 ${ms(c.p50)}  p99 ${ms(c.p99)}  (${coldTrials} trials)  ratio ${(c.p50 / w.p50).toFixed(0)}x`);
  }
}
