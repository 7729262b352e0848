import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import { requireService } from '../helpers/services.js';
import { create } from '../../src/sources/rabbitmq.js';
import { lagPollStartsPush, publishOnlyTakesNothing, closeRedelivers, deliversAllOnce, killNineLosesNothing, nackRedelivers, rejectDrops, take, log, waitFor, type BrokerCase } from './broker-suite.js';

const URL = 'amqp://guest:guest@127.0.0.1:5672/';

async function withChannel<T>(f: (ch: amqp.ConfirmChannel) => Promise<T>): Promise<T> {
  const conn = await amqp.connect(URL);
  try {
    return await f(await conn.createConfirmChannel());
  } finally {
    await conn.close();
  }
}

const bc: BrokerCase = {
  module: 'rabbitmq',
  create,
  metadata: () => ({ queueName: `fwt-${randomUUID().slice(0, 8)}` }),
  publishRaw: (md, bodies) =>
    withChannel(async (ch) => {
      for (const b of bodies) ch.sendToQueue(md.queueName!, Buffer.from(b), { persistent: true, messageId: `id-${b}` });
      await ch.waitForConfirms();
    }),
  cleanup: (md) =>
    withChannel(async (ch) => {
      await ch.deleteQueue(md.queueName!);
      await ch.deleteQueue(`${md.queueName}.dead-letter`);
      await ch.deleteExchange(`${md.queueName}.dlx`);
    }),
};

test('rabbitmq: 1,000 events delivered and acked exactly once, lag back to 0', async (t) => {
  if (!(await requireService(t, 'rabbitmq'))) return;
  await deliversAllOnce(t, bc);
});

test('rabbitmq: nack redelivers after the delay with attempt + 1', async (t) => {
  if (!(await requireService(t, 'rabbitmq'))) return;
  await nackRedelivers(t, bc);
});

test('rabbitmq: reject is not redelivered and lands on the dead-letter exchange', async (t) => {
  if (!(await requireService(t, 'rabbitmq'))) return;
  await rejectDrops(t, bc);
});

test('rabbitmq: rejected message is routed to <queue>.dead-letter', async (t) => {
  if (!(await requireService(t, 'rabbitmq'))) return;
  const md = bc.metadata();
  t.after(() => bc.cleanup(md));
  const src = create(md, { component: 'fwtest', dataDir: '.', prefetch: 2 });
  await src.start({ notify() {}, log });
  try {
    await bc.publishRaw(md, ['poison']);
    const d = await take(src, 5000);
    assert.equal(d?.event.id, 'id-poison', 'message_id is the event id');
    await d!.reject('trap');
    const dead = await waitFor(
      'dead letter',
      () => withChannel(async (ch) => ch.get(`${md.queueName}.dead-letter`, { noAck: true })),
      (x) => x !== false,
      5000,
    );
    assert.ok(dead);
    assert.equal(dead.content.toString(), 'poison');
  } finally {
    await src.close();
  }
});

test('rabbitmq: acks sent together (basic.ack multiple) never cover a held, nack-delayed or rejected message', async (t) => {
  if (!(await requireService(t, 'rabbitmq'))) return;
  const md = bc.metadata();
  t.after(() => bc.cleanup(md));
  const s1 = create(md, { component: 'fwtest', dataDir: '.', prefetch: 8 });
  await s1.start({ notify() {}, log });
  await bc.publishRaw(md, ['a', 'b', 'c', 'd', 'e', 'f']);
  const got = new Map<string, NonNullable<Awaited<ReturnType<typeof take>>>>();
  while (got.size < 6) {
    const d = await take(s1, 10_000);
    assert.ok(d, `only ${[...got.keys()]} arrived`);
    got.set(Buffer.from(d.event.body).toString(), d);
  }
  // a stays held, c waits in its nack delay, b is rejected; d, e, f are acked behind them
  await got.get('c')!.nack(5000);
  await got.get('b')!.reject('test');
  for (const k of ['d', 'e', 'f']) await got.get(k)!.ack();
  await waitFor(
    'the rejected message on the dead-letter queue',
    () => withChannel(async (ch) => (await ch.checkQueue(`${md.queueName}.dead-letter`)).messageCount),
    (n) => n === 1,
  );
  await s1.close(); // sends the pending acks, then the broker requeues what is un-acked
  const s2 = create(md, { component: 'fwtest', dataDir: '.', prefetch: 8 });
  await s2.start({ notify() {}, log });
  try {
    const back: string[] = [];
    for (let d = await take(s2, 10_000); d; d = await take(s2, back.length >= 2 ? 1500 : 10_000)) {
      back.push(Buffer.from(d.event.body).toString());
      await d.ack();
    }
    assert.deepEqual(back.sort(), ['a', 'c'], 'only the held and the nack-delayed message come back');
  } finally {
    await s2.close();
  }
});

test('rabbitmq: close with un-acked deliveries, reopen, nothing lost', async (t) => {
  if (!(await requireService(t, 'rabbitmq'))) return;
  await closeRedelivers(t, bc);
});

test('rabbitmq: kill -9 of a consumer holding deliveries loses nothing', async (t) => {
  if (!(await requireService(t, 'rabbitmq'))) return;
  await killNineLosesNothing(t, bc);
});

const sh = promisify(execFile);

test('rabbitmq: reconnects after the broker closes the connection; held message redelivered', async (t) => {
  if (!(await requireService(t, 'rabbitmq'))) return;
  try {
    await sh('rabbitmqctl', ['-q', 'list_connections', 'name'], { timeout: 20_000 });
  } catch {
    t.skip('rabbitmqctl is not usable here');
    return;
  }
  const md = bc.metadata();
  t.after(() => bc.cleanup(md));
  const src = create(md, { component: 'fwtest', dataDir: '.', prefetch: 4 });
  await src.start({ notify() {}, log });
  try {
    await bc.publishRaw(md, ['r1', 'r2']);
    const held = await take(src, 5000);
    assert.ok(held);
    const { stdout } = await sh('rabbitmqctl', ['-q', '--no-table-headers', 'list_connections', 'pid', 'client_properties'], { timeout: 20_000 });
    const pid = stdout.split('\n').find((l) => l.includes(md.queueName!))?.split('\t')[0];
    assert.ok(pid, `our connection is listed: ${stdout}`);
    await sh('rabbitmqctl', ['-q', 'close_connection', pid, 'test: server-side close'], { timeout: 20_000 });
    await held.ack(); // the old channel is gone: a no-op, the broker has requeued it
    await bc.publishRaw(md, ['r3']);
    const seen = new Map<string, number>();
    while (seen.size < 3) {
      const d = await take(src, 15_000);
      assert.ok(d, `after reconnect only ${[...seen.keys()]} arrived`);
      seen.set(Buffer.from(d.event.body).toString(), d.event.attempt);
      await d.ack();
    }
    assert.deepEqual([...seen.keys()].sort(), ['r1', 'r2', 'r3']);
    assert.ok(seen.get(Buffer.from(held.event.body).toString())! >= 2, 'the held message comes back as a redelivery');
    await waitFor('lag 0', () => src.lag(), (l) => l.lag === 0);
  } finally {
    await src.close();
  }
});

test('rabbitmq: metadata validation', () => {
  const o = { component: 'c', dataDir: '.', prefetch: 1 };
  assert.throws(() => create({ queue: 'x' }, o), /unknown metadata key "queue".*allowed: .*queueName/);
  assert.throws(() => create({ host: 'http://127.0.0.1:15672/' }, o), /host must be amqp/);
  assert.throws(() => create({ mode: 'MessageRate' }, o), /mode/);
  assert.throws(() => create({ hostFromEnv: 'FW_TEST_UNSET_VAR' }, o), /hostFromEnv: environment variable FW_TEST_UNSET_VAR is not set/);
});

test('rabbitmq: start + publish + close (dlq retry) takes nothing off the broker', async (t) => {
  if (!(await requireService(t, 'rabbitmq'))) return;
  await publishOnlyTakesNothing(t, bc);
});

test('rabbitmq: the scaler lag() poll starts consumption; a new event calls notify()', async (t) => {
  if (!(await requireService(t, 'rabbitmq'))) return;
  await lagPollStartsPush(t, bc);
});
