import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect, type MsgHdrs } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createClient } from 'redis';
import amqp from 'amqplib';
import mqtt from 'mqtt';
import { requireService } from '../helpers/services.js';
import { config, create } from '../../src/sinks/publish.js';

const records = [{ n: 1, who: 'a' }, { n: 2, who: 'b' }];
type Got = { body: unknown; eventId: string | undefined; index: string | undefined };

function check(got: Got[]) {
  assert.deepEqual(
    got.map((g) => g.body),
    records,
  );
  assert.deepEqual(got.map((g) => [g.eventId, g.index]), [['ev-1', '0'], ['ev-1', '1']]);
}

test('publish sink: config validation names the missing key', () => {
  assert.ok(config.safeParse({ type: 'publish', broker: 'nats', subject: 'x' }).success);
  const r = config.safeParse({ type: 'publish', broker: 'redis', subject: 'x' });
  assert.ok(!r.success && /stream/.test(JSON.stringify(r.error.issues)));
  assert.ok(!config.safeParse({ type: 'publish', broker: 'kafka', topic: 'x' }).success);
  assert.ok(!config.safeParse({ type: 'publish', broker: 'mqtt', topic: 'a/#' }).success);
});

test('publish sink: nats (JetStream ack; Nats-Msg-Id dedupes a redelivered event)', async (t) => {
  if (!(await requireService(t, 'nats'))) return;
  const name = `FWS_${randomUUID().slice(0, 8)}`;
  const nc = await connect({ servers: '127.0.0.1:4222' });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name, subjects: [`${name}.out`] });
  t.after(async () => {
    await jsm.streams.delete(name).catch(() => undefined);
    await nc.close();
  });
  const sink = create(config.parse({ type: 'publish', broker: 'nats', subject: `${name}.out` }));
  await sink.start();
  await sink.write('ev-1', records);
  await sink.write('ev-1', records); // redelivery: the stream's duplicate window drops the copies
  await sink.close();
  assert.equal((await jsm.streams.info(name)).state.messages, 2);
  const got: Got[] = [];
  for (let seq = 1; seq <= 2; seq++) {
    const m = await jsm.streams.getMessage(name, { seq });
    const h = m!.header as MsgHdrs;
    got.push({ body: m!.json(), eventId: h.get('fw-event-id'), index: h.get('fw-record-index') });
  }
  check(got);
});

test('publish sink: redis stream (XADD reply)', async (t) => {
  if (!(await requireService(t, 'redis'))) return;
  const stream = `fws-${randomUUID().slice(0, 8)}`;
  const c = createClient({ url: 'redis://127.0.0.1:6379' });
  await c.connect();
  t.after(async () => {
    await c.del(stream);
    c.destroy();
  });
  const sink = create(config.parse({ type: 'publish', broker: 'redis', stream }));
  await sink.start();
  await sink.write('ev-1', records);
  await sink.close();
  const entries = await c.xRange(stream, '-', '+');
  check(entries!.map((e) => ({ body: JSON.parse(e.message.body!), eventId: e.message['fw-event-id'], index: e.message['fw-record-index'] })));
});

test('publish sink: rabbitmq exchange (publisher confirms)', async (t) => {
  if (!(await requireService(t, 'rabbitmq'))) return;
  const name = `fws-${randomUUID().slice(0, 8)}`;
  const conn = await amqp.connect('amqp://guest:guest@127.0.0.1:5672/');
  const ch = await conn.createChannel();
  await ch.assertExchange(name, 'fanout', { durable: false, autoDelete: false });
  await ch.assertQueue(name, { durable: false });
  await ch.bindQueue(name, name, '');
  t.after(async () => {
    await ch.deleteQueue(name);
    await ch.deleteExchange(name);
    await conn.close();
  });
  const sink = create(config.parse({ type: 'publish', broker: 'rabbitmq', exchange: name }));
  await sink.start();
  await sink.write('ev-1', records);
  await sink.close();
  const got: Got[] = [];
  for (let i = 0; i < 2; i++) {
    const m = await ch.get(name, { noAck: true });
    assert.ok(m);
    assert.equal(m.properties.messageId, `ev-1:${i}`);
    got.push({ body: JSON.parse(m.content.toString()), eventId: m.properties.headers?.['fw-event-id'], index: m.properties.headers?.['fw-record-index'] });
  }
  check(got);
  await assert.rejects(
    async () => {
      const bad = create(config.parse({ type: 'publish', broker: 'rabbitmq', exchange: `${name}-missing` }));
      await bad.start();
    },
    /exchange .* is not usable/,
  );
});

test('publish sink: mqtt topic (QoS 1 PUBACK)', async (t) => {
  if (!(await requireService(t, 'mqtt'))) return;
  const topic = `fws/${randomUUID().slice(0, 8)}`;
  const sub = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { protocolVersion: 5 });
  t.after(() => sub.endAsync());
  const got: Got[] = [];
  const both = new Promise<void>((resolve) =>
    sub.on('message', (_t, payload, packet) => {
      const up = (packet.properties?.userProperties ?? {}) as Record<string, string>;
      got.push({ body: JSON.parse(payload.toString()), eventId: up['fw-event-id'], index: up['fw-record-index'] });
      if (got.length === 2) resolve();
    }),
  );
  await sub.subscribeAsync(topic, { qos: 1 });
  const sink = create(config.parse({ type: 'publish', broker: 'mqtt', topic }));
  await sink.start();
  await sink.write('ev-1', records);
  await sink.close();
  await both;
  check(got.sort((a, b) => Number(a.index) - Number(b.index)));
});
