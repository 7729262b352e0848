// The host-wide thread budget (decision 122): max-min fair slots, recent usage as the tie-break, and two
// pools sharing it — a runaway component cannot keep a good one from running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createThreadBudget } from '../../src/runtime/budget.js';
import { createPool } from '../../src/runtime/pool.js';
import { compileModule } from '../../src/wasm/compile.js';
import { defaultLimits } from '../../src/wasm/limits.js';
import { poolGuestWat, watBytes } from './wat.js';

const tick = () => new Promise((r) => setTimeout(r, 0));

test('budget: every member gets its first slot at once (its floor), even past the budget; more only from free slots', () => {
  const b = createThreadBudget(1);
  const a = b.join('a', () => {});
  const c = b.join('c', () => {});
  assert.equal(a.acquire(), true);
  assert.equal(a.acquire(), false, 'a second slot needs a free one');
  assert.equal(c.acquire(), true, 'c runs beside a runaway of a instead of waiting for its timeout');
  assert.equal(b.stats().running, 2);
  a.release();
  c.release();
  a.leave();
  c.leave();
  assert.equal(b.stats().running, 0);
});

test('budget: a freed slot goes to the waiting member running the fewest guests', async () => {
  const b = createThreadBudget(3);
  const grants: string[] = [];
  const a = b.join('a', () => grants.push('a'));
  const c = b.join('c', () => grants.push('c'));
  const d = b.join('d', () => grants.push('d'));
  assert.equal(a.acquire(), true);
  assert.equal(a.acquire(), true);
  assert.equal(a.acquire(), true);
  assert.equal(c.acquire(), true); // floor: 4 running on 3 slots
  a.want(2);
  c.want(1);
  a.release(); // 3 running: nothing free yet
  await tick();
  assert.deepEqual(grants, []);
  a.release(); // one free: a and c run one each; c used less time
  await tick();
  assert.deepEqual(grants, ['c']);
  assert.equal(a.acquire(), false, 'the freed slot is reserved for c');
  assert.equal(c.acquire(), true);
  assert.equal(d.acquire(), true, 'a newcomer still gets its floor');
  for (const m of [a, c, d]) m.leave();
  assert.equal(b.stats().running, 0);
});

test('budget: between members running as many, the one that used less thread time recently goes first', async () => {
  const b = createThreadBudget(3);
  const grants: string[] = [];
  const heavy = b.join('heavy', () => grants.push('heavy'));
  const light = b.join('light', () => grants.push('light'));
  const other = b.join('other', () => {});
  assert.equal(heavy.acquire(), true);
  assert.equal(heavy.acquire(), true);
  await new Promise((r) => setTimeout(r, 100)); // heavy holds its slots a while
  assert.equal(light.acquire(), true);
  assert.equal(other.acquire(), true); // 4 running on 3 slots
  heavy.want(1);
  light.want(1);
  other.release();
  heavy.release(); // 2 running (heavy 1, light 1): one free, both want it
  await tick();
  assert.deepEqual(grants, ['light']);
  assert.equal(heavy.acquire(), false, 'not past a better-placed waiting member');
  assert.equal(light.acquire(), true);
  for (const m of [heavy, light, other]) m.leave();
});

test('budget: a component of endless loops holds no more than its share; the good one runs beside it', async () => {
  const module = compileModule(await watBytes(poolGuestWat)).module;
  const budget = createThreadBudget(2);
  const limits = { ...defaultLimits, timeoutMs: 2000 };
  const bad = createPool({ module, abi: 'exports', limits, maxThreads: 4, budget, name: 'bad' });
  const good = createPool({ module, abi: 'exports', limits, maxThreads: 2, budget, name: 'good' });
  let peak = 0;
  let peakBad = 0;
  const sampler = setInterval(() => {
    const s = budget.stats();
    peak = Math.max(peak, s.running);
    peakBad = Math.max(peakBad, s.members.find((m) => m.name === 'bad')?.running ?? 0);
  }, 5);
  try {
    bad.setReplicas(4);
    good.setReplicas(2);
    await Promise.all([bad.ready(), good.ready()]);
    const order: string[] = [];
    const spins = Array.from({ length: 4 }, (_, i) => bad.submit({ kind: 'export', name: 'spin', args: [] }).then((r) => {
      order.push(`spin${i}`);
      return r;
    }));
    while (budget.stats().running < 2) await new Promise((r) => setTimeout(r, 5)); // both slots spinning
    const adds = [good.submit({ kind: 'export', name: 'add', args: [2, 3] }), good.submit({ kind: 'export', name: 'add', args: [4, 5] })];
    const results = await Promise.all(adds);
    order.push('good');
    assert.deepEqual(results.map((r) => (r.ok ? r.results : r.error.kind)), [[5], [9]]);
    const spun = await Promise.all(spins);
    assert.ok(spun.every((r) => !r.ok && r.error.kind === 'timeout'));
    // The good jobs ran beside the loops (its floor), not after them.
    assert.equal(order[0], 'good', order.join(' '));
    assert.ok(peakBad <= 2, `the loops held at most the 2 slots of the budget, not the 4 threads of their pool (saw ${peakBad})`);
    assert.ok(peak <= 3, `at most the budget plus the good pool's floor ran at once (saw ${peak})`);
  } finally {
    clearInterval(sampler);
    await Promise.all([bad.close(), good.close()]);
  }
});

test('guest threads run below the main thread priority (Linux: nice +10 on their own thread ids)', { skip: process.platform !== 'linux' && 'thread nice values are per thread only on Linux' }, async () => {
  const { readdirSync } = await import('node:fs');
  const os = await import('node:os');
  const module = compileModule(await watBytes(poolGuestWat)).module;
  const pool = createPool({ module, abi: 'exports', limits: defaultLimits, maxThreads: 1 });
  try {
    pool.setReplicas(1);
    assert.equal((await pool.submit({ kind: 'export', name: 'add', args: [1, 2] })).ok, true);
    const nices = readdirSync('/proc/self/task').map((tid) => os.getPriority(Number(tid)));
    assert.equal(os.getPriority(), 0, 'the main thread keeps its priority');
    assert.ok(nices.includes(10), `a thread at nice 10 (thread nices: ${nices.join(' ')})`);
  } finally {
    await pool.close();
  }
});
