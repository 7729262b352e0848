// Memory per idle replica: RSS of one process (worker threads included) holding a pool of the echo
// guest at R replicas, after every replica ran events and went idle, less the same process before
// the pool existed. A replica is a slot for one in-flight event: its instance and linear memory live
// only while an event runs, and threads (at most one per core) are shared by all replicas, so an
// idle replica's own cost is its bookkeeping, and the threads' cost is spread over the replicas.
// Goal (issue 14): <= 1 MiB per idle replica beyond its linear memory, read as the cost of one more
// replica on the same threads (rows with the same thread count); the per-thread cost is printed
// beside it (a thread is the compiled module's home, ~12 MiB of V8 isolate). Each R runs in a fresh child
// process so one measurement does not inherit another's heap.
// Usage: npm run bench replica-memory
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const mib = (b: number) => `${(b / 1048576).toFixed(2)} MiB`;

// Runs in the child: `node --expose-gc -e <this> R`.
const child = `
const [R] = process.argv.slice(1).map(Number);
const { createPool } = await import(${JSON.stringify(pathToFileURL(path.join(root, 'dist/runtime/pool.js')).href)});
const { loadModule, defaultLimits } = await import(${JSON.stringify(pathToFileURL(path.join(root, 'dist/wasm/index.js')).href)});
const settle = async () => { for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 100)); } };
const { module } = loadModule(${JSON.stringify(path.join(root, 'guests/build/echo.wasm'))});
await settle();
const before = process.memoryUsage().rss;
const pool = createPool({ module, abi: 'wasi-command', limits: defaultLimits, idleThreadMs: 600000 });
pool.setReplicas(R);
const job = { kind: 'command', stdin: new TextEncoder().encode('{"n":1}\\n'), env: {}, args: [] };
for (let round = 0; round < 20; round++) await Promise.all(Array.from({ length: R }, () => pool.submit(job)));
await settle();
const after = process.memoryUsage().rss;
const s = pool.stats();
console.log(JSON.stringify({ R, threads: s.threads, delta: after - before }));
await pool.close();
`;

export async function run(): Promise<void> {
  console.log(`memory per idle replica (echo guest, 64 KiB linear memory while running, ${os.availableParallelism()} cores, load ${os.loadavg()[0]!.toFixed(1)})`);
  let prev: { R: number; threads: number; delta: number } | null = null;
  for (const R of [1, 2, 64, 512]) {
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', child, String(R)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`replica-memory child failed: ${r.stderr}`);
    const { threads, delta } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { threads: number; delta: number };
    // The replicas added since the previous row, on the same threads: what one more idle replica costs.
    const marginal = prev && prev.threads === threads ? (delta - prev.delta) / (R - prev.R) : null;
    const verdict = marginal === null ? `(${mib(delta / threads)} per thread)` : `one more idle replica ${mib(marginal)}  goal <= 1 MiB: ${marginal <= 1048576 ? 'met' : 'NOT met'}`;
    console.log(`  ${String(R).padStart(4)} replicas on ${threads} threads: RSS +${mib(delta).padStart(10)}  ${verdict}`);
    prev = { R, threads, delta };
  }
}
