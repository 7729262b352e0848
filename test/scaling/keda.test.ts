import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compileFormula,
  createScaler,
  evaluateActivity,
  fallbackMetricValue,
  kedaDecide,
  parseScaledObject,
  type ScalingSpec,
} from '../../src/scaling/index.js';

function spec(s: Record<string, unknown> = {}, annotations?: Record<string, string>): ScalingSpec {
  return parseScaledObject({
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { name: 'x', ...(annotations ? { annotations } : {}) },
    spec: { triggers: [{ type: 'embedded', name: 'q', metadata: {} }], ...s },
  }).spec;
}

test('strict activation: value > activation threshold', () => {
  const s = spec();
  assert.equal(evaluateActivity(s, { q: 1 }, 0).active, true, 'one message with activation 0 activates');
  assert.equal(evaluateActivity(s, { q: 0 }, 0).active, false);
  const t5 = spec({ triggers: [{ type: 'embedded', name: 'q', metadata: { activationLagThreshold: '5' } }] });
  assert.equal(evaluateActivity(t5, { q: 5 }, 0).active, false, 'equal to the threshold does not activate');
  assert.equal(evaluateActivity(t5, { q: 5.001 }, 0).active, true);
  const two = spec({ triggers: [{ type: 'embedded', name: 'a', metadata: {} }, { type: 'smtp', name: 'b', metadata: {} }] });
  const act = evaluateActivity(two, { a: 0, b: new Error('down') }, 0);
  assert.deepEqual([act.active, act.error], [false, true]);
  assert.equal(evaluateActivity(two, { a: 3, b: new Error('down') }, 0).active, true, 'any active trigger activates');
  assert.equal(evaluateActivity(s, { q: -4 }, 0).triggers[0]!.value, 0, 'negative values read as 0');
});

const decide = (s: ScalingSpec, input: { now: number; current: number; active: boolean; error?: boolean; lastActive?: number | null; createdAt?: number }) =>
  kedaDecide(s, { createdAt: input.createdAt ?? 0, lastActiveTime: input.lastActive ?? null }, { now: input.now, currentReplicas: input.current, active: input.active, error: input.error ?? false });

test('activation from zero goes to 1 (or min), never straight to N', () => {
  assert.equal(decide(spec(), { now: 1, current: 0, active: true }).replicas, 1);
  assert.equal(decide(spec({ minReplicaCount: 3, idleReplicaCount: 0 }), { now: 1, current: 0, active: true }).replicas, 3);
  const keep = decide(spec(), { now: 9, current: 4, active: true, lastActive: 1 });
  assert.deepEqual([keep.replicas, keep.lastActiveTime], [null, 9], 'active above zero only refreshes lastActiveTime');
});

test('activation is ignored when minReplicaCount >= 1 and no idle count', () => {
  const s = spec({ minReplicaCount: 2 });
  assert.equal(decide(s, { now: 1_000_000, current: 2, active: false, lastActive: 0 }).replicas, null, 'never below min');
  assert.equal(decide(s, { now: 1, current: 0, active: false }).replicas, 2, 'raised to min while inactive');
  assert.equal(decide(s, { now: 1, current: 5, active: false, lastActive: 0 }).replicas, null, 'the HPA scales 5 -> 2, not KEDA');
});

test('after cooldown KEDA goes straight from N to 0 (or idle); not before', () => {
  const s = spec({ cooldownPeriod: 60 });
  assert.equal(decide(s, { now: 60_000, current: 7, active: false, lastActive: 0 }).replicas, null, 'lastActive + cooldown == now: still cooling down');
  assert.match(decide(s, { now: 60_000, current: 7, active: false, lastActive: 0 }).reason, /ScalerCooldown/);
  assert.equal(decide(s, { now: 60_001, current: 7, active: false, lastActive: 0 }).replicas, 0, 'N -> 0 in one step');
  const idle = spec({ cooldownPeriod: 60, minReplicaCount: 2, idleReplicaCount: 0 });
  assert.equal(decide(idle, { now: 60_001, current: 5, active: false, lastActive: 0 }).replicas, 0);
  assert.equal(decide(idle, { now: 1, current: 0, active: true }).replicas, 2, 'idle -> min on activity');
});

test('initialCooldownPeriod: a never-active target is kept until it passes', () => {
  const s = spec({ initialCooldownPeriod: 120 });
  assert.equal(decide(s, { now: 100_000, current: 1, active: false, createdAt: 0 }).replicas, null);
  assert.match(decide(s, { now: 100_000, current: 1, active: false, createdAt: 0 }).reason, /initialCooldownPeriod/);
  assert.equal(decide(s, { now: 120_001, current: 1, active: false, createdAt: 0 }).replicas, 0);
  assert.equal(decide(spec(), { now: 1, current: 1, active: false, createdAt: 0 }).replicas, 0, 'default 0: scaled down at the first poll');
});

test('errors never scale to zero', () => {
  const s = spec({ cooldownPeriod: 0 });
  assert.equal(decide(s, { now: 1e9, current: 3, active: false, error: true, lastActive: 0 }).replicas, null);
  assert.match(decide(s, { now: 1e9, current: 3, active: false, error: true, lastActive: 0 }).reason, /TriggerError/);
  const fb = spec({ cooldownPeriod: 0, fallback: { failureThreshold: 2, replicas: 4 } });
  assert.match(decide(fb, { now: 1e9, current: 3, active: false, error: true, lastActive: 0 }).reason, /fallback/);
  assert.match(decide(s, { now: 5, current: 3, active: true, error: true, lastActive: 0 }).reason, /PartialTriggerError/);
});

test('paused: nothing moves; paused-replicas holds the given count', () => {
  const p = spec({}, { 'autoscaling.keda.sh/paused': 'true' });
  assert.equal(decide(p, { now: 1, current: 0, active: true }).replicas, null);
  const pr = spec({}, { 'autoscaling.keda.sh/paused-replicas': '3' });
  assert.equal(decide(pr, { now: 1, current: 0, active: true }).replicas, 3);
  assert.equal(decide(pr, { now: 1, current: 3, active: false }).replicas, null);
  const scaler = createScaler(pr, 0);
  assert.equal(scaler.sync(15_000, { q: 1000 }, 3, 3).replicas, null, 'no HPA while paused');
});

test('fallback metric: AverageValue target x replicas; Value target x replicas / ready', () => {
  const fb = { failureThreshold: 3, replicas: 6, behavior: 'static' as const };
  assert.equal(fallbackMetricValue(fb, 10, 'AverageValue', 2, 2), 60);
  assert.equal(fallbackMetricValue(fb, 10, 'Value', 2, 3), 20);
  assert.equal(fallbackMetricValue({ ...fb, behavior: 'currentReplicasIfHigher' }, 10, 'AverageValue', 9, 9), 90);
  assert.equal(fallbackMetricValue({ ...fb, behavior: 'currentReplicasIfLower' }, 10, 'AverageValue', 2, 2), 20);
  assert.equal(fallbackMetricValue({ ...fb, behavior: 'currentReplicas' }, 10, 'AverageValue', 4, 4), 40);
});

for (const metricType of ['AverageValue', 'Value'] as const) {
  test(`fallback through the HPA lands on fallback.replicas once failures exceed the threshold (${metricType})`, () => {
    const s = spec({
      fallback: { failureThreshold: 2, replicas: 6 },
      triggers: [{ type: 'embedded', name: 'q', metricType, metadata: { lagThreshold: '10' } }],
    });
    const scaler = createScaler(s, 0);
    const err = { q: new Error('broker down') };
    const r1 = scaler.sync(15_000, err, 2, 2);
    const r2 = scaler.sync(30_000, err, 2, 2);
    assert.deepEqual([r1.replicas, r2.replicas], [null, null], 'failures 1 and 2 do not exceed 2');
    const r3 = scaler.sync(45_000, err, 2, 2);
    assert.equal(r3.replicas, 4, 'third failure: fallback, limited by the legacy path to max(2 x 2, 4)');
    assert.match(r3.tick.reason, /ScaleUpLimit \(fallback\)/);
    assert.equal(scaler.sync(60_000, err, 4, 4).replicas, 6, 'then fallback.replicas');
    assert.equal(scaler.sync(75_000, err, 6, 6).replicas, null, 'stays at 6 (within tolerance)');
    assert.equal(scaler.failures('q'), 5);
    scaler.sync(90_000, { q: 60 }, 6, 6);
    assert.equal(scaler.failures('q'), 0, 'a good read resets the count');
  });
}

test('scalingModifiers: the composite decides activity and sizing', () => {
  const s = spec({
    triggers: [
      { type: 'embedded', name: 'a', metadata: {} },
      { type: 'smtp', name: 'b', metadata: {} },
    ],
    advanced: { scalingModifiers: { formula: '(a + b) / 2', target: '5', activationTarget: '3' } },
  });
  assert.equal(evaluateActivity(s, { a: 2, b: 4 }, 0).active, false, '3 is not > 3');
  assert.equal(evaluateActivity(s, { a: 2, b: 6 }, 0).active, true);
  const scaler = createScaler(s, 0);
  const r = scaler.sync(15_000, { a: 40, b: 60 }, 1, 1);
  assert.equal(r.tick.desired, 10, 'ceil(50 / 5)');
});

test('fallback behavior scalingModifiers passes failed triggers as nil to the formula', () => {
  const s = spec({
    triggers: [
      { type: 'embedded', name: 'best', metadata: {} },
      { type: 'smtp', name: 'backup', metadata: {} },
    ],
    advanced: { scalingModifiers: { formula: 'best ?? backup ?? 8', target: '2' } },
    fallback: { failureThreshold: 0, replicas: 10, behavior: 'scalingModifiers' },
  });
  const scaler = createScaler(s, 0);
  assert.equal(scaler.sync(15_000, { best: new Error('x'), backup: 12 }, 1, 1).tick.desired, 6, 'backup 12 / 2');
  assert.equal(scaler.sync(30_000, { best: new Error('x'), backup: new Error('y') }, 1, 1).tick.desired, 4, 'literal 8 / 2');
});

test('formula evaluator: expr-lang precedence, ternary, ??, functions', () => {
  const f = (src: string, env: Record<string, number | null> = {}) => compileFormula(src).evaluate(env);
  assert.equal(f('1 + 2 * 3'), 7);
  assert.equal(f('2 ** 3 ** 2'), 512, '** is right-associative');
  assert.equal(f('-2 ** 2'), -4, 'as expr-lang: unary minus (90) takes the ** (100) operand');
  assert.equal(f('a > 5 ? a : 0', { a: 7 }), 7);
  assert.equal(f('a > 5 ? a : 0', { a: 3 }), 0);
  assert.equal(f('a ?? b ?? 8', { a: null, b: null }), 8);
  assert.equal(f('a ?? 1 * 3', { a: null }), 3, '?? binds tightest');
  assert.equal(f('min(a, b, 4) + max(1, 2) + abs(-1) + ceil(1.2) + floor(1.8) + round(2.5) + int(3.9) + float(1)', { a: 9, b: 10 }), 4 + 2 + 1 + 2 + 1 + 3 + 3 + 1);
  assert.equal(f('a == nil ? 1 : 2', { a: null }), 1);
  assert.equal(f('not (a > 1) || a < 0 and true ? 1 : 0', { a: 2 }), 0);
  assert.equal(f('a', { a: null }), null, 'nil result');
  assert.throws(() => f('a > 1', { a: 2 }), /boolean/);
  assert.throws(() => f('a + 1', { a: null }), /needs a number, got nil/);
  assert.throws(() => compileFormula('sqrtx(1)'), /unknown function/);
  assert.throws(() => compileFormula('a + b', ['a']), /unknown name b/);
  assert.throws(() => compileFormula('(1 + 2'), /expected "\)"/);
});
