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
