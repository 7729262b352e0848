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

test('budget: a freed slot goes to the waiting member running the fewest guests', async () => {
  const b = createThreadBudget(2);
  const grants: string[] = [];
  const a = b.join('a', () => grants.push('a'));
  const c = b.join('c', () => grants.push('c'));
  assert.equal(a.acquire(), true);
  assert.equal(a.acquire(), true);
  assert.equal(c.acquire(), false, 'no free slot');
  c.want(1);
  a.want(3); // a has more waiting, but already runs 2
  a.release();
  await tick();
  assert.deepEqual(grants, ['c']);
  assert.equal(a.acquire(), false, 'the freed slot is reserved for c');
  assert.equal(c.acquire(), true);
  assert.equal(b.stats().running, 2);
  a.release();
  c.release();
  a.leave();
  c.leave();
  assert.equal(b.stats().running, 0);
});

test('budget: between members running as many, the one that used less thread time recently goes first', async () => {
  const b = createThreadBudget(1);
  const grants: string[] = [];
  const heavy = b.join('heavy', () => grants.push('heavy'));
  const light = b.join('light', () => grants.push('light'));
  assert.equal(heavy.acquire(), true);
  await new Promise((r) => setTimeout(r, 100)); // heavy holds its slot a while
  heavy.want(1);
  light.want(1);
  heavy.release();
  await tick();
  assert.deepEqual(grants, ['light']);
  assert.equal(light.acquire(), true);
  // A free slot is not taken past a better-placed waiting member either.
  light.release();
  light.want(1);
  await tick();
  heavy.want(1);
  assert.equal(heavy.acquire(), false);
  heavy.leave();
  light.leave();
});

test('budget: a component of endless loops holds no more than its share; the good one runs at the first freed slot', async () => {
  const module = compileModule(await watBytes(poolGuestWat)).module;
  const budget = createThreadBudget(2);
  const limits = { ...defaultLimits, timeoutMs: 2000 };
  const bad = createPool({ module, abi: 'exports', limits, maxThreads: 2, budget, name: 'bad' });
  const good = createPool({ module, abi: 'exports', limits, maxThreads: 2, budget, name: 'good' });
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, budget.stats().running)), 5);
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
    // The good jobs ran once the first two loops timed out, not after all four.
    assert.ok(order.indexOf('good') < order.indexOf('spin3') && order.indexOf('good') < order.indexOf('spin2'), order.join(' '));
    assert.ok(peak <= 2, `at most 2 guests ran at once across both pools (saw ${peak})`);
  } finally {
    clearInterval(sampler);
    await Promise.all([bad.close(), good.close()]);
  }
});
