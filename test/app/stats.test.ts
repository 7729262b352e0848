import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLatencyWindow } from '../../src/app/stats.js';

test('latency window: empty, one value, quantiles within the 5% bucket width', () => {
  let t = 1_000_000;
  const w = createLatencyWindow(60_000, () => t);
  assert.deepEqual(w.summary(), { p50: 0, p99: 0, count: 0, windowMs: 60_000 });
  w.add(7.3);
  assert.deepEqual(w.summary(), { p50: 7.3, p99: 7.3, count: 1, windowMs: 60_000 }, 'never above the largest latency seen');
  w.add(0);
  assert.equal(w.summary().p50, 0.01, 'a 0 ms latency lands in the lowest bucket');
  const v = createLatencyWindow(60_000, () => t);
  for (let i = 1; i <= 1000; i++) v.add(i); // 1..1000 ms: true p50 500, p99 990
  const s = v.summary();
  assert.equal(s.count, 1000);
  assert.ok(s.p50 >= 500 && s.p50 <= 500 * 1.05, `p50 ${s.p50}`);
  assert.ok(s.p99 >= 990 && s.p99 <= 1000, `p99 ${s.p99}`);
  t += 999;
  assert.equal(v.summary().count, 1000);
});

test('latency window: old latencies age out, so an idle component does not keep a stale p99', () => {
  let t = 5_000_000;
  const w = createLatencyWindow(60_000, () => t);
  for (let i = 0; i < 100; i++) w.add(2000); // a slow burst: 2% of what follows
  t += 30_000;
  for (let i = 0; i < 5000; i++) w.add(1); // then fast events
  assert.ok(w.summary().p99 >= 2000, 'the slow burst is inside the window');
  assert.equal(w.summary().count, 5100);
  t += 31_000;
  const later = w.summary();
  assert.equal(later.count, 5000, 'the burst 61 s ago is out');
  assert.ok(later.p99 <= 1.05, `p99 ${later.p99}`);
  t += 60_000;
  assert.deepEqual(w.summary(), { p50: 0, p99: 0, count: 0, windowMs: 60_000 }, 'idle for a minute: nothing to report');
});
