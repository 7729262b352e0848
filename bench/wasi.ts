// Per-run cost of the WASI preview1 shim (src/wasm/wasi/): a fresh trivial command (guests/wat/noop.wat)
// with no grants and with one directory grant, and a guest that opens and reads one granted file
// through the sandboxed path walk (guests/as/openfile.ts), each against a bare `new WebAssembly.Instance`
// of the noop module measured in the same run.
// Usage: npm run bench -- wasi   (FW_BENCH_RUNS=20000 by default)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultLimits, loadModule, runWasiCommand, type Grants } from '../dist/wasm/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function guestFile(name: string): string {
  const p = path.join(root, 'guests/build', `${name}.wasm`);
  if (!existsSync(p)) execFileSync(process.execPath, [path.join(root, 'scripts/build-guests.mjs')], { stdio: 'inherit' });
  return p;
}

function p50(runs: number, fn: () => void): number {
  for (let i = 0; i < Math.min(2000, Math.ceil(runs / 10)); i++) fn();
  const t = new Float64Array(runs);
  for (let i = 0; i < runs; i++) {
    const a = process.hrtime.bigint();
    fn();
    t[i] = Number(process.hrtime.bigint() - a) / 1000;
  }
  t.sort();
  return t[Math.floor(runs * 0.5)]!;
}

export async function run(): Promise<void> {
  const runs = Number(process.env.FW_BENCH_RUNS ?? 20000);
  const noopFile = guestFile('noop');
  const noop = loadModule(noopFile).module;
  const openfile = loadModule(guestFile('openfile')).module;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-bench-wasi-'));
  writeFileSync(path.join(dir, 'note.txt'), 'a line\n');
  const grants: Grants = { env: {}, dirs: [{ host: dir, guest: '/data', writable: false }] };
  const input = { stdin: new Uint8Array(0), env: { EVENT_ID: 'bench' }, args: [] as string[] };
  const readInput = { ...input, args: ['read', 'note.txt'] };
  let failures = 0;
  try {
    const plain = p50(runs, () => { if (!runWasiCommand(noop, input, defaultLimits).ok) failures++; });
    const granted = p50(runs, () => { if (!runWasiCommand(noop, input, defaultLimits, grants).ok) failures++; });
    const read = p50(Math.ceil(runs / 4), () => { if (!runWasiCommand(openfile, readInput, defaultLimits, grants).ok) failures++; });
    (globalThis as { gc?: () => void }).gc?.();
    const bare = new WebAssembly.Module(readFileSync(noopFile));
    const base = p50(runs, () => { new WebAssembly.Instance(bare, {}); });
    if (failures) throw new Error(`${failures} guest runs failed`);
    const row = (name: string, v: number) => console.log(`${name.padEnd(44)} p50 ${v.toFixed(1).padStart(6)} µs  ${(v / base).toFixed(2)}x bare`);
    console.log(`runs: ${runs} (node ${process.version})`);
    row('bare new WebAssembly.Instance (noop)', base);
    row('wasi-command noop, no grants', plain);
    row('wasi-command noop, one dir grant', granted);
    row('openfile: open + read + close a granted file', read);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await run();
