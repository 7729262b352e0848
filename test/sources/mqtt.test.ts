import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import { requireService } from '../helpers/services.js';
import { create } from '../../src/sources/mqtt.js';
import { lagPollStartsPush, publishOnlyTakesNothing, closeRedelivers, deliversAllOnce, killNineLosesNothing, nackRedelivers, rejectDrops, take, log, type BrokerCase } from './broker-suite.js';

const URL = 'mqtt://127.0.0.1:1883';

const bc: BrokerCase = {
  module: 'mqtt',
  create,
  metadata: () => {
    const u = randomUUID().slice(0, 8);
    return { topic: `fwt/${u}/in`, clientId: `fwt-${u}` };
  },
  async publishRaw(md, bodies) {
    const c = await mqtt.connectAsync(URL, { protocolVersion: 5 });
    await Promise.all(bodies.map((b) => c.publishAsync(md.topic!, b, { qos: 1 })));
    await c.endAsync();
  },
  async cleanup(md) {
    // a clean start with the same client id discards the persistent session
    const c = await mqtt.connectAsync(URL, { clientId: md.clientId!, clean: true, protocolVersion: 5 });
    await c.endAsync();
  },
};

test('mqtt: 1,000 events delivered and acked exactly once, lag back to 0', async (t) => {
  if (!(await requireService(t, 'mqtt'))) return;
  await deliversAllOnce(t, bc);
});

test('mqtt: nack redelivers after the delay with attempt + 1', async (t) => {
  if (!(await requireService(t, 'mqtt'))) return;
  await nackRedelivers(t, bc);
});

test('mqtt: reject is never redelivered', async (t) => {
  if (!(await requireService(t, 'mqtt'))) return;
  await rejectDrops(t, bc);
});

test('mqtt: close with un-acked deliveries, reopen (same session), nothing lost', async (t) => {
  if (!(await requireService(t, 'mqtt'))) return;
  await closeRedelivers(t, bc);
});

test('mqtt: kill -9 of a consumer holding deliveries loses nothing (persistent session)', async (t) => {
  if (!(await requireService(t, 'mqtt'))) return;
  await killNineLosesNothing(t, bc);
});

test('mqtt: shared subscription, publish() round-trips id and headers', async (t) => {
  if (!(await requireService(t, 'mqtt'))) return;
  const md: Record<string, string> = { ...bc.metadata(), sharedGroup: 'workers' };
  t.after(() => bc.cleanup(md));
  const src = create(md, { component: 'fwtest', dataDir: '.', prefetch: 2 });
  await src.start({ notify() {}, log });
  try {
    assert.equal(await take(src, 300), null); // opens the session and its shared subscription
    await src.publish({ id: 'ev-9', source: 'dlq', subject: '', headers: { 'x-why': 'retry' }, body: new Uint8Array([1, 2, 3]) });
    const d = await take(src, 5000);
    assert.equal(d?.event.id, 'ev-9');
    assert.equal(d?.event.headers['x-why'], 'retry');
    assert.equal(d?.event.subject, md.topic);
    assert.deepEqual([...d!.event.body], [1, 2, 3]);
    assert.deepEqual(await src.lag(), { lag: 1, inFlight: 1 });
    await d!.ack();
    assert.deepEqual(await src.lag(), { lag: 0, inFlight: 0 });
  } finally {
    await src.close();
  }
});

test('mqtt: metadata validation', () => {
  const o = { component: 'c', dataDir: '.', prefetch: 1 };
  assert.throws(() => create({ topic: 't', qos: '0' }, o), /qos/);
  // QoS 2's PUBREC goes out on receipt: an event could be lost by a crash before its rows commit
  assert.throws(() => create({ topic: 't', qos: '2' }, o), /metadata qos: must be "1": an event is acknowledged .* only after its rows are committed/);
  assert.equal(create({ topic: 't', qos: '1' }, o).type, 'mqtt');
  assert.throws(() => create({ topic: 't', group: 'g' }, o), /unknown metadata key "group".*allowed: .*sharedGroup/);
  assert.throws(() => create({}, o), /topic/);
});

test('mqtt: start + publish + close (dlq retry) takes nothing off the broker', async (t) => {
  if (!(await requireService(t, 'mqtt'))) return;
  await publishOnlyTakesNothing(t, bc);
});

test('mqtt: the scaler lag() poll starts consumption; a new event calls notify()', async (t) => {
  if (!(await requireService(t, 'mqtt'))) return;
  await lagPollStartsPush(t, bc);
});

test('mqtt: a resumed session hands out its queued messages before the SUBACK; a refused subscription fails next()', async (t) => {
  if (!(await requireService(t, 'mqtt'))) return;
  const md = bc.metadata();
  t.after(() => bc.cleanup(md));
  const first = create(md, { component: 'fwtest', dataDir: '.', prefetch: 8 });
  await first.start({ notify() {}, log });
  assert.equal(await take(first, 300), null); // makes the session and its subscription
  await first.close();
  await bc.publishRaw(md, ['q1', 'q2', 'q3']);
  const src = create(md, { component: 'fwtest', dataDir: '.', prefetch: 8 });
  await src.start({ notify() {}, log });
  try {
    const got: string[] = [];
    while (got.length < 3) {
      const d = await take(src, 10_000);
      assert.ok(d, `only ${got} of the queued messages arrived`);
      got.push(Buffer.from(d.event.body).toString());
      await d.ack();
    }
    assert.deepEqual(got.sort(), ['q1', 'q2', 'q3']);
  } finally {
    await src.close();
  }
  // a filter the client refuses: next() reports the subscription, not a silent empty inbox
  const bad = create({ topic: 'fwt/#/bad', clientId: `${md.clientId}-bad` }, { component: 'fwtest', dataDir: '.', prefetch: 2 });
  await bad.start({ notify() {}, log });
  try {
    await assert.rejects(take(bad, 10_000), /cannot subscribe .* to fwt\/#\/bad/);
  } finally {
    await bad.close();
    await bc.cleanup({ clientId: `${md.clientId}-bad` });
  }
});
