/**
 * Cases taken from upstream's own tests: numbers and expected outcomes from kubernetes
 * (pkg/controller/podautoscaler/horizontal_test.go, replica_calculator_test.go) and kedacore/keda
 * 2.20 (pkg/scaling/executor/scale_scaledobjects_test.go, pkg/fallback/fallback_test.go,
 * pkg/scaling/modifiers/formula_test.go, pkg/scalers/*_test.go, tests/internals/fallback,
 * tests/internals/scaling_modifiers). Each row names the upstream test it comes from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  activityOf,
  applyFallback,
  compileFormula,
  convertDesiredReplicasWithRules,
  createScaleLoop,
  createScaler,
  createVirtualClock,
  cronSample,
  hpaBehavior,
  hpaSync,
  kedaDecide,
  MAX_INT32,
  newHpaState,
  normalizeLegacy,
  parseScaledObject,
  parseScalingSpec,
  replicasForMetric,
  triggerStatuses,
  type HpaBehavior,
  type ScalingRules,
  type ScalingSpec,
} from '../../src/scaling/index.js';

const so = (spec: Record<string, unknown>, annotations?: Record<string, string>): ScalingSpec =>
  parseScaledObject({ apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', metadata: { name: 'x', ...(annotations ? { annotations } : {}) }, spec }).spec;
const queue = [{ type: 'embedded', name: 'q', metadata: {} }];

// ---------------------------------------------------------------- kubernetes: replica calculator

test('external metrics on milli-value integers (replica_calculator_test.go)', () => {
  const legacy = null;
  // [upstream test, current, ready, value (milli), target (milli), metric type, expected]
  const rows: Array<[string, number, number, number, number, 'Value' | 'AverageValue', number]> = [
    ['TestReplicaCalcScaleUpCMExternalIgnoresUnreadyPods', 3, 1, 8600, 4400, 'Value', 2],
    ['TestReplicaCalcScaleUpPerPodCMExternal', 3, 3, 8600, 2150, 'AverageValue', 4],
    ['TestReplicaCalcScaleDownCMExternal', 5, 5, 8600, 14334, 'Value', 3],
    ['TestReplicaCalcScaleDownPerPodCMExternal', 5, 5, 8600, 2867, 'AverageValue', 3],
    ['TestReplicaCalcToleranceCMExternal', 3, 3, 8600, 8888, 'Value', 3],
    ['TestReplicaCalcTolerancePerPodCMExternal', 3, 3, 8600, 2900, 'AverageValue', 3],
  ];
  for (const [name, current, ready, value, target, metricType, expected] of rows) {
    const got = replicasForMetric({ value: value / 1000, target: target / 1000, metricType }, current, ready, legacy);
    assert.equal(got, expected, name);
  }
  // TestReplicaCalcConfigurableToleranceCMExternal / ...PerPodCMExternal: scale-up tolerance 1 %
  const tight: HpaBehavior = { scaleUp: { ...parseScalingSpec({}).behavior.scaleUp, tolerance: 0.01 }, scaleDown: parseScalingSpec({}).behavior.scaleDown };
  assert.equal(replicasForMetric({ value: 8.9, target: 8.8, metricType: 'Value' }, 3, 3, tight), 4, 'TestReplicaCalcConfigurableToleranceCMExternal');
  assert.equal(replicasForMetric({ value: 8.6, target: 2.8, metricType: 'AverageValue' }, 3, 3, tight), 4, 'TestReplicaCalcConfigurableTolerancePerPodCMExternal');
});

test('MilliValue() integer division: 0.27 / 0.03 at 1 replica is 9, not ceil(9.000000000000002) = 10', () => {
  assert.equal(0.27 / 0.03 > 9, true, 'the float quotient is just above 9');
  assert.equal(replicasForMetric({ value: 0.27, target: 0.03, metricType: 'AverageValue' }, 1, 1, null), 9);
  assert.equal(replicasForMetric({ value: 0.27, target: 0.03, metricType: 'Value' }, 1, 1, null), 9);
  assert.equal(replicasForMetric({ value: 0.0004, target: 1, metricType: 'AverageValue' }, 1, 1, null), 0, 'below one milli-unit reads as 0');
});

test('a recommendation is capped at MaxInt32 before the clamp', () => {
  assert.equal(replicasForMetric({ value: 1e12, target: 0.001, metricType: 'AverageValue' }, 1, 1, null), MAX_INT32);
  assert.equal(replicasForMetric({ value: 1e9, target: 0.001, metricType: 'Value' }, 5, 5, null), MAX_INT32);
  const r = hpaSync({ minReplicas: 1, maxReplicas: 100, behavior: null }, newHpaState(), {
    now: 0,
    currentReplicas: 60,
    readyReplicas: 60,
    metrics: [{ name: 'm', value: 1e12, target: 0.001, metricType: 'AverageValue' }],
  });
  assert.deepEqual([r.recommendation, r.replicas, r.reason], [MAX_INT32, 100, 'TooManyReplicas']);
});

// ---------------------------------------------------------------- kubernetes: legacy path (behavior nil)

test('convertDesiredReplicasWithRules (horizontal_test.go TestConvertDesiredReplicasWithRules)', () => {
  // [annotation of the upstream case, current, desired, min, max, expected, condition]
  const rows: Array<[string, number, number, number, number, number, string]> = [
    ['prenormalized desired replicas within range', 5, 7, 3, 8, 7, 'DesiredWithinRange'],
    ['prenormalized desired replicas < minReplicas', 3, 1, 2, 8, 2, 'TooFewReplicas'],
    ['prenormalized desired zeroed replicas within range', 1, 0, 0, 10, 0, 'DesiredWithinRange'],
    ['maxReplicas is the limit because maxReplicas < scaleUpLimit', 20, 1000, 1, 10, 10, 'TooManyReplicas'],
    ['scaleUpLimit is the limit because scaleUpLimit < maxReplicas', 3, 1000, 1, 2000, 6, 'ScaleUpLimit'],
  ];
  for (const [name, current, desired, min, max, expected, condition] of rows) {
    assert.deepEqual(convertDesiredReplicasWithRules(current, desired, min, max), { replicas: expected, reason: condition }, name);
  }
});

test('legacy stabilization: max recommendation of the last 5 minutes (horizontal_test.go TestNormalizeDesiredReplicas)', () => {
  const now = 3_600_000;
  const min = (m: number) => now - m * 60_000;
  // [name, recommendations (replicas, minutes ago), prenormalized, expected]
  const rows: Array<[string, Array<[number, number]>, number, number]> = [
    ['empty log', [], 5, 5],
    ['stabilize', [[4, 2], [5, 1]], 3, 5],
    ['no stabilize', [[1, 2], [2, 1]], 3, 3],
    ['no stabilize - old recommendations', [[10, 10], [9, 9]], 3, 3],
    ['stabilize - old recommendations', [[10, 10], [4, 1], [5, 2], [9, 9]], 3, 5],
  ];
  for (const [name, recs, desired, expected] of rows) {
    const state = { ...newHpaState(), recommendations: recs.map(([replicas, ago]) => ({ at: min(ago), replicas })) };
    // current 100 / max 1000: neither the scale-up limit nor max binds, so this is the stabilization alone
    const r = normalizeLegacy(state, 100, desired, 0, 1000, now);
    assert.equal(r.replicas, expected, name);
    assert.equal(r.state.recommendations.at(-1)!.replicas, desired, `${name}: the raw recommendation is recorded`);
  }
});

test('no behavior: KEDA creates the HPA without one and the controller scales 1 -> 4 -> 8 -> 16 (scaleUpLimit max(2 x current, 4))', async () => {
  const s = so({ maxReplicaCount: 100, triggers: [{ type: 'embedded', name: 'q', metadata: { lagThreshold: '10' } }] });
  assert.equal(hpaBehavior(s), null, 'no behavior in the HPA');
  const vc = createVirtualClock(0);
  let replicas = 1;
  const seen: number[] = [];
  const loop = createScaleLoop({
    spec: s,
    clock: vc.clock,
    hpaSyncMs: 15_000,
    readMetrics: async () => ({ q: 10_000 }),
    target: { setReplicas: (n) => { replicas = n; seen.push(n); }, currentReplicas: () => replicas },
  });
  loop.start();
  await vc.run(60_000, () => loop.settled());
  loop.stop();
  assert.deepEqual(seen, [4, 8, 16, 32]);
  assert.match(loop.state().lastDecision!.reason, /hpa: ScaleUpLimit/);
});

test('no behavior: scale-down waits for the 5 min downscale stabilization, then drops straight to the recommendation', () => {
  const cfg = { minReplicas: 1, maxReplicas: 100, behavior: null };
  let state = newHpaState();
  let current = 16;
  const at = (t: number, value: number) => {
    const r = hpaSync(cfg, state, { now: t * 1000, currentReplicas: current, readyReplicas: current, metrics: [{ name: 'q', value, target: 10, metricType: 'AverageValue' }] });
    state = r.state;
    current = r.replicas;
    return r;
  };
  at(0, 160);
  for (let t = 15; t < 300; t += 15) assert.equal(at(t, 20).replicas, 16, `t=${t}: held`);
  assert.equal(at(300, 20).replicas, 16, 'a sample exactly 300 s old still counts (Before(cutoff) is strict)');
  const r = at(315, 20);
  assert.deepEqual([r.replicas, r.reason], [2, 'DesiredWithinRange'], 'no rate policy on the legacy path');
});

// ---------------------------------------------------------------- kubernetes: behavior (normalizeDesiredReplicasWithBehaviors)

const rules = (pods: number, podsPeriod: number, percent: number, percentPeriod: number): ScalingRules => ({
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  tolerance: 0.1,
  policies: [
    ...(pods ? [{ type: 'Pods' as const, value: pods, periodSeconds: podsPeriod }] : []),
    ...(percent ? [{ type: 'Percent' as const, value: percent, periodSeconds: percentPeriod }] : []),
  ],
});

test('rate policies (horizontal_test.go TestScalingWithRules)', () => {
  const def = parseScalingSpec({ advanced: { horizontalPodAutoscalerConfig: { behavior: {} } } }).behavior;
  // [case name, min, max, current, prenormalized desired, scaleUp rules, scaleDown rules, expected, condition]
  const rows: Array<[string, number, number, number, number, ScalingRules | null, ScalingRules | null, number, string]> = [
    ['prenormalized desired replicas within range', 3, 8, 5, 7, null, null, 7, 'DesiredWithinRange'],
    ['prenormalized desired replicas < minReplicas', 2, 8, 3, 1, null, null, 2, 'TooFewReplicas'],
    ['maxReplicas is the limit because maxReplicas < scaleUpLimit', 1, 10, 20, 1000, null, null, 10, 'TooManyReplicas'],
    ['desired replica count is more than the maximum replica count', 100, 150, 100, 1000, null, null, 150, 'TooManyReplicas'],
    ['scaleUpLimit is the limit because scaleUpLimit < maxReplicas with user policies', 1, 2000, 3, 1000, rules(0, 0, 1, 60), null, 4, 'ScaleUpLimit'],
    ['scaleDownLimit is the limit because scaleDownLimit > minReplicas with user defined policies', 3, 2000, 1000, 3, null, rules(20, 60, 0, 0), 980, 'ScaleDownLimit'],
    ['scaleUp with default behavior', 1, 1000, 10, 50, null, null, 20, 'ScaleUpLimit'],
    ['scaleUp with pods policy larger than percent policy', 1, 1000, 10, 500, rules(100, 60, 100, 60), null, 110, 'ScaleUpLimit'],
    ['scaleUp with percent policy larger than pods policy', 1, 1000, 10, 500, rules(2, 60, 100, 60), null, 20, 'ScaleUpLimit'],
    ['scaleUp with spec MaxReplicas limitation with large pod policy', 1, 1000, 10, 50, rules(100, 60, 0, 0), null, 50, 'DesiredWithinRange'],
    ['scaleUp with pod policy limitation', 1, 1000, 10, 50, rules(30, 60, 0, 0), null, 40, 'ScaleUpLimit'],
    ['scaleUp with percent policy limitation', 1, 1000, 10, 50, rules(0, 0, 200, 60), null, 30, 'ScaleUpLimit'],
    ['scaleDown with percent policy larger than pod policy', 1, 1000, 100, 2, null, rules(20, 60, 1, 60), 80, 'ScaleDownLimit'],
    ['scaleDown with pod policy larger than percent policy', 1, 1000, 100, 2, null, rules(2, 60, 1, 60), 98, 'ScaleDownLimit'],
    ['scaleDown with spec MinReplicas limitation with large pod policy', 1, 1000, 10, 0, null, rules(100, 60, 0, 0), 1, 'TooFewReplicas'],
  ];
  for (const [name, min, max, current, desired, up, down, expected, condition] of rows) {
    // upstream calls convertDesiredReplicasWithBehaviorRate directly: no stabilization here either
    const behavior: HpaBehavior = { scaleUp: up ?? { ...def.scaleUp, stabilizationWindowSeconds: 0 }, scaleDown: down ?? { ...def.scaleDown, stabilizationWindowSeconds: 0 } };
    const r = hpaSync({ minReplicas: min, maxReplicas: max, behavior }, newHpaState(), {
      now: 0,
      currentReplicas: current,
      readyReplicas: current,
      metrics: [{ name: 'm', value: desired, target: 1, metricType: 'AverageValue' }],
    });
    // current > max takes reconcileAutoscaler's own branch before the rate policies: same count and condition
    assert.deepEqual([r.replicas, r.reason.split(':')[0]], [expected, condition], name);
  }
});

// ---------------------------------------------------------------- KEDA: RequestScale and annotations

test('RequestScale (scale_scaledobjects_test.go)', () => {
  // [upstream test, spec, annotations, current, active, expected replicas, lastActiveTime set]
  const rows: Array<[string, Record<string, unknown>, Record<string, string> | undefined, number, boolean, number | null, boolean]> = [
    ['TestScaleToMinReplicasWhenNotActive', { minReplicaCount: 0 }, undefined, 10, false, 0, false],
    ['TestScaleToMinReplicasFromLowerInitialReplicaCount', { minReplicaCount: 5 }, undefined, 1, false, 5, false],
    ['TestScaleFromMinReplicasWhenActive', { minReplicaCount: 0 }, undefined, 0, true, 1, true],
    ['TestScaleToIdleReplicasWhenNotActive', { minReplicaCount: 5, idleReplicaCount: 0 }, undefined, 10, false, 0, false],
    ['TestScaleFromIdleToMinReplicasWhenActive', { minReplicaCount: 5, idleReplicaCount: 0 }, undefined, 0, true, 5, true],
    ['TestScaleToPausedReplicasCount', {}, { 'autoscaling.keda.sh/paused-replicas': '0' }, 0, true, null, false],
    ['TestNoScaleToMinReplicasWhenNotActiveAndPauseScaleInAnnotationSet', { minReplicaCount: 0 }, { 'autoscaling.keda.sh/paused-scale-in': 'true' }, 10, false, null, false],
    ['TestNoScaleToIdleReplicasWhenNotActiveAndPauseScaleInAnnotationSet', { minReplicaCount: 5, idleReplicaCount: 0 }, { 'autoscaling.keda.sh/paused-scale-in': 'true' }, 10, false, null, false],
    ['TestScaleFromMinReplicasWhenActivationForced', { minReplicaCount: 0 }, { 'autoscaling.keda.sh/force-activation': 'true' }, 0, false, 1, true],
    ['TestNoScaleFromMinReplicasWhenActiveAndPausedScaleOutAnnotationSet', { minReplicaCount: 0 }, { 'autoscaling.keda.sh/paused-scale-out': 'true' }, 0, true, null, false],
    ['TestNoScaleFromIdleReplicasToMinReplicasWhenActiveAndPausedScaleOutAnnotationSet', { minReplicaCount: 5, idleReplicaCount: 0 }, { 'autoscaling.keda.sh/paused-scale-out': 'true' }, 0, true, null, false],
  ];
  for (const [name, spec, annotations, current, active, expected, setsLastActive] of rows) {
    const s = so({ ...spec, triggers: queue }, annotations);
    const d = kedaDecide(s, { createdAt: 0, lastActiveTime: null }, { now: 1_000, currentReplicas: current, active, error: false });
    assert.equal(d.replicas === current ? null : d.replicas, expected, name);
    assert.equal(d.lastActiveTime !== null, setsLastActive, `${name}: lastActiveTime`);
  }
  const forced = so({ triggers: queue }, { 'autoscaling.keda.sh/force-activation': 'true' });
  assert.match(kedaDecide(forced, { createdAt: 0, lastActiveTime: null }, { now: 1, currentReplicas: 0, active: false, error: false }).reason, /forced by annotation/);
});

test('annotations are read as KEDA reads them: strconv.ParseBool, anything else is true', () => {
  const flag = (v: string) => so({ triggers: queue }, { 'autoscaling.keda.sh/paused-scale-in': v }).pausedScaleIn;
  assert.deepEqual(['true', 'True', '1', 't', 'false', 'F', '0', 'yes', ' false'].map(flag), [true, true, true, true, false, false, false, true, true]);
  assert.throws(() => so({ triggers: queue }, { 'autoscaling.keda.sh/paused-replicas': 'two' }), /metadata\.annotations\.autoscaling\.keda\.sh\/paused-replicas: must be a whole number/);
  assert.throws(() => so({ triggers: queue, annotations: {} }), /put annotations under metadata\.annotations/);
  // the manifest form: annotations inside the scaling spec
  assert.equal(parseScalingSpec({ annotations: { 'autoscaling.keda.sh/force-activation': 'true' } }).forceActivation, true);
});

test('paused-scale-in / paused-scale-out: the HPA gets a behavior with that direction Disabled (controllers/keda/hpa.go)', () => {
  const inPaused = so({ triggers: queue }, { 'autoscaling.keda.sh/paused-scale-in': 'true' });
  const b = hpaBehavior(inPaused)!;
  assert.equal(b.scaleDown.selectPolicy, 'Disabled');
  assert.equal(b.scaleUp.selectPolicy, 'Max', 'the rest of the behavior is defaulted by the API server');
  const out = hpaBehavior(so({ triggers: queue }, { 'autoscaling.keda.sh/paused-scale-out': 'true' }))!;
  assert.equal(out.scaleUp.selectPolicy, 'Disabled');
  // through the scaler: 8 replicas, metric says 1: held; with scale-out paused, metric says 80: held
  const downHeld = createScaler(so({ triggers: queue, advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: 0 } } } } }, { 'autoscaling.keda.sh/paused-scale-in': 'true' }), 0);
  assert.equal(downHeld.sync(15_000, { q: 10 }, 8, 8).replicas, null);
  const upHeld = createScaler(so({ triggers: queue }, { 'autoscaling.keda.sh/paused-scale-out': 'true' }), 0);
  assert.equal(upHeld.sync(15_000, { q: 800 }, 2, 2).replicas, null);
});

// ---------------------------------------------------------------- KEDA: fallback (2.20: in the polling loop)

test('GetMetricsWithFallback (fallback_test.go)', () => {
  const spec = (fallback: Record<string, unknown>) => so({ fallback, triggers: [{ type: 'embedded', name: 'q', metadata: { lagThreshold: '10' } }] });
  const err = { q: new Error('some error') };
  const once = (s: ScalingSpec, failures: number, current: number) => {
    const f = new Map([['q', failures]]);
    const [st] = applyFallback(s, triggerStatuses(s, err, 0), f, current, current);
    return { st: st!, failures: f.get('q') };
  };
  // should return a normalised metric when number of failures are beyond threshold: 3 -> 4 > 3, 10 x 10
  const beyond = once(spec({ failureThreshold: 3, replicas: 10 }), 3, 5);
  assert.deepEqual([beyond.st.value, beyond.st.error, beyond.st.fallback, beyond.failures], [100, undefined, 'replicas', 4]);
  // should bump the number of failures when metrics call fails
  const bump = once(spec({ failureThreshold: 3, replicas: 10 }), 0, 5);
  assert.deepEqual([bump.st.error, bump.failures], ['some error', 1]);
  // should use fallback replicas when current replicas is lower when behavior is 'currentReplicasIfHigher'
  assert.equal(once(spec({ failureThreshold: 3, replicas: 10, behavior: 'currentReplicasIfHigher' }), 3, 4).st.value, 100);
  // should use current replicas when behavior is 'currentReplicas'
  assert.equal(once(spec({ failureThreshold: 3, replicas: 10, behavior: 'currentReplicas' }), 3, 6).st.value, 60);
  // should ignore current replicas when behavior is 'static'
  assert.equal(once(spec({ failureThreshold: 3, replicas: 10, behavior: 'static' }), 3, 15).st.value, 100);
  // should reset the health status when scaler metrics are available when fallback is enabled
  const s = spec({ failureThreshold: 3, replicas: 10 });
  const f = new Map([['q', 5]]);
  applyFallback(s, triggerStatuses(s, { q: 6 }, 0), f, 1, 1);
  assert.equal(f.get('q'), 0);
  // should propagate the error when fallback is disabled (and count nothing)
  const none = so({ triggers: queue });
  const g = new Map<string, number>();
  assert.equal(applyFallback(none, triggerStatuses(none, err, 0), g, 1, 1)[0]!.error, 'some error');
  assert.equal(g.size, 0);
});

test('a trigger in fallback counts as active (scale_handler.go isActiveOrFallback); Value fallback needs a ready replica', () => {
  const s = so({ fallback: { failureThreshold: 1, replicas: 3 }, triggers: [{ type: 'embedded', name: 'q', metadata: { lagThreshold: '5' } }] });
  const f = new Map([['q', 1]]);
  const act = activityOf(s, applyFallback(s, triggerStatuses(s, { q: new Error('down') }, 0), f, 0, 0));
  assert.deepEqual([act.active, act.error, act.fallback], [true, false, true]);
  // failed polls count toward failureThreshold (2.20): the third failed poll of threshold 2 activates from 0
  const scaler = createScaler(so({ cooldownPeriod: 10, fallback: { failureThreshold: 2, replicas: 3 }, triggers: queue }), 0);
  const down = { q: new Error('down') };
  assert.equal(scaler.poll(0, down, 0).replicas, null);
  const second = scaler.poll(1000, down, 0);
  assert.deepEqual([second.replicas, second.tick.reason], [null, 'keda: TriggerError: waiting for fallback']);
  const third = scaler.poll(2000, down, 0);
  assert.deepEqual([third.replicas, third.tick.reason], [1, 'keda: ScalerActive: q in fallback (fallback)']);
  assert.equal(scaler.lastActiveTime, 2000);
  const later = scaler.poll(60_000, down, 3);
  assert.deepEqual([later.replicas, scaler.lastActiveTime], [null, 60_000], 'still active: lastActiveTime follows, no cooldown to 0');
  const v = so({ fallback: { failureThreshold: 0, replicas: 3 }, triggers: [{ type: 'embedded', name: 'q', metricType: 'Value', metadata: {} }] });
  const none = applyFallback(v, triggerStatuses(v, { q: new Error('down') }, 0), new Map(), 0, 0)[0]!;
  assert.match(none.error!, /needs a ready replica/, 'doFallback: readyReplicas is zero, cannot do fallback');
});

test('TestFallbackFromZero (tests/internals/fallback): from 0 replicas a failing scaler scales to fallback.replicas and stays', async () => {
  // scaledObjectTemplateWithStatic: min 0, max 5, fallback static 3 after 1 failure, poll 5 s, cooldown 1 s
  const s = so({
    minReplicaCount: 0,
    maxReplicaCount: 5,
    fallback: { failureThreshold: 1, replicas: 3, behavior: 'static' },
    advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: 1 } } } },
    cooldownPeriod: 1,
    pollingInterval: 5,
    triggers: [{ type: 'metrics-api', metricType: 'AverageValue', metadata: { targetValue: '5', url: 'http://metrics/api/value', valueLocation: 'value' } }],
  });
  const vc = createVirtualClock(0);
  let replicas = 0;
  let up = true;
  const loop = createScaleLoop({
    spec: s,
    clock: vc.clock,
    hpaSyncMs: 15_000,
    readMetrics: async () => ({ 'metrics-api': up ? 0 : new Error('connection refused') }),
    target: { setReplicas: (n) => (replicas = n), currentReplicas: () => replicas },
  });
  loop.start();
  await vc.run(60_000, () => loop.settled());
  assert.equal(replicas, 0, 'metric 0: stays at minReplicas');
  up = false; // "Stop metrics server to trigger fallback"
  await vc.run(120_000, () => loop.settled());
  assert.equal(replicas, 3, 'fallback.replicas, from zero');
  assert.equal(loop.state().active, true, 'the trigger in fallback is active');
  assert.equal(loop.state().fallback, true);
  assert.equal(loop.state().triggers[0]!.fallback, 'replicas');
  const before = loop.state().lastActiveTime!;
  await vc.run(180_000, () => loop.settled());
  assert.equal(replicas, 3, 'AssertReplicaCountNotChangeDuringTimePeriod: the cooldown never starts');
  assert.ok(loop.state().lastActiveTime! > before, 'lastActiveTime follows the fallback');
  loop.stop();
});

// ---------------------------------------------------------------- KEDA: scalingModifiers

const metricsServerEndpoint = 'http://scaling-modifiers-test-service.scaling-modifiers-test-ns.svc.cluster.local:8080/api/value';
/** soFallbackTemplate / soComplexFormula of tests/internals/scaling_modifiers, as written there. */
const e2eScaledObject = (formula: string): Record<string, unknown> => ({
  apiVersion: 'keda.sh/v1alpha1',
  kind: 'ScaledObject',
  metadata: { name: 'scaling-modifiers-test-so', namespace: 'scaling-modifiers-test-ns', labels: { app: 'scaling-modifiers-test-deployment' } },
  spec: {
    scaleTargetRef: { name: 'scaling-modifiers-test-deployment' },
    advanced: {
      horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: 5 } } },
      scalingModifiers: { formula, target: '2', activationTarget: '2' },
    },
    pollingInterval: 5,
    cooldownPeriod: 5,
    minReplicaCount: 0,
    maxReplicaCount: 10,
    fallback: { replicas: 5, failureThreshold: 3 },
    triggers: [
      { type: 'metrics-api', name: 'metrics_api', metadata: { url: metricsServerEndpoint, valueLocation: 'value', method: 'query' }, metricType: 'AverageValue', authenticationRef: { name: 'scaling-modifiers-test-ta' } },
      { type: 'kubernetes-workload', name: 'kw_trig', metadata: { podSelector: 'pod=workload-test' }, metricType: 'AverageValue' },
    ],
  },
});

test('KEDA e2e ScaledObjects (tests/internals/scaling_modifiers) validate: triggers are metric sources without their own targets', () => {
  assert.doesNotThrow(() => parseScaledObject(e2eScaledObject('metrics_api + kw_trig')));
  assert.doesNotThrow(() => parseScaledObject(e2eScaledObject('count([kw_trig,metrics_api],{#>1}) > 1 ? 5 : 0')));
  const pg = { type: 'postgresql', name: 'pg', metadata: { connectionFromEnv: 'PG', query: 'SELECT 1' } };
  assert.doesNotThrow(() => so({ triggers: [pg], advanced: { scalingModifiers: { formula: 'pg', target: '2' } } }), 'postgresql without targetQueryValue');
  assert.throws(() => so({ triggers: [pg] }), /targetQueryValue: required/, 'outside scalingModifiers the target is required');
  assert.throws(() => so({ triggers: [{ type: 'metrics-api', metadata: { url: 'u', valueLocation: 'v' } }] }), /targetValue: required/);
});

test('TestScalingModifiers testFormula (tests/internals/scaling_modifiers): replicas 0 -> 3 -> fallback 5 -> 2, then the complex formula 0 -> 3', async () => {
  let spec = parseScaledObject(e2eScaledObject('metrics_api + kw_trig')).spec;
  let metric: number | Error = 0;
  let pods = 0;
  const vc = createVirtualClock(0);
  let replicas = 0;
  const make = () =>
    createScaleLoop({
      spec,
      clock: vc.clock,
      hpaSyncMs: 15_000,
      readMetrics: async () => ({ metrics_api: metric, kw_trig: pods }),
      target: { setReplicas: (n) => (replicas = n), currentReplicas: () => replicas },
    });
  let loop = make();
  loop.start();
  const run = async (s: number) => vc.run(vc.clock.now() + s * 1000, () => loop.settled());
  await run(60);
  assert.equal(replicas, 0, 'metric 0, no workload pods: 0 is not > activationTarget 2');
  metric = 3;
  pods = 2;
  await run(120);
  assert.equal(replicas, 3, '(3 + 2) / 2 -> 3');
  metric = new Error('metrics server scaled to 0');
  await run(120);
  assert.equal(replicas, 5, 'after failureThreshold 3: fallback.replicas 5 (composite 5 x 2)');
  await run(60);
  assert.equal(replicas, 5, 'stays at 5');
  metric = 2;
  await run(120);
  assert.equal(replicas, 2, '(2 + 2) / 2 -> 2');
  metric = 0;
  loop.stop();
  spec = parseScaledObject(e2eScaledObject('count([kw_trig,metrics_api],{#>1}) > 1 ? 5 : 0')).spec;
  loop = make();
  loop.start();
  await run(120);
  assert.equal(replicas, 0, 'one value above 1: formula 0, inactive, cooldown 5 s -> 0');
  metric = 2;
  await run(120);
  assert.equal(replicas, 3, 'two values above 1: formula 5 -> ceil(5 / 2) = 3');
  loop.stop();
});

test('scalingModifierTriggerValue (formula_test.go TestScalingModifierTriggerValue): nil only once failures exceed the threshold', () => {
  const s = so({
    triggers: [{ type: 'embedded', name: 'a', metadata: {} }, { type: 'smtp', name: 'b', metadata: {} }],
    advanced: { scalingModifiers: { formula: 'a ?? b', target: '2' } },
    fallback: { failureThreshold: 2, replicas: 7, behavior: 'scalingModifiers' },
  });
  const at = (failures: number) => {
    const f = new Map([['a', failures]]);
    return applyFallback(s, triggerStatuses(s, { a: new Error('x'), b: 6 }, 0), f, 1, 1)[0]!;
  };
  assert.equal(at(1).error, 'x', 'failures at threshold returns the metric value (gate is strict >): still an error');
  assert.equal(at(2).fallback, 'nil', 'failures one over threshold returns nil');
  // TestCalculateScalingModifiersFormulaFallbackReplicas: a nil formula result is fallback.replicas x target
  const nilAll = createScaler(so({
    triggers: [{ type: 'embedded', name: 'a', metadata: {} }],
    advanced: { scalingModifiers: { formula: 'a', target: '2' } },
    fallback: { failureThreshold: 0, replicas: 7, behavior: 'scalingModifiers' },
  }), 0);
  assert.equal(nilAll.sync(15_000, { a: new Error('x') }, 7, 7).tick.desired, 7, '7 x 2 / 2');
});

test('expr-lang builtins over arrays with closures, without eval', () => {
  const f = (src: string, env: Record<string, number | null> = {}) => compileFormula(src).evaluate(env);
  const rows: Array<[string, Record<string, number | null>, number | null]> = [
    ['count([trig_one, trig_two], {# > 1}) > 1 ? 5 : 0', { trig_one: 2, trig_two: 3 }, 5],
    ['count([trig_one, trig_two], {# > 1}) > 1 ? 5 : 0', { trig_one: 2, trig_two: 1 }, 0],
    ['all([a, b], {# > 0}) ? 1 : 0', { a: 1, b: 0 }, 0],
    ['any([a, b], # > 0) ? 1 : 0', { a: 1, b: 0 }, 1],
    ['none([a, b], {# > 5}) ? 1 : 0', { a: 1, b: 0 }, 1],
    ['one([a, b], {# == 1}) ? 1 : 0', { a: 1, b: 0 }, 1],
    ['len(filter([a, b, c], {# >= 2}))', { a: 1, b: 2, c: 3 }, 2],
    ['sum(map([a, b], {# * 10}))', { a: 1, b: 2 }, 30],
    ['sum([a, b, c])', { a: 1, b: 2, c: 3 }, 6],
    ['sum([a, b], {# * 2})', { a: 1, b: 2 }, 6],
    ['max([a, b, c])', { a: 4, b: 9, c: 3 }, 9],
    ['min([a, b], c)', { a: 4, b: 9, c: 3 }, 3],
    ['mean([a, b])', { a: 4, b: 8 }, 6],
    ['median([a, b, c])', { a: 4, b: 9, c: 3 }, 4],
    ['reduce([a, b, c], #acc + #)', { a: 1, b: 2, c: 3 }, 6],
    ['first(filter([a, b], {# != nil})) ?? 8', { a: null, b: 4 }, 4],
    ['last([a, b])', { a: 1, b: 2 }, 2],
    ['[a, b][-1]', { a: 1, b: 2 }, 2],
    ['sum(1..4)', {}, 10],
    ['a in [1, 2] ? 10 : 20', { a: 2 }, 10],
    ['let total = a + b; total / 2', { a: 3, b: 5 }, 4],
    ['count(map([a, b], {#index}), {# > 0})', { a: 7, b: 7 }, 1],
  ];
  for (const [src, env, expected] of rows) assert.equal(f(src, env), expected, src);
  assert.throws(() => compileFormula('# > 1'), /only allowed inside a closure/);
  assert.throws(() => f('all([a], {# + 1})', { a: 1 }), /must return a boolean/);
  assert.throws(() => f('[a, b]', { a: 1, b: 2 }), /must return a number, not an array/);
  // validateScalingModifiersFormula runs the formula once with every trigger at -1
  assert.throws(() => so({ triggers: queue, advanced: { scalingModifiers: { formula: 'q > 1', target: '1' } } }), /must return a number, not a boolean/);
  assert.throws(() => so({ triggers: queue, advanced: { scalingModifiers: { formula: '[q][1]', target: '1' } } }), /index 1 out of range/);
});

// ---------------------------------------------------------------- KEDA: scalers

test('cron reports 0 outside its window (cron_scaler_test.go TestGetMetrics, 2.18 #6888)', () => {
  const cron = { type: 'cron', metadata: { timezone: 'Etc/UTC', start: '0 8 * * *', end: '0 9 * * *', desiredReplicas: '10' } };
  const inside = Date.UTC(2026, 0, 1, 8, 30);
  const outside = Date.UTC(2026, 0, 1, 12, 0);
  assert.deepEqual(cronSample(cron, inside), { value: 10, active: true });
  assert.deepEqual(cronSample(cron, outside), { value: 0, active: false });
  const s = so({ triggers: [cron] });
  const st = triggerStatuses(s, {}, outside)[0]!;
  assert.deepEqual([st.value, st.active], [0, false]);
});

test('typed trigger fields: int64 fields refuse fractions, float64 fields take JSON numbers (metadata struct tags)', () => {
  const t = (type: string, metadata: Record<string, string>) => () => so({ triggers: [{ type, metadata }] });
  // [scaler, key, value, ok] — field types from pkg/scalers/*_scaler.go `keda:"..."` tags
  const rows: Array<[string, Record<string, string>, RegExp | null]> = [
    ['nats-jetstream', { lagThreshold: '2.5' }, /lagThreshold: must be a whole number \(KEDA reads it into an int64\), got "2\.5"/],
    ['nats-jetstream', { lagThreshold: '3' }, null],
    ['nats-jetstream', { activationLagThreshold: '1e2' }, /activationLagThreshold: must be a whole number/],
    ['kafka', { lagThreshold: '10.0' }, /lagThreshold: must be a whole number/],
    ['redis-streams', { stream: 's', consumerGroup: 'g', lagCount: '1.5' }, /lagCount: must be a whole number/],
    ['redis-streams', { stream: 's', pendingEntriesCount: '7' }, null],
    ['redis', { listName: 'l', listLength: '2.5' }, /listLength: must be a whole number/],
    ['rabbitmq', { queueName: 'q', mode: 'QueueLength', value: '2.5' }, null],
    ['rabbitmq', { queueName: 'q', mode: 'MessageRate', value: '.5' }, /value: must be a number such as/],
    ['postgresql', { query: 'SELECT 1', targetQueryValue: '0.5', activationTargetQueryValue: '1e-1' }, null],
    ['postgresql', { query: 'SELECT 1', targetQueryValue: 'ten' }, /targetQueryValue: must be a number/],
    ['metrics-api', { url: 'u', valueLocation: 'v', targetValue: '2.5' }, null],
    ['cron', { timezone: 'Etc/UTC', start: '0 8 * * *', end: '0 9 * * *', desiredReplicas: '1.5' }, /desiredReplicas: must be a whole number/],
  ];
  for (const [type, metadata, err] of rows) {
    if (err) assert.throws(t(type, metadata), err, `${type} ${JSON.stringify(metadata)}`);
    else assert.doesNotThrow(t(type, metadata), `${type} ${JSON.stringify(metadata)}`);
  }
});
