// CLI start time, as a user pays it: wall time of `featherweight --version` and `featherweight run
// hello.wasm` through the published entry (bin/featherweight.js -> dist/), against `node -e 0` in
// the same run. The three are interleaved round by round, so load on the machine hits all alike.
// Goals (decision 140): --version <= 1.5x node -e 0, run hello.wasm <= 2x.
// Usage: npm run build && npm run bench cli-start   (FW_BENCH_TRIALS=20)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin/featherweight.js');

// fd_write "hello\n" to stdout, the smallest WASI command that does something visible.
const helloWat = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 6))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`;

function timeOnce(argv: string[], expect: string): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0 || r.stdout !== expect) throw new Error(`${argv.join(' ')}: exit ${r.status}, stdout ${JSON.stringify(r.stdout)}, stderr ${r.stderr}`);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

export async function run(): Promise<void> {
  if (!fs.existsSync(path.join(root, 'dist/cli/bin.js'))) throw new Error('dist/ is missing: npm run build first (this measures the built CLI, as users run it)');
  const trials = Number(process.env.FW_BENCH_TRIALS ?? 20);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-bench-cli-'));
  try {
    const wabt = await wabtInit();
    const mod = wabt.parseWat('hello.wat', helloWat);
    const hello = path.join(dir, 'hello.wasm');
    fs.writeFileSync(hello, mod.toBinary({}).buffer);
    mod.destroy();
    const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
    const cases = [
      { name: 'node -e 0 (baseline)', argv: ['-e', '0'], expect: '' },
      { name: 'featherweight --version', argv: [bin, '--version'], expect: `${version}\n` },
      { name: 'featherweight run hello.wasm', argv: [bin, 'run', hello], expect: 'hello\n' },
    ];
    for (const c of cases) timeOnce(c.argv, c.expect); // warm the file cache
    const times = cases.map(() => [] as number[]);
    for (let i = 0; i < trials; i++) {
      // Rotate the order each round so no case always runs right after another.
      for (let k = 0; k < cases.length; k++) {
        const j = (i + k) % cases.length;
        times[j]!.push(timeOnce(cases[j]!.argv, cases[j]!.expect));
      }
    }
    const base = median(times[0]!);
    console.log(`  ${trials} trials each, interleaved; ${os.availableParallelism()} cores, load average ${os.loadavg()[0]!.toFixed(1)}`);
    cases.forEach((c, i) => {
      const t = times[i]!;
      console.log(`  ${c.name.padEnd(30)} p50 ${median(t).toFixed(1).padStart(7)} ms  p90 ${quantile(t, 0.9).toFixed(1).padStart(7)} ms  ratio ${(median(t) / base).toFixed(2)}x`);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
