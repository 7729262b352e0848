import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPool, poolWorkers, type Pool, type PoolOptions } from '../../src/runtime/pool.js';
import { compileModule, defaultLimits } from '../../src/wasm/index.js';
import { poolGuestWat, watBytes } from './wat.js';

const { module } = compileModule(await watBytes(poolGuestWat));
const WORK = 30_000_000; // tens of ms in Liftoff: long enough for jobs to overlap

function pool(o: Partial<PoolOptions> = {}): Pool {
  return createPool({ module, abi: 'exports', limits: { ...defaultLimits, timeoutMs: 10_000 }, maxThreads: 2, ...o });
}

/** Samples stats() on every macrotask so a transient overshoot would be seen. */
function watch(p: Pool): { stop(): { maxRunning: number; maxBusy: number } } {
  let maxRunning = 0;
  let maxBusy = 0;
  const tick = setInterval(() => {
    const s = p.stats();
    maxRunning = Math.max(maxRunning, s.running);
    maxBusy = Math.max(maxBusy, s.busy);
  }, 1);
  return { stop: () => (clearInterval(tick), { maxRunning, maxBusy }) };
}

test('at most `replicas` jobs hold a slot at once, and raising replicas admits more', async () => {
  const p = pool({ maxThreads: 2, warmThreads: 2 });
  try {
    p.setReplicas(1);
    await p.ready();
    const w = watch(p);
    const jobs = Array.from({ length: 6 }, () => p.submit({ kind: 'export', name: 'work', args: [WORK] }));
    assert.equal(p.stats().busy, 1);
    assert.equal(p.stats().queued, 5);
    const results = await Promise.all(jobs);
    const seen = w.stop();
    assert.ok(results.every((r) => r.ok && r.results[0] === WORK));
    assert.equal(seen.maxBusy, 1);
    assert.equal(seen.maxRunning, 1);

    p.setReplicas(2);
    const w2 = watch(p);
    await Promise.all(Array.from({ length: 6 }, () => p.submit({ kind: 'export', name: 'work', args: [WORK] })));
    const seen2 = w2.stop();
    assert.equal(seen2.maxBusy, 2);
    assert.equal(seen2.maxRunning, 2);
  } finally {
    await p.close();
  }
});

test('more replicas than threads: slots are admitted, at most maxThreads run', async () => {
  const p = pool({ maxThreads: 1, warmThreads: 1 });
  try {
    p.setReplicas(4);
    const w = watch(p);
    const jobs = Array.from({ length: 5 }, () => p.submit({ kind: 'export', name: 'work', args: [WORK / 3] }));
    assert.equal(p.stats().busy, 4);
    assert.equal(p.stats().queued, 1);
    await Promise.all(jobs);
    const seen = w.stop();
    assert.equal(seen.maxRunning, 1);
    assert.equal(p.stats().threads, 1);
  } finally {
    await p.close();
  }
});

test('replicas 0 holds jobs until raised; a warm thread serves the first without a cold start', async () => {
  const p = pool({ warmThreads: 1 });
  try {
    await p.ready();
    let settled = false;
    const job = p.submit({ kind: 'export', name: 'add', args: [1, 2] }).finally(() => (settled = true));
    await sleep(300);
    assert.equal(settled, false);
    assert.deepEqual([p.stats().queued, p.stats().busy, p.stats().threads], [1, 0, 1]);
    p.setReplicas(1);
    const r = await job;
    assert.ok(r.ok);
    assert.deepEqual(r.results, [3]);
    assert.equal(r.coldStart, false);
  } finally {
    await p.close();
  }
});

test('warmThreads 0: the first job waits for a thread and says so', async () => {
  const p = pool({ warmThreads: 0 });
  try {
    assert.equal(p.stats().threads, 0);
    p.setReplicas(1);
    const r = await p.submit({ kind: 'export', name: 'add', args: [2, 3] });
    assert.ok(r.ok && r.results[0] === 5);
    assert.equal(r.coldStart, true);
    assert.equal(p.stats().coldStarts, 1);
  } finally {
    await p.close();
  }
});

test('every job gets a fresh instance: a global counter reads 1 each time', async () => {
  const p = pool({ maxThreads: 2, warmThreads: 2 });
  try {
    p.setReplicas(2);
    const results = await Promise.all(Array.from({ length: 40 }, () => p.submit({ kind: 'export', name: 'count', args: [] })));
    assert.deepEqual(results.map((r) => (r.ok ? r.results[0] : -1)), Array(40).fill(1));
    assert.equal(p.stats().completed, 40);
  } finally {
    await p.close();
  }
});

/**
 * A WASI command that keeps a counter in its memory and a global, prints both plus one and the
 * event's env var N and stdin: made fresh per event, it prints "1 1 <N> <stdin>" every time.
 */
const counterCommandWat = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (func (export "_start") (local $n i32)
    ;; memory[0] and $g start at 0 in a fresh instance
    (i32.store8 (i32.const 100) (i32.add (i32.const 48) (i32.add (i32.load (i32.const 0)) (i32.const 1))))
    (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))
    (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (i32.store8 (i32.const 101) (i32.const 32))
    (i32.store8 (i32.const 102) (i32.add (i32.const 48) (global.get $g)))
    (i32.store8 (i32.const 103) (i32.const 32))
    ;; the one env var, "N=x" at 104: its value byte moves to 104, a space after it
    (drop (call $environ_sizes_get (i32.const 200) (i32.const 204)))
    (drop (call $environ_get (i32.const 208) (i32.const 104)))
    (i32.store8 (i32.const 104) (i32.load8_u (i32.const 106)))
    (i32.store8 (i32.const 105) (i32.const 32))
    ;; iovec at 300: print 100..105 (6 bytes), then stdin read to 400
    (i32.store (i32.const 300) (i32.const 100))
    (i32.store (i32.const 304) (i32.const 6))
    (drop (call $fd_write (i32.const 1) (i32.const 300) (i32.const 1) (i32.const 320)))
    (i32.store (i32.const 300) (i32.const 400))
    (i32.store (i32.const 304) (i32.const 64))
    (drop (call $fd_read (i32.const 0) (i32.const 300) (i32.const 1) (i32.const 320)))
    (i32.store (i32.const 304) (i32.load (i32.const 320)))
    (drop (call $fd_write (i32.const 1) (i32.const 300) (i32.const 1) (i32.const 320)))))`;

test('wasi-command: each event gets a fresh instance and its own env and stdin, back to back and after idle (instances are made ahead)', async () => {
  const command = compileModule(await watBytes(counterCommandWat)).module;
  const p = createPool({ module: command, abi: 'wasi-command', limits: { ...defaultLimits, timeoutMs: 10_000 }, maxThreads: 2, warmThreads: 2 });
  const job = (i: number) => ({ kind: 'command' as const, stdin: new TextEncoder().encode(`in${i}`), env: { N: String(i % 10) }, args: [] });
  const out = (r: { ok: boolean; stdout?: Uint8Array }) => (r.ok ? new TextDecoder().decode(r.stdout) : JSON.stringify(r));
  try {
    await p.ready();
    p.setReplicas(2);
    const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => p.submit(job(i))));
    assert.deepEqual(burst.map(out), Array.from({ length: 30 }, (_, i) => `1 1 ${i % 10} in${i}`));
    for (let i = 0; i < 5; i++) {
      p.setReplicas(0);
      await sleep(5);
      p.setReplicas(1);
      assert.equal(out(await p.submit(job(i + 3))), `1 1 ${(i + 3) % 10} in${i + 3}`);
    }
  } finally {
    await p.close();
  }
});

test('a job past its deadline gets timeout; its thread is replaced and the other replica keeps serving', async () => {
  const p = createPool({ module, abi: 'exports', limits: { ...defaultLimits, timeoutMs: 400 }, maxThreads: 2, warmThreads: 2 });
  try {
    p.setReplicas(2);
    const spin = p.submit({ kind: 'export', name: 'spin', args: [] });
    const others = [];
    for (let i = 0; i < 20; i++) others.push(await p.submit({ kind: 'export', name: 'add', args: [i, 1] }));
    const r = await spin;
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.error.kind === 'timeout');
    assert.ok(!r.ok && /past 400ms/.test(r.error.message), !r.ok ? r.error.message : '');
    assert.deepEqual(others.map((o) => (o.ok ? o.results[0] : -1)), Array.from({ length: 20 }, (_, i) => i + 1));
    const after = await p.submit({ kind: 'export', name: 'add', args: [40, 2] });
    assert.ok(after.ok && after.results[0] === 42);
    const s = p.stats();
    assert.equal(s.timeouts, 1);
    assert.equal(s.threads, 2);
    assert.equal(s.threadStarts, 3);
  } finally {
    await p.close();
  }
});

test('lowering replicas drains: in-flight jobs finish, queued ones wait for a slot', async () => {
  const p = pool({ maxThreads: 2, warmThreads: 2 });
  try {
    p.setReplicas(2);
    const done: number[] = [];
    const jobs = Array.from({ length: 4 }, (_, i) =>
      p.submit({ kind: 'export', name: 'work', args: [WORK] }).then((r) => (done.push(i), r)));
    p.setReplicas(0);
    await Promise.all(jobs.slice(0, 2));
    await sleep(200);
    assert.deepEqual(done.sort(), [0, 1]);
    assert.equal(p.stats().queued, 2);
    assert.equal(p.stats().busy, 0);
    p.setReplicas(1);
    const rest = await Promise.all(jobs.slice(2));
    assert.ok(rest.every((r) => r.ok));
  } finally {
    await p.close();
  }
});

test('close lets running jobs finish, rejects queued ones, then refuses new jobs and ends every thread', async () => {
  const p = pool({ maxThreads: 2, warmThreads: 2 });
  p.setReplicas(1);
  await p.ready();
  const running = p.submit({ kind: 'export', name: 'work', args: [WORK * 10] });
  const queued = p.submit({ kind: 'export', name: 'add', args: [1, 1] });
  assert.equal(p.stats().queued, 1); // replicas 1: it cannot start before the running job ends
  const closing = p.close();
  await assert.rejects(queued, /pool closed before the job started/);
  const r = await running;
  assert.ok(r.ok && r.results[0] === WORK * 10);
  await closing;
  assert.equal(p.stats().threads, 0);
  await assert.rejects(p.submit({ kind: 'export', name: 'add', args: [1, 1] }), /pool is closed/);
  assert.throws(() => p.setReplicas(1), /pool is closed/);
});

test('a worker thread that dies fails only its own job; the pool replaces it', async () => {
  const p = pool({ maxThreads: 1, warmThreads: 1 });
  try {
    p.setReplicas(1);
    await p.submit({ kind: 'export', name: 'add', args: [0, 0] });
    const victim = p.submit({ kind: 'export', name: 'spin', args: [] });
    const next = p.submit({ kind: 'export', name: 'add', args: [2, 2] });
    await sleep(50);
    const workers = p[poolWorkers]!();
    assert.equal(workers.length, 1);
    await workers[0]!.terminate(); // from outside the pool: an unexpected exit
    const r = await victim;
    assert.ok(!r.ok && r.error.kind === 'trap' && /worker thread died/.test(r.error.message));
    const n = await next;
    assert.ok(n.ok && n.results[0] === 4);
    assert.equal(p.stats().crashes, 1);
  } finally {
    await p.close();
  }
});

test('rejects jobs of the other ABI and bad replica counts', async () => {
  const p = pool({ warmThreads: 0 });
  try {
    await assert.rejects(p.submit({ kind: 'command', stdin: new Uint8Array(), env: {}, args: [] }), /exports ABI: submit jobs of kind 'export'/);
    assert.throws(() => p.setReplicas(-1), /integer >= 0/);
    assert.throws(() => p.setReplicas(1.5), /integer >= 0/);
  } finally {
    await p.close();
  }
});

test('recycled threads: a replacement starts first, every job still answers, no job waits for it', async () => {
  const p = pool({ maxThreads: 1, warmThreads: 1, recycleAfterJobs: 100 });
  try {
    p.setReplicas(1);
    await p.submit({ kind: 'export', name: 'add', args: [0, 0] });
    let cold = 0;
    for (let i = 0; i < 450; i++) {
      const r = await p.submit({ kind: 'export', name: 'count', args: [] });
      assert.ok(r.ok && r.results[0] === 1);
      if (r.coldStart) cold++;
    }
    const s = p.stats();
    assert.ok(s.threadStarts >= 2, `threadStarts ${s.threadStarts}`);
    assert.ok(s.threads <= 2, `threads ${s.threads}`);
    // The old thread serves until its replacement is ready, so recycling never makes a job wait.
    assert.equal(cold, 0);
  } finally {
    await p.close();
  }
});

test('threads follow replicas up to maxThreads; idle extras stop, warm ones stay', async () => {
  const p = pool({ maxThreads: 2, warmThreads: 1, idleThreadMs: 100 });
  try {
    assert.equal(p.stats().threads, 1);
    p.setReplicas(5);
    assert.equal(p.stats().threads, 2); // started ahead of any job, capped by maxThreads
    await p.ready();
    assert.equal(p.stats().idleThreads, 2);
    p.setReplicas(0);
    while (p.stats().threads > 1) await sleep(20);
    await sleep(300);
    assert.equal(p.stats().threads, 1); // the warm one is kept at 0 replicas
  } finally {
    await p.close();
  }
});

test('a Buffer from the shared slab as stdin is copied, never detached', async () => {
  const { createPool: mk } = await import('../../src/runtime/pool.js');
  const { loadModule } = await import('../../src/wasm/compile.js');
  const { module } = loadModule(new URL('../../guests/build/echo.wasm', import.meta.url).pathname);
  const pool = mk({ module, abi: 'wasi-command', limits: { maxMemoryBytes: 16 << 20, timeoutMs: 5000, maxStdinBytes: 1 << 20, maxStdoutBytes: 1 << 20 } });
  try {
    pool.setReplicas(1);
    const neighbour = Buffer.from('neighbour'); // small Buffers share one pooled ArrayBuffer
    const stdin = Buffer.from('hello slab');
    assert.ok(stdin.byteLength < stdin.buffer.byteLength, 'the test needs a Buffer that is a view of a larger slab');
    const r = await pool.submit({ kind: 'command', stdin, env: {}, args: [] });
    assert.equal(r.ok, true);
    assert.equal(Buffer.from(r.stdout).toString(), 'hello slab');
    assert.equal(stdin.buffer.byteLength > 0, true, 'the slab is still attached');
    assert.equal(neighbour.toString(), 'neighbour');
    assert.equal(stdin.toString(), 'hello slab');
  } finally {
    await pool.close();
  }
});

test('ready() rejects, instead of hanging, when worker threads keep failing to start', { timeout: 60_000 }, async () => {
  const p = pool({ maxThreads: 1, warmThreads: 1 });
  const ready = p.ready();
  let settled = false;
  ready.then(() => (settled = true), () => (settled = true));
  try {
    // Kill each thread while it is still starting, until the pool gives up on starting more.
    for (let i = 0; i < 50 && !settled; i++) {
      await Promise.all(p[poolWorkers]!().map((w) => w.terminate()));
      await sleep(2);
    }
    await assert.rejects(ready, /worker threads fail to start/);
  } finally {
    await p.close();
  }
});
