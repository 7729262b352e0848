import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { requireService } from '../helpers/services.js';
import { oneComponent, tempDir, waitUntil, withApp } from './helpers.js';

test('an extra postgresql scaling trigger is read like KEDA reads it and drives replicas from zero', async (t) => {
  if (!(await requireService(t, 'postgres'))) return;
  const dir = tempDir();
  process.env.FW_TEST_PG = 'postgres://postgres@127.0.0.1:5432/test'; // KEDA's key names the variable
  const m = oneComponent(dir, {
    scaling: {
      pollingInterval: 1,
      cooldownPeriod: 1,
      minReplicaCount: 0,
      maxReplicaCount: 4,
      triggers: [{ type: 'postgresql', name: 'backlog', metadata: { connectionFromEnv: 'FW_TEST_PG', query: 'SELECT 3', targetQueryValue: '1' } }],
    },
  });
  await withApp(m, async (app) => {
    const c = app.components.get('c1')!;
    await waitUntil('the postgresql trigger read', () => c.state().scaler.triggers.some((x) => x.name === 'backlog' && x.value === 3), 30_000);
    const pgTrigger = c.state().scaler.triggers.find((x) => x.name === 'backlog')!;
    assert.equal(pgTrigger.type, 'postgresql');
    assert.equal(pgTrigger.active, true, '3 > activationTargetQueryValue 0');
    await waitUntil('replicas = ceil(3 / 1) = 3 from the HPA step', () => c.state().replicas.current === 3, 30_000);
    assert.equal(c.state().lag, 0, 'the queue itself is empty: the replicas come from the extra trigger');
  });
  fs.rmSync(dir, { recursive: true, force: true });
});

test('an extra scaling trigger of a broker type is refused with the allowed types', () => {
  const dir = tempDir();
  assert.throws(
    () => oneComponent(dir, { scaling: { triggers: [{ type: 'rabbitmq', metadata: { queueName: 'x', value: '5' } }] } }),
    /scaling\.triggers\[0\]\.type: rabbitmq can only be the component's own trigger; extra scaling triggers may be cron, postgresql/,
  );
});
