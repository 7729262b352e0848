import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { parseScaledObject, parseScalingSpec, scalingSpecSchema, withTriggers } from '../../src/scaling/index.js';
import { triggerTarget } from '../../src/scaling/triggers.js';
import { loadScaledObject } from '../../src/cli/commands/simulate.js';
import { repoRoot } from '../helpers/cli.js';

const so = (spec: Record<string, unknown>, annotations?: Record<string, string>) => ({
  apiVersion: 'keda.sh/v1alpha1',
  kind: 'ScaledObject',
  metadata: { name: 'x', ...(annotations ? { annotations } : {}) },
  spec: { scaleTargetRef: { name: 'x' }, triggers: [{ type: 'embedded', metadata: {} }], ...spec },
});

function throwsWith(fn: () => unknown, ...parts: string[]) {
  assert.throws(fn, (err: Error) => {
    for (const p of parts) assert.ok(err.message.includes(p), `expected ${JSON.stringify(p)} in:\n${err.message}`);
    return true;
  });
}

test('the four ScaledObjects copied from KEDA docs parse unchanged', () => {
  const expect: Record<string, { type: string; target: number; activation: number; min: number; max: number; poll: number }> = {
    'nats-jetstream': { type: 'nats-jetstream', target: 10, activation: 15, min: 0, max: 2, poll: 3 },
    'redis-streams': { type: 'redis-streams', target: 10, activation: 0, min: 1, max: 25, poll: 15 },
    rabbitmq: { type: 'rabbitmq', target: 20, activation: 0, min: 0, max: 100, poll: 30 },
    postgresql: { type: 'postgresql', target: 1.1, activation: 5, min: 0, max: 10, poll: 10 },
  };
  for (const [file, e] of Object.entries(expect)) {
    const cfg = loadScaledObject(path.join(repoRoot, 'examples/scaling', `${file}.yaml`));
    const t = cfg.spec.triggers[0]!;
    assert.equal(t.type, e.type, file);
    const target = triggerTarget(t);
    assert.equal(target.target, e.target, file);
    assert.equal(target.activationTarget, e.activation, file);
    assert.equal(target.metricType, 'AverageValue');
    assert.deepEqual([cfg.spec.minReplicaCount, cfg.spec.maxReplicaCount, cfg.spec.pollingInterval], [e.min, e.max, e.poll], file);
  }
});

test('KEDA and Kubernetes defaults fill an empty spec', () => {
  const s = parseScalingSpec({});
  assert.equal(s.pollingInterval, 30);
  assert.equal(s.cooldownPeriod, 300);
  assert.equal(s.initialCooldownPeriod, 0);
  assert.equal(s.minReplicaCount, 0);
  assert.equal(s.maxReplicaCount, 100);
  assert.equal(s.idleReplicaCount, undefined);
  assert.deepEqual(s.triggers, []);
  assert.deepEqual(s.behavior.scaleUp.policies, [
    { type: 'Percent', value: 100, periodSeconds: 15 },
    { type: 'Pods', value: 4, periodSeconds: 15 },
  ]);
  assert.equal(s.behavior.scaleUp.stabilizationWindowSeconds, 0);
  assert.equal(s.behavior.scaleDown.stabilizationWindowSeconds, 300);
  assert.equal(s.behavior.scaleDown.tolerance, 0.1);
  assert.equal(s.behaviorGiven, false);
  // a partial behavior keeps the defaults of the parts not given
  const p = parseScalingSpec({ advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: { selectPolicy: 'Min' } } } } });
  assert.equal(p.behavior.scaleDown.selectPolicy, 'Min');
  assert.equal(p.behavior.scaleDown.stabilizationWindowSeconds, 300);
  assert.equal(p.behavior.scaleUp.policies.length, 2);
});

test('an invalid or unknown field names its path and what is allowed', () => {
  const bad = so({ advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleUp: { policies: [{ type: 'Pod', value: 1, periodSeconds: 15 }] } } } } });
  throwsWith(() => parseScaledObject(bad), 'spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.policies[0].type', '"Pods"', '"Percent"');
  throwsWith(() => parseScaledObject(so({ pollingIntervall: 5 })), 'spec', 'pollingIntervall', 'pollingInterval', 'cooldownPeriod');
  throwsWith(() => parseScaledObject(so({ pollingInterval: 0 })), 'spec.pollingInterval', 'at least 1');
  throwsWith(() => parseScaledObject(so({ minReplicaCount: 5, maxReplicaCount: 2 })), 'spec.minReplicaCount', 'maxReplicaCount=2');
  throwsWith(() => parseScaledObject(so({ advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: { policies: [{ type: 'Pods', value: 1, periodSeconds: 1801 }] } } } } })), 'policies[0].periodSeconds', '1800');
  throwsWith(() => parseScaledObject({ ...so({}), kind: 'ScaledJob' }), 'kind', 'ScaledObject');
  throwsWith(() => parseScaledObject(so({ triggers: [] })), 'spec.triggers', 'at least one');
  throwsWith(() => parseScaledObject(so({ triggers: [{ type: 'prometheus-typo', metadata: {} }] })), 'spec.triggers[0].type', 'supported', 'nats-jetstream');
  throwsWith(() => parseScaledObject(so({ triggers: [{ type: 'nats-jetstream', metadata: { lagThreshold: 'ten' } }] })), 'spec.triggers[0].metadata.lagThreshold', 'number');
  throwsWith(() => parseScaledObject(so({ triggers: [{ type: 'postgresql', metadata: { query: 'select 1' } }] })), 'spec.triggers[0].metadata.targetQueryValue', 'required');
  throwsWith(() => parseScaledObject(so({ triggers: [{ type: 'embedded', metricType: 'Utilization', metadata: {} }] })), 'spec.triggers[0].metricType');
  throwsWith(
    () => parseScaledObject(so({ triggers: [{ type: 'embedded', name: 'a', metadata: {} }, { type: 'smtp', name: 'a', metadata: {} }] })),
    'spec.triggers[1].name',
    'unique',
  );
});

test('idleReplicaCount must be below minReplicaCount (KEDA counts a given min as max(min,1))', () => {
  assert.equal(parseScaledObject(so({ idleReplicaCount: 0, minReplicaCount: 0 })).spec.idleReplicaCount, 0);
  assert.equal(parseScaledObject(so({ idleReplicaCount: 0, minReplicaCount: 3 })).spec.idleReplicaCount, 0);
  throwsWith(() => parseScaledObject(so({ idleReplicaCount: 0 })), 'spec.idleReplicaCount', 'less than minReplicaCount=0');
  throwsWith(() => parseScaledObject(so({ idleReplicaCount: 3, minReplicaCount: 3 })), 'spec.idleReplicaCount');
});

test('paused and paused-replicas annotations', () => {
  assert.equal(parseScaledObject(so({})).spec.paused, false);
  assert.equal(parseScaledObject(so({}, { 'autoscaling.keda.sh/paused': 'true' })).spec.paused, true);
  assert.equal(parseScaledObject(so({}, { 'autoscaling.keda.sh/paused': 'false' })).spec.paused, false);
  assert.equal(parseScaledObject(so({}, { 'autoscaling.keda.sh/paused': 'yes please' })).spec.paused, true, 'KEDA pauses on a non-boolean');
  const r = parseScaledObject(so({}, { 'autoscaling.keda.sh/paused-replicas': '2', 'autoscaling.keda.sh/paused': 'false' })).spec;
  assert.equal(r.paused, true);
  assert.equal(r.pausedReplicas, 2);
  throwsWith(() => parseScaledObject(so({}, { 'autoscaling.keda.sh/paused-replicas': 'two' })), 'paused-replicas', 'whole number');
});

test('scalingModifiers: formula, target, names; fallback checks', () => {
  const trig = [
    { type: 'embedded', name: 'a', metadata: {} },
    { type: 'smtp', name: 'b', metadata: {} },
  ];
  const ok = parseScaledObject(so({ triggers: trig, advanced: { scalingModifiers: { formula: 'a + b ?? 0', target: '5' } } }));
  assert.deepEqual(ok.spec.scalingModifiers, { formula: 'a + b ?? 0', target: 5, activationTarget: 0, metricType: 'AverageValue' });
  throwsWith(() => parseScaledObject(so({ triggers: trig, advanced: { scalingModifiers: { formula: 'a + c', target: '5' } } })), 'spec.advanced.scalingModifiers.formula', 'unknown name c', 'a, b');
  throwsWith(() => parseScaledObject(so({ triggers: trig, advanced: { scalingModifiers: { formula: 'a +', target: '5' } } })), 'formula', 'end of formula');
  throwsWith(() => parseScaledObject(so({ triggers: trig, advanced: { scalingModifiers: { formula: 'a' } } })), 'spec.advanced.scalingModifiers.target', 'required');
  throwsWith(() => parseScaledObject(so({ fallback: { failureThreshold: 3, replicas: 2, behavior: 'scalingModifiers' } })), 'spec.fallback.behavior', 'formula');
  throwsWith(() => parseScaledObject(so({ fallback: { failureThreshold: 3 } })), 'spec.fallback.replicas');
});

test('the manifest embeds a spec without triggers and fills them from the component', () => {
  const r = scalingSpecSchema.safeParse({ maxReplicaCount: 4 });
  assert.ok(r.success);
  const spec = withTriggers(r.data, [{ type: 'nats-jetstream', metadata: { stream: 's', consumer: 'c', lagThreshold: '3' } }], 'components[0].scaling');
  assert.equal(spec.triggers[0]!.name, 'nats-jetstream');
  assert.equal(triggerTarget(spec.triggers[0]!).target, 3);
  throwsWith(() => withTriggers(r.data, [{ type: 'kafka', metadata: { lagThreshold: '0' } }], 'components[0].scaling'), 'components[0].scaling.triggers[0].metadata.lagThreshold', 'greater than 0');
});

test('trigger targets follow each KEDA scaler', () => {
  const t = (type: string, metadata: Record<string, string>, metricType?: 'Value') => triggerTarget({ type, metadata, ...(metricType ? { metricType } : {}) });
  assert.deepEqual([t('nats-jetstream', {}).target, t('nats-jetstream', {}).activationTarget], [10, 0]);
  assert.deepEqual([t('kafka', { lagThreshold: '50', activationLagThreshold: '2' }).target, t('kafka', { activationLagThreshold: '2' }).activationTarget], [50, 2]);
  assert.equal(t('redis-streams', { consumerGroup: 'g', lagCount: '7' }).target, 7);
  assert.equal(t('redis-streams', { consumerGroup: 'g' }).target, 5, 'pendingEntriesCount default');
  assert.equal(t('redis-streams', { streamLength: '9' }).target, 9, 'no group: stream length');
  assert.equal(t('redis-streams', { activationLagCount: '2' }).activationTarget, 2);
  assert.equal(t('rabbitmq', {}).target, 20, 'QueueLength 20 by default');
  assert.equal(t('rabbitmq', { mode: 'QueueLength', value: '100.5', activationValue: '10.5' }).target, 100.5);
  assert.equal(t('rabbitmq', { mode: 'QueueLength', value: '100.5', activationValue: '10.5' }).activationTarget, 10.5);
  assert.throws(() => t('rabbitmq', { queueLength: '5', mode: 'QueueLength', value: '3' }), /deprecated/);
  assert.throws(() => t('rabbitmq', { mode: 'Bogus', value: '3' }), /QueueLength/);
  assert.equal(t('postgresql', { targetQueryValue: '2', activationTargetQueryValue: '1.5' }).activationTarget, 1.5);
  assert.equal(t('embedded', {}, 'Value').metricType, 'Value');
  for (const type of ['embedded', 'smtp', 'http', 'mqtt']) assert.deepEqual([t(type, {}).target, t(type, {}).activationTarget], [10, 0], type);
  const cron = t('cron', { timezone: 'Europe/Berlin', start: '0 8 * * *', end: '0 18 * * *', desiredReplicas: '4' });
  assert.equal(cron.target, 1);
  assert.throws(() => t('cron', { timezone: 'UTC', start: '0 8 * * *', end: '0 8 * * *', desiredReplicas: '4' }), /differ/);
  assert.throws(() => t('cron', { timezone: 'UTC', start: '0 8 * * *', end: '0 9 * * *' }), /desiredReplicas/);
});
