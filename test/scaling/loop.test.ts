import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createScaleLoop, createVirtualClock, parseScaledObject, type ScalingSpec } from '../../src/scaling/index.js';

function spec(s: Record<string, unknown> = {}): ScalingSpec {
  return parseScaledObject({ triggers: [{ type: 'embedded', name: 'q', metadata: {} }], ...s }).spec;
}

function harness(s: ScalingSpec, initial = 0) {
  const vc = createVirtualClock(0);
  let replicas = initial;
  let lag = 0;
  let reads = 0;
  const sets: Array<{ at: number; n: number }> = [];
  const loop = createScaleLoop({
    spec: s,
    clock: vc.clock,
    hpaSyncMs: 1000,
    readMetrics: async () => {
      reads++;
      return { q: lag };
    },
    target: {
      setReplicas: (n) => {
        replicas = n;
        sets.push({ at: vc.clock.now(), n });
      },
      currentReplicas: () => replicas,
    },
  });
  return {
    vc,
    loop,
    sets,
    get replicas() {
      return replicas;
    },
    set lag(v: number) {
      lag = v;
    },
    get reads() {
      return reads;
    },
    run: (ms: number) => vc.run(ms, () => loop.settled()),
  };
}

test('polls at once, then every pollingInterval', async () => {
  const h = harness(spec({ pollingInterval: 30 }));
  h.loop.start();
  await h.loop.settled();
  assert.equal(h.reads, 1, 'first poll happens right away');
  h.lag = 3;
  await h.run(29_999);
  assert.equal(h.replicas, 0, 'no push, no poll yet: still at zero');
  await h.run(30_000);
  assert.deepEqual(h.sets, [{ at: 30_000, n: 1 }], 'activated by the poll at 30 s');
  h.loop.stop();
});

test('push while at zero activates synchronously with the pushed value', async () => {
  const h = harness(spec({ pollingInterval: 30 }));
  h.loop.start();
  await h.loop.settled();
  h.loop.notify({ q: 1 });
  assert.equal(h.replicas, 1, 'set before notify() returned');
  assert.deepEqual(h.sets, [{ at: 0, n: 1 }]);
  assert.equal(h.loop.state().lastDecision?.to, 1);
  assert.match(h.loop.state().lastDecision!.reason, /ScalerActive: q 1 > activation 0/);
  h.loop.stop();
});

test('push without values reads the metrics and activates without waiting for the poll', async () => {
  const h = harness(spec({ pollingInterval: 30 }));
  h.loop.start();
  await h.loop.settled();
  h.lag = 2;
  h.loop.notify();
  await new Promise((r) => setImmediate(r));
  assert.equal(h.replicas, 1);
  assert.equal(h.vc.clock.now(), 0, 'no virtual time passed');
  h.loop.notify({ q: 0 });
  assert.equal(h.replicas, 1, 'a pushed inactive value is ignored (deactivation only by polling)');
  h.loop.stop();
});

test('then the HPA sizes 1 -> N on its sync, and KEDA returns N -> 0 after the cooldown', async () => {
  const h = harness(spec({ pollingInterval: 5, cooldownPeriod: 10, maxReplicaCount: 8, advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: 0 } } } } }));
  h.loop.start();
  await h.loop.settled();
  h.lag = 75;
  h.loop.notify({ q: 75 });
  await h.run(1_000);
  assert.equal(h.replicas, 5, 'first sync: 1 -> 5 (default +4/+100% per 15 s)');
  await h.run(20_000);
  assert.equal(h.replicas, 8, 'then clamped to maxReplicaCount');
  h.lag = 0;
  const st = h.loop.state();
  assert.equal(st.active, true);
  assert.equal(st.triggers[0]!.value, 75);
  await h.run(60_000);
  assert.equal(h.replicas, 0);
  const lastActive = h.loop.state().lastActiveTime!;
  const toZero = h.sets.find((s) => s.n === 0)!;
  assert.ok(toZero.at > lastActive + 10_000, 'only after lastActiveTime + cooldownPeriod');
  assert.equal(h.loop.state().active, false);
  h.loop.stop();
});

test('paused-replicas: the loop sets the count and never moves it', async () => {
  const s = parseScaledObject({
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { annotations: { 'autoscaling.keda.sh/paused-replicas': '2' } },
    spec: { triggers: [{ type: 'embedded', metadata: {} }] },
  }).spec;
  const h = harness(s);
  h.loop.start();
  await h.loop.settled();
  h.lag = 1000;
  h.loop.notify({ embedded: 1000 });
  await h.run(120_000);
  assert.deepEqual(h.sets, [{ at: 0, n: 2 }]);
  assert.equal(h.loop.state().paused, true);
  h.loop.stop();
});

test('a failing readMetrics never scales to zero', async () => {
  const vc = createVirtualClock(0);
  let replicas = 3;
  const loop = createScaleLoop({
    spec: spec({ pollingInterval: 1, cooldownPeriod: 0 }),
    clock: vc.clock,
    readMetrics: async () => {
      throw new Error('broker down');
    },
    target: { setReplicas: (n) => (replicas = n), currentReplicas: () => replicas },
  });
  loop.start();
  await vc.run(60_000, () => loop.settled());
  assert.equal(replicas, 3);
  assert.equal(loop.state().triggers[0]!.error, 'broker down');
  loop.stop();
});
