// Per-event cost of the wasi-command ABI: a fresh WASI context + instance + _start + collected output
// for the trivial guest (guests/wat/noop.wat), against a bare `new WebAssembly.Instance` of the same
// module measured in the same process. Goal: <= 50 µs p50.
// Usage: npm run bench wasm-instance   (FW_BENCH_RUNS=20000 by default)
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultLimits, loadModule, runWasiCommand } from '../dist/wasm/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function guestFile(name: string): string {
  const p = path.join(root, 'guests/build', `${name}.wasm`);
  if (!existsSync(p)) execFileSync(process.execPath, [path.join(root, 'scripts/build-guests.mjs')], { stdio: 'inherit' });
  return p;
}

function measure(runs: number, fn: () => void): { p50: number; p99: number; mean: number } {
  const warm = Math.min(2000, Math.ceil(runs / 10));
  for (let i = 0; i < warm; i++) fn();
  const t = new Float64Array(runs);
  const start = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) {
    const a = process.hrtime.bigint();
    fn();
    t[i] = Number(process.hrtime.bigint() - a) / 1000;
  }
  const mean = Number(process.hrtime.bigint() - start) / 1000 / runs;
  t.sort();
  return { p50: t[Math.floor(runs * 0.5)]!, p99: t[Math.floor(runs * 0.99)]!, mean };
}

const fmt = (x: number): string => `${x.toFixed(1)} µs`;

export async function run(): Promise<void> {
  const runs = Number(process.env.FW_BENCH_RUNS ?? 20000);
  const file = guestFile('noop');
  const bare = new WebAssembly.Module(readFileSync(file));
  const { module } = loadModule(file);
  const input = { stdin: new Uint8Array(0), env: { EVENT_ID: 'bench', EVENT_SOURCE: 'bench', EVENT_SUBJECT: 'bench' }, args: [] };

  // The baseline goes last: each bare instance leaves a 10 GiB-reserving Memory for the GC, which would
  // otherwise land in the tail of whatever runs next.
  let failures = 0;
  const cmd = measure(runs, () => {
    if (!runWasiCommand(module, input, defaultLimits).ok) failures++;
  });
  const echoFile = guestFile('echo');
  const echo = loadModule(echoFile).module;
  const echoInput = { ...input, stdin: new TextEncoder().encode('{"hello":"world"}\n') };
  const echoRun = measure(Math.ceil(runs / 4), () => {
    if (!runWasiCommand(echo, echoInput, defaultLimits).ok) failures++;
  });
  (globalThis as { gc?: () => void }).gc?.();
  const base = measure(runs, () => {
    new WebAssembly.Instance(bare, {});
  });
  // Lower bound: the instantiation alone, of the rewritten module, with one memory passed in every time.
  const shared = { featherweight: { memory: new WebAssembly.Memory({ initial: 1, maximum: 1024 }) } };
  const instOnly = measure(runs, () => {
    new WebAssembly.Instance(module, shared);
  });
  if (failures) throw new Error(`${failures} guest runs failed`);
  console.log(`runs: ${runs} (node ${process.version})`);
  console.log(`bare new WebAssembly.Instance (noop):       p50 ${fmt(base.p50)}  p99 ${fmt(base.p99)}  mean ${fmt(base.mean)}`);
  console.log(`wasi-command run (noop: WASI+inst+_start):  p50 ${fmt(cmd.p50)}  p99 ${fmt(cmd.p99)}  mean ${fmt(cmd.mean)}  goal <= 50 µs p50: ${cmd.p50 <= 50 ? 'met' : 'MISSED'}`);
  console.log(`wasi-command run (echo, AssemblyScript):    p50 ${fmt(echoRun.p50)}  p99 ${fmt(echoRun.p99)}  mean ${fmt(echoRun.mean)}`);
  console.log(`instantiation only, memory passed in:       p50 ${fmt(instOnly.p50)}  p99 ${fmt(instOnly.p99)}  mean ${fmt(instOnly.mean)}`);
  console.log(`ratio wasi-command / bare instance (p50):   ${(cmd.p50 / base.p50).toFixed(2)}x  (the bare one pays for a fresh memory; ours reuses a wiped one)`);
  console.log(`ratio wasi-command / instantiation only:    ${(cmd.p50 / instOnly.p50).toFixed(2)}x  (what WASI context, _start and output collection add)`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await run();
