import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { scalerProvider } from '../../src/kube/scaler-provider.js';
import { oneComponent, tempDir, withApp } from '../app/helpers.js';

test("scalerProvider: KEDA sees the component trigger's target, activation and lag", async (t) => {
  const dir = tempDir('fw-provider-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const manifest = oneComponent(dir, { trigger: { type: 'embedded', metadata: { lagThreshold: '7', activationLagThreshold: '2' } } });
  await withApp(manifest, async (app) => {
    const provider = scalerProvider(app);
    assert.equal(provider.component('nope'), undefined);
    const c = provider.component('c1');
    assert.ok(c);
    assert.equal(c.target, 7);
    assert.equal(c.activationTarget, 2);
    assert.equal(await c.metricValue(), 0);
    assert.equal(await c.isActive(), false);
  });
});

test('scalerProvider: activity and the metric come from the component scaling state (scalingModifiers honoured)', async (t) => {
  const dir = tempDir('fw-provider-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const manifest = oneComponent(dir, {
    scaling: {
      pollingInterval: 1,
      cooldownPeriod: 1,
      minReplicaCount: 0,
      maxReplicaCount: 4,
      triggers: [{ type: 'embedded', name: 'q' }],
      advanced: { scalingModifiers: { formula: 'q + 5', target: '10', activationTarget: '4' } },
    },
  });
  await withApp(manifest, async (app) => {
    const c = scalerProvider(app).component('c1')!;
    assert.equal(c.target, 10, 'the formula target, not the trigger lagThreshold');
    assert.equal(c.activationTarget, 4);
    assert.equal(await c.metricValue(), 5, 'the composite q + 5 with an empty queue');
    assert.equal(await c.isActive(), true, 'composite 5 > activationTarget 4, though the queue itself is empty');
  });
});
