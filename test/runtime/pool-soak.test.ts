// 100,000 events in a row through one replica: RSS, threads and the address space V8 reserves for
// Wasm memories (~10 GiB per live memory) stay bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createPool } from '../../src/runtime/pool.js';
import { compileModule, defaultLimits } from '../../src/wasm/index.js';
import { watBytes } from './wat.js';

const GiB = 2 ** 30;
const TiB = 2 ** 40;

/** Virtual size of this process (Linux), in bytes; null elsewhere. */
function vmSize(): number | null {
  try {
    const m = /VmSize:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

test('100,000 sequential events through one replica keep RSS, threads and reserved address space bounded', async () => {
  // Grows its memory on every run, so the wasm layer cannot hand the memory on to the next event (it
  // reuses only memories that did not grow): each event reserves a new ~10 GiB region that only GC or
  // the end of the thread gives back. This is the case thread recycling bounds.
  const { module } = compileModule(await watBytes(`(module (memory (export "memory") 1)
    (func (export "_start") (drop (memory.grow (i32.const 1)))))`));
  const recycleAfterJobs = 2000;
  const pool = createPool({ module, abi: 'wasi-command', limits: defaultLimits, maxThreads: 1, warmThreads: 1, recycleAfterJobs });
  try {
    pool.setReplicas(1);
    await pool.ready();
    const stdin = new Uint8Array(0);
    // Warm up, then take the baseline.
    for (let i = 0; i < 500; i++) await pool.submit({ kind: 'command', stdin, env: {}, args: [] });
    const rss0 = process.memoryUsage().rss;
    const vm0 = vmSize();
    let maxRss = rss0;
    let maxVm = vm0 ?? 0;
    let maxThreads = 0;
    for (let i = 0; i < 100_000; i++) {
      const r = await pool.submit({ kind: 'command', stdin, env: {}, args: [] });
      if (!r.ok) assert.fail(`event ${i}: ${JSON.stringify(r.error)}`);
      if (i % 500 === 0) {
        maxRss = Math.max(maxRss, process.memoryUsage().rss);
        maxVm = Math.max(maxVm, vmSize() ?? 0);
        maxThreads = Math.max(maxThreads, pool.stats().threads);
      }
    }
    const s = pool.stats();
    console.log(`# rss ${(rss0 / 2 ** 20).toFixed(0)} -> max ${(maxRss / 2 ** 20).toFixed(0)} MiB; ` +
      `vm ${vm0 === null ? 'n/a' : `${(vm0 / TiB).toFixed(2)} -> max ${(maxVm / TiB).toFixed(2)} TiB`}; ` +
      `thread starts ${s.threadStarts}, cold starts ${s.coldStarts}`);
    assert.equal(s.completed, 100_500);
    // One serving thread plus, while recycling, its replacement.
    assert.ok(maxThreads <= 2, `threads peaked at ${maxThreads}`);
    // Recycled: the old thread serves until its replacement is ready, so how often depends on the machine.
    assert.ok(s.threadStarts >= 2, `threads were recycled (${s.threadStarts} starts)`);
    assert.ok(maxRss - rss0 < 256 * 2 ** 20, `RSS grew by ${((maxRss - rss0) / 2 ** 20).toFixed(0)} MiB`);
    if (vm0 !== null) {
      // At most ~recycleAfterJobs uncollected memories per thread (x2 threads while recycling), 10 GiB each.
      const bound = vm0 + 2 * 2 * recycleAfterJobs * 10 * GiB;
      assert.ok(maxVm <= bound, `reserved address space peaked at ${(maxVm / TiB).toFixed(1)} TiB (bound ${(bound / TiB).toFixed(1)} TiB)`);
    }
  } finally {
    await pool.close();
  }
});

test('by default a thread is recycled after creating ~6,000 memories, not after ~6,000 jobs: jobs whose memory is reused cost nothing', async () => {
  const grows = compileModule(await watBytes(`(module (memory (export "memory") 1)
    (func (export "_start") (drop (memory.grow (i32.const 1)))))`)).module;
  const steady = compileModule(await watBytes(`(module (memory (export "memory") 1)
    (func (export "_start")))`)).module;
  const stdin = new Uint8Array(0);
  const run = async (module: WebAssembly.Module, n: number) => {
    const pool = createPool({ module, abi: 'wasi-command', limits: defaultLimits, maxThreads: 1, warmThreads: 1 });
    try {
      pool.setReplicas(4);
      await pool.ready();
      // 4 in flight so jobs go in batches, as under a dispatcher
      for (let i = 0; i < n; i += 4) {
        const rs = await Promise.all([0, 1, 2, 3].map(() => pool.submit({ kind: 'command', stdin, env: {}, args: [] })));
        for (const r of rs) if (!r.ok) assert.fail(JSON.stringify(r.error));
      }
      return pool.stats();
    } finally {
      await pool.close();
    }
  };
  // maxThreads 1: the budget is 6,000 memories for the thread.
  const reused = await run(steady, 8_000);
  assert.equal(reused.threadStarts, 1, 'memories that did not grow are reused: no reason to recycle');
  const fresh = await run(grows, 8_000);
  assert.ok(fresh.threadStarts >= 2, `a new memory per event: recycled (${fresh.threadStarts} thread starts)`);
});
