// Jobs go to a thread in batches (one message for several, decision 231) and a killed guest's output
// reaches the main thread through the thread's board (decision 230): each job of a batch still has its
// own fresh instance and its own deadline, and a batch killed by its watchdog settles exactly what ran.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createPool, type ExportResult } from '../../src/runtime/pool.js';
import { compileModule, defaultLimits, loadModule } from '../../src/wasm/index.js';
import { repoRoot } from '../helpers/cli.js';
import { oneComponent, tempDir, waitUntil, withApp } from '../app/helpers.js';
import { poolGuestWat, watBytes } from './wat.js';

const { module } = compileModule(await watBytes(poolGuestWat));
const hostile = (name: string) => path.join(repoRoot, 'guests/build/hostile', `${name}.wasm`);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

test('a batch with a runaway in the middle: the jobs before it answer from the killed thread, the runaway gets timeout, the ones after run elsewhere', async () => {
  const p = createPool({ module, abi: 'exports', limits: { ...defaultLimits, timeoutMs: 400 }, maxThreads: 1, warmThreads: 1 });
  try {
    await p.ready();
    // Queued while replicas is 0, so raising it hands all eight to the one thread in one batch.
    const names = ['count', 'count', 'count', 'spin', 'count', 'count', 'count', 'count'];
    const jobs = names.map((name) => p.submit({ kind: 'export', name, args: [] }));
    p.setReplicas(8);
    const results = await Promise.all(jobs);
    const spin = results[3]!;
    assert.equal(spin.ok, false);
    if (!spin.ok) assert.equal(spin.error.kind, 'timeout');
    for (const [i, r] of results.entries()) {
      if (i === 3) continue;
      assert.ok(r.ok, `job ${i} answered`);
      assert.deepEqual((r as ExportResult & { ok: true }).results, [1], `job ${i} ran on a fresh instance`);
    }
    // The three before the runaway ran (and answered) on the thread that was killed; none ran twice.
    for (const i of [0, 1, 2]) assert.equal(results[i]!.threadId, spin.threadId, `job ${i} settled from the killed thread`);
    for (const i of [4, 5, 6, 7]) assert.notEqual(results[i]!.threadId, spin.threadId, `job ${i} had not started and ran on the replacement`);
    const s = p.stats();
    assert.equal(s.timeouts, 1);
    assert.equal(s.completed, 8);
    assert.equal(s.threadStarts, 2);
  } finally {
    await p.close();
  }
});

// Sleeps `ms` in poll_oneoff: a job whose length does not depend on how loaded the machine is.
const napWat = `(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "nap") (param $ms i32) (result i32)
    (i64.store (i32.const 0) (i64.const 1))
    (i32.store8 (i32.const 8) (i32.const 0))
    (i32.store (i32.const 16) (i32.const 1))
    (i64.store (i32.const 24) (i64.mul (i64.extend_i32_u (local.get $ms)) (i64.const 1000000)))
    (i64.store (i32.const 32) (i64.const 0))
    (i32.store16 (i32.const 40) (i32.const 0))
    (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128))))`;

test('each job of a batch has its own deadline: a batch longer than the timeout whose jobs are each well within it is not killed', async () => {
  const nap = compileModule(await watBytes(napWat)).module;
  // 24 naps of 100 ms against a 1 s timeout: each job is a tenth of it, the batch 2.4 of it.
  const p = createPool({ module: nap, abi: 'exports', limits: { ...defaultLimits, timeoutMs: 1000 }, maxThreads: 1, warmThreads: 1 });
  try {
    await p.ready();
    const jobs = Array.from({ length: 24 }, () => p.submit({ kind: 'export', name: 'nap', args: [100] }));
    p.setReplicas(24);
    const results = await Promise.all(jobs);
    assert.deepEqual(results.map((r) => (r.ok ? r.results[0] : r.error.message)), Array(24).fill(0), 'every nap answered (errno 0)');
    assert.equal(p.stats().timeouts, 0);
    assert.equal(p.stats().threadStarts, 1, 'the thread was never killed');
    assert.equal(new Set(results.map((r) => r.threadId)).size, 1);
  } finally {
    await p.close();
  }
});

test('a timed-out guest: the result carries what it wrote to stdout and stderr before the watchdog fired', async () => {
  const limits = { ...defaultLimits, timeoutMs: 300 };
  const p = createPool({ module: loadModule(hostile('write-then-hang'), limits).module, abi: 'wasi-command', limits, maxThreads: 1 });
  try {
    p.setReplicas(1);
    const r = await p.submit({ kind: 'command', stdin: new Uint8Array(0), env: {}, args: [] });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.error.kind, 'timeout');
    assert.equal(r.error.message, 'guest ran past 300ms (it had written 12 B to stdout and 32 B to stderr)');
    assert.equal(text(r.stderr), 'about to hang: stuck in phase 2\n');
    assert.equal(text(r.stdout), '{"phase":1}\n');
  } finally {
    await p.close();
  }
});

test('through the app: a guest that writes to stderr and then hangs is dead-lettered as timeout with its stderr', async () => {
  const dir = tempDir('fw-timeout-output-');
  const manifest = oneComponent(dir, {
    module: hostile('write-then-hang'),
    limits: { timeout: '300ms' },
    delivery: { maxAttempts: 1 },
  });
  await withApp(manifest, async (app) => {
    const c = app.components.get('c1')!;
    await c.source.publish({ id: 'hang-1', source: 'embedded', subject: 'c1', headers: {}, body: new TextEncoder().encode('x') });
    await waitUntil('the event dead-lettered', () => app.deadLetters.count('c1') === 1);
    const [d] = app.deadLetters.list({ component: 'c1' });
    assert.equal(d!.event.id, 'hang-1');
    assert.equal(d!.error.kind, 'timeout');
    assert.match(d!.reason, /^timeout: guest ran past 300ms \(it had written 12 B to stdout and 32 B to stderr\)$/);
    assert.equal(d!.stderrTail, 'about to hang: stuck in phase 2\n');
  });
});
