import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { requireService } from '../helpers/services.js';
import { create } from '../../src/sources/nats-jetstream.js';
import { lagPollStartsPush, publishOnlyTakesNothing, closeRedelivers, deliversAllOnce, killNineLosesNothing, nackRedelivers, rejectDrops, take, log, waitFor, type BrokerCase } from './broker-suite.js';

const bc: BrokerCase = {
  module: 'nats-jetstream',
  quietMs: 3000, // > ackWait
  create,
  metadata: () => {
    const stream = `FWT_${randomUUID().slice(0, 8)}`;
    return { stream, subject: `${stream}.in`, consumer: 'fwtest', ackWait: '2s' };
  },
  async publishRaw(md, bodies) {
    const nc = await connect({ servers: '127.0.0.1:4222' });
    const js = jetstream(nc);
    await Promise.all(bodies.map((b) => js.publish(md.subject!, b)));
    await nc.close();
  },
  async cleanup(md) {
    const nc = await connect({ servers: '127.0.0.1:4222' });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(md.stream!).catch(() => undefined);
    await nc.close();
  },
};

test('nats-jetstream: 1,000 events delivered and acked exactly once, lag back to 0', async (t) => {
  if (!(await requireService(t, 'nats'))) return;
  await deliversAllOnce(t, bc);
});

test('nats-jetstream: nack redelivers after the delay with attempt + 1', async (t) => {
  if (!(await requireService(t, 'nats'))) return;
  await nackRedelivers(t, bc);
});

test('nats-jetstream: reject (term) is never redelivered', async (t) => {
  if (!(await requireService(t, 'nats'))) return;
  await rejectDrops(t, bc);
});

test('nats-jetstream: close with un-acked deliveries, reopen, nothing lost', async (t) => {
  if (!(await requireService(t, 'nats'))) return;
  await closeRedelivers(t, bc);
});

test('nats-jetstream: kill -9 of a consumer holding deliveries loses nothing', async (t) => {
  if (!(await requireService(t, 'nats'))) return;
  await killNineLosesNothing(t, bc);
});

test('nats-jetstream: Nats-Msg-Id is the event id; publish() round-trips headers', async (t) => {
  if (!(await requireService(t, 'nats'))) return;
  const md = bc.metadata();
  t.after(() => bc.cleanup(md));
  const src = create(md, { component: 'fwtest', dataDir: '.', prefetch: 2 });
  await src.start({ notify() {}, log });
  try {
    const nc = await connect({ servers: '127.0.0.1:4222' });
    await jetstream(nc).publish(md.subject!, 'x', { msgID: 'order-42' });
    await nc.close();
    const d = await take(src, 5000);
    assert.equal(d?.event.id, 'order-42');
    assert.equal(d?.event.source, 'nats-jetstream');
    assert.equal(d?.event.subject, md.subject);
    await d!.ack();
    await src.publish({ id: 'again-1', source: 'dlq', subject: '', headers: { 'x-why': 'retry' }, body: new TextEncoder().encode('y') });
    const d2 = await take(src, 5000);
    assert.equal(d2?.event.id, 'again-1');
    assert.equal(d2?.event.headers['x-why'], 'retry');
    assert.equal(d2?.event.attempt, 1);
    await d2!.ack();
  } finally {
    await src.close();
  }
});

test('nats-jetstream: unknown metadata key is an error naming it', () => {
  assert.throws(() => create({ stream: 's', lagTreshold: '5' }, { component: 'c', dataDir: '.', prefetch: 1 }), /unknown metadata key "lagTreshold".*allowed: .*lagThreshold/);
  assert.throws(() => create({}, { component: 'c', dataDir: '.', prefetch: 1 }), /stream/);
});

test('nats-jetstream: start + publish + close (dlq retry) takes nothing off the broker', async (t) => {
  if (!(await requireService(t, 'nats'))) return;
  await publishOnlyTakesNothing(t, bc);
});

test('nats-jetstream: the scaler lag() poll starts consumption; a new event calls notify()', async (t) => {
  if (!(await requireService(t, 'nats'))) return;
  await lagPollStartsPush(t, bc);
});

test('nats-jetstream: overlapping fetches never take more than prefetch off the server', async (t) => {
  if (!(await requireService(t, 'nats'))) return;
  const md = bc.metadata();
  t.after(() => bc.cleanup(md));
  const src = create(md, { component: 'fwtest', dataDir: '.', prefetch: 8 });
  await src.start({ notify() {}, log });
  const nc = await connect({ servers: '127.0.0.1:4222' });
  const jsm = await jetstreamManager(nc);
  try {
    await bc.publishRaw(md, Array.from({ length: 40 }, (_, i) => `w${i}`));
    // settle some as they come so that fetches are asked for while others are still open
    const held = [];
    for (let i = 0; i < 20; i++) {
      const d = await take(src, 10_000);
      assert.ok(d, `only ${i} of 20 arrived`);
      if (i % 4 === 0) held.push(d);
      else await d.ack();
    }
    // now hold everything: the window fills to the last slot (with no fetch open, any room is asked
    // for, not only a step of it) and stops there
    for (let d = await take(src, 10_000); d; d = await take(src, 1000)) held.push(d);
    assert.equal(held.length, 8, `${held.length} held with prefetch 8`);
    // every message the server counts as delivered un-acked is one the source holds: none sit in a
    // fetch's buffer or were asked for beyond the free room
    const ci = await waitFor('ack-pending to settle', () => jsm.consumers.info(md.stream!, md.consumer!), (c) => c.num_ack_pending === held.length);
    assert.equal(ci.num_ack_pending, held.length);
    assert.equal((await src.lag()).inFlight, held.length);
    for (const d of held) await d.ack();
  } finally {
    await src.close();
    await nc.close();
  }
});
