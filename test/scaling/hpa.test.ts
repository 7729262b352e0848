import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hpaSync, newHpaState, parseScalingSpec, replicasForMetric, type HpaState, type ScalingSpec } from '../../src/scaling/index.js';

/** Runs HPA syncs every 15 s with the given metric values (AverageValue, target 10), replicas applied at once. */
function run(spec: ScalingSpec, start: number, values: number[], metricType: 'AverageValue' | 'Value' = 'AverageValue') {
  let state: HpaState = newHpaState();
  let current = start;
  const out: Array<{ t: number; replicas: number; reason: string }> = [];
  values.forEach((value, i) => {
    const now = (i + 1) * 15_000;
    const r = hpaSync(
      { minReplicas: Math.max(spec.minReplicaCount, 1), maxReplicas: spec.maxReplicaCount, behavior: spec.behavior },
      state,
      { now, currentReplicas: current, readyReplicas: current, metrics: [{ name: 'm', value, target: 10, metricType }] },
    );
    state = r.state;
    current = r.replicas;
    out.push({ t: now / 1000, replicas: current, reason: r.reason });
  });
  return out;
}

const spec = (s: Record<string, unknown> = {}) => parseScalingSpec(s);
const behavior = (b: Record<string, unknown>) => spec({ advanced: { horizontalPodAutoscalerConfig: { behavior: b } } });

test('a behavior with Kubernetes\' defaulted fields under a large metric: 1 -> 5 -> 10 -> 20 in 15 s steps (max of +100% and +4 pods)', () => {
  const r = run(spec(), 1, [10_000, 10_000, 10_000, 10_000]);
  assert.deepEqual(r.map((x) => x.replicas), [5, 10, 20, 40]);
  assert.equal(r[0]!.reason, 'ScaleUpLimit');
});

test('defaulted behavior: scale-down is held for 300 s of low readings, then drops at once (100% per 15 s)', () => {
  const values = [200, ...Array(21).fill(0)]; // high at t=15, zero from t=30
  const r = run(spec(), 20, values);
  assert.equal(r[0]!.replicas, 20);
  // recommendation 20 at t=15 stays in the 300 s window until t=315 (strictly after the cutoff)
  for (const x of r.filter((x) => x.t > 15 && x.t < 315)) assert.equal(x.replicas, 20, `t=${x.t} ${x.reason}`);
  assert.equal(r.find((x) => x.t === 300)!.reason, 'ScaleDownStabilized');
  assert.equal(r.find((x) => x.t === 315)!.replicas, 1, 'min replicas (max(min,1))');
});

test('tolerance 0.1: within 10% no change, beyond it ceil(sum/target)', () => {
  const b = spec().behavior;
  assert.equal(replicasForMetric({ value: 105, target: 10, metricType: 'AverageValue' }, 10, 10, b), 10);
  assert.equal(replicasForMetric({ value: 110, target: 10, metricType: 'AverageValue' }, 10, 10, b), 10, 'exactly 1.1 is within');
  assert.equal(replicasForMetric({ value: 111, target: 10, metricType: 'AverageValue' }, 10, 10, b), 12);
  assert.equal(replicasForMetric({ value: 91, target: 10, metricType: 'AverageValue' }, 10, 10, b), 10);
  assert.equal(replicasForMetric({ value: 89, target: 10, metricType: 'AverageValue' }, 10, 10, b), 9);
  assert.equal(replicasForMetric({ value: 20, target: 5, metricType: 'AverageValue' }, 3, 3, b), 4, 'queue 20, target 5 -> 4, whatever the count');
  const loose = behavior({ scaleUp: { tolerance: '0.5' } }).behavior;
  assert.equal(replicasForMetric({ value: 140, target: 10, metricType: 'AverageValue' }, 10, 10, loose), 10, 'per-direction tolerance');
});

test('Value metrics: ceil(value/target x ready replicas)', () => {
  const b = spec().behavior;
  assert.equal(replicasForMetric({ value: 20, target: 5, metricType: 'Value' }, 3, 3, b), 12);
  assert.equal(replicasForMetric({ value: 20, target: 5, metricType: 'Value' }, 3, 2, b), 8, 'ready pods, not current');
  assert.equal(replicasForMetric({ value: 5.2, target: 5, metricType: 'Value' }, 3, 3, b), 3, 'within tolerance');
});

test('the max across metrics wins; failed metrics never scale down', () => {
  const s = spec();
  const cfg = { minReplicas: 1, maxReplicas: 100, behavior: s.behavior };
  const base = { now: 15_000, currentReplicas: 4, readyReplicas: 4 };
  const r = hpaSync(cfg, newHpaState(), { ...base, metrics: [{ name: 'a', value: 10, target: 10, metricType: 'AverageValue' }, { name: 'b', value: 60, target: 10, metricType: 'AverageValue' }] });
  assert.equal(r.recommendation, 6);
  assert.equal(r.replicas, 6);
  const down = hpaSync(cfg, newHpaState(), { ...base, metrics: [{ name: 'a', value: 10, target: 10, metricType: 'AverageValue' }, { name: 'b', value: null, target: 10, metricType: 'AverageValue' }] });
  assert.equal(down.replicas, 4);
  assert.match(down.reason, /FailedGetExternalMetric/);
  const up = hpaSync(cfg, newHpaState(), { ...base, metrics: [{ name: 'a', value: 80, target: 10, metricType: 'AverageValue' }, { name: 'b', value: null, target: 10, metricType: 'AverageValue' }] });
  assert.equal(up.replicas, 8, 'scaling up on the working metric is allowed');
});

test('clamp to [max(min,1), max]', () => {
  assert.deepEqual(run(spec({ maxReplicaCount: 7 }), 4, [1000]).map((x) => [x.replicas, x.reason]), [[7, 'TooManyReplicas']]);
  assert.deepEqual(run(spec({ minReplicaCount: 3 }), 1, [0]).map((x) => x.replicas), [3], 'below min: raised to min');
  const cfg = { minReplicas: 1, maxReplicas: 5, behavior: spec().behavior };
  assert.equal(hpaSync(cfg, newHpaState(), { now: 0, currentReplicas: 9, readyReplicas: 9, metrics: [] }).replicas, 5, 'above max: lowered to max');
  assert.equal(hpaSync(cfg, newHpaState(), { now: 0, currentReplicas: 0, readyReplicas: 0, metrics: [] }).reason, 'ScalingDisabled');
});

test('selectPolicy Min picks the smallest change, Disabled freezes the direction', () => {
  const min = behavior({ scaleUp: { selectPolicy: 'Min' } });
  assert.deepEqual(run(min, 1, [10_000, 10_000, 10_000]).map((x) => x.replicas), [2, 4, 8], 'min(+100%, +4)');
  const disabledUp = behavior({ scaleUp: { selectPolicy: 'Disabled' } });
  assert.deepEqual(run(disabledUp, 3, [10_000, 10_000]).map((x) => x.replicas), [3, 3]);
  const disabledDown = behavior({ scaleDown: { selectPolicy: 'Disabled', stabilizationWindowSeconds: 0 } });
  assert.deepEqual(run(disabledDown, 8, [0, 0]).map((x) => x.replicas), [8, 8]);
  const minDown = behavior({
    scaleDown: { selectPolicy: 'Min', stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 1, periodSeconds: 15 }, { type: 'Percent', value: 50, periodSeconds: 15 }] },
  });
  assert.deepEqual(run(minDown, 10, [0, 0, 0]).map((x) => x.replicas), [9, 8, 7]);
  const maxDown = behavior({
    scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 1, periodSeconds: 15 }, { type: 'Percent', value: 50, periodSeconds: 15 }] },
  });
  assert.deepEqual(run(maxDown, 10, [0, 0, 0]).map((x) => x.replicas), [5, 2, 1]);
});

test('rate policies count replicas at the start of each period', () => {
  // 2 pods per 60 s: syncs every 15 s may add 2 only once a minute
  const b = behavior({ scaleUp: { policies: [{ type: 'Pods', value: 2, periodSeconds: 60 }] } });
  assert.deepEqual(run(b, 1, Array(9).fill(10_000)).map((x) => x.replicas), [3, 3, 3, 3, 5, 5, 5, 5, 7]);
});

test('scale-up stabilization window: the min recommendation in the window', () => {
  const b = behavior({ scaleUp: { stabilizationWindowSeconds: 30 } });
  // t=15 high: 2 -> 6 (rate limit). t=30 low (2): held at 6 (scale-down window). t=45 high again,
  // but the low recommendation of t=30 is still inside the 30 s up window: held at 6. t=60: 10.
  assert.deepEqual(run(b, 2, [100, 20, 100, 100, 100]).map((x) => x.replicas), [6, 6, 6, 10, 10]);
  const noWindow = run(spec(), 2, [100, 20, 100]).map((x) => x.replicas);
  assert.deepEqual(noWindow, [6, 6, 10], 'without the window t=45 scales up at once');
});
