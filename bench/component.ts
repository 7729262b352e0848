// Per-event cost of abi: component: a fresh instance of a WASI 0.2 component (every core module
// instantiated, a fresh handle table and WASI 0.2 host, wasi:cli/run called, output collected), beside
// the same C program built as a core wasm32-wasi module and run by the wasi-command ABI in the same
// process. The component is guests/c/hello.c made a component by jco's preview1 command adapter.
// Goal: <= 1 ms p50 per fresh component instance. Then examples/mail-lines-ts (a ComponentizeJS
// component, built once and cached in the temp dir: minutes the first time) on one mail, beside the
// AssemblyScript mail-lines core module. Goal: <= 10 ms p50.
// Both are measured warm, as a long-running host sees them: V8 compiles a 12 MB engine's functions
// lazily and tiers them up while they run, so the first events of a process cost more; the first one
// is printed apart ("cold").
// Usage: npm run bench -- component   (FW_BENCH_RUNS=2000, FW_BENCH_JS_RUNS=300, FW_BENCH_JS_WARMUP=200
// by default; needs clang + wasi-libc)
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileModule } from '../dist/wasm/compile.js';
import { defaultLimits, loadModule, runWasiCommand } from '../dist/wasm/index.js';
import { loadComponent, runComponentCommand } from '../dist/wasm/component/index.js';
import { buildCached, cComponent, cCore, missingCToolchain } from '../test/wasm/component-guests.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function measure(runs: number, fn: () => void, warmup = Math.min(500, Math.ceil(runs / 4))): { p50: number; p90: number; p99: number } {
  for (let i = 0; i < warmup; i++) fn();
  const t = new Float64Array(runs);
  for (let i = 0; i < runs; i++) {
    const a = process.hrtime.bigint();
    fn();
    t[i] = Number(process.hrtime.bigint() - a) / 1000;
  }
  t.sort();
  return { p50: t[Math.floor(runs * 0.5)]!, p90: t[Math.floor(runs * 0.9)]!, p99: t[Math.floor(runs * 0.99)]! };
}

const fmt = (x: number): string => (x >= 1000 ? `${(x / 1000).toFixed(2)} ms` : `${x.toFixed(1)} µs`);

export async function run(): Promise<void> {
  const why = missingCToolchain();
  if (why) {
    console.log(`skipped: ${why}`);
    return;
  }
  const runs = Number(process.env.FW_BENCH_RUNS ?? 2000);
  console.log(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} on ${os.availableParallelism()} cores`);
  const source = readFileSync(path.join(root, 'guests/c/hello.c'), 'utf8');
  const core = compileModule(cCore(source)).module;
  const image = loadComponent(await cComponent(source));
  const input = { stdin: new TextEncoder().encode('mail body\n'), env: { EVENT_ID: 'bench' }, args: [] };
  let failures = 0;
  const comp = measure(runs, () => {
    if (!runComponentCommand(image, input, defaultLimits).ok) failures++;
  });
  (globalThis as { gc?: () => void }).gc?.();
  const base = measure(runs, () => {
    if (!runWasiCommand(core, input, defaultLimits).ok) failures++;
  });
  const row = (name: string, m: { p50: number; p90: number; p99: number }) =>
    console.log(`${name.padEnd(44)} p50 ${fmt(m.p50).padStart(9)}  p90 ${fmt(m.p90).padStart(9)}  p99 ${fmt(m.p99).padStart(9)}  ${(m.p50 / base.p50).toFixed(1)}x`);
  console.log(`hello.c per event, fresh instance, ${runs} runs (ratio: p50 against the core module)`);
  row('core module, abi: wasi-command (baseline)', base);
  row(`component (${image.modules.length} core modules), abi: component`, comp);
  console.log(`goal <= 1 ms p50 per fresh component instance: ${comp.p50 <= 1000 ? 'met' : 'NOT met'}${failures ? `; ${failures} runs failed` : ''}`);

  const jsRuns = Number(process.env.FW_BENCH_JS_RUNS ?? 300);
  const jsWarmup = Number(process.env.FW_BENCH_JS_WARMUP ?? 200);
  const js = loadComponent(buildCached(path.join(root, 'examples/mail-lines-ts'), 'build/mail-lines-ts.wasm'));
  const as = loadModule(path.join(root, 'guests/build/mail-lines.wasm')).module;
  const mail = new TextEncoder().encode(JSON.stringify({ attachments: [{ filename: 'a.txt', contentType: 'text/plain', content: Buffer.from('one\ntwo\nthree\n').toString('base64') }] }));
  const mailInput = { stdin: mail, env: { EVENT_ID: 'bench' }, args: [] };
  const jsLimits = { ...defaultLimits, maxMemoryBytes: 256 * 1024 * 1024 };
  const c0 = process.hrtime.bigint();
  if (!runComponentCommand(js, mailInput, jsLimits).ok) failures++;
  const cold = Number(process.hrtime.bigint() - c0) / 1000;
  const jsRun = measure(jsRuns, () => {
    if (!runComponentCommand(js, mailInput, jsLimits).ok) failures++;
  }, jsWarmup);
  (globalThis as { gc?: () => void }).gc?.();
  const asRun = measure(jsRuns * 10, () => {
    if (!runWasiCommand(as, mailInput, defaultLimits).ok) failures++;
  });
  console.log(`\nmail-lines on one mail, fresh instance, ${jsRuns} runs after ${jsWarmup} (ratio: p50 against the AssemblyScript core module)`);
  const row2 = (name: string, m: { p50: number; p90: number; p99: number }) =>
    console.log(`${name.padEnd(44)} p50 ${fmt(m.p50).padStart(9)}  p90 ${fmt(m.p90).padStart(9)}  p99 ${fmt(m.p99).padStart(9)}  ${(m.p50 / asRun.p50).toFixed(0)}x`);
  row2('AssemblyScript core module (baseline)', asRun);
  row2(`ComponentizeJS component (${(js.modules.length)} core modules)`, jsRun);
  console.log(`${'ComponentizeJS, first event of the process (cold)'.padEnd(44)} ${fmt(cold).padStart(13)}`);
  console.log(`goal <= 10 ms p50 per fresh ComponentizeJS instance: ${jsRun.p50 <= 10_000 ? 'met' : 'NOT met'}${failures ? `; ${failures} runs failed` : ''}`);
}
