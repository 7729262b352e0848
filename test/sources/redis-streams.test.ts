import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { requireService } from '../helpers/services.js';
import { create, lagMode } from '../../src/sources/redis-streams.js';
import { lagPollStartsPush, publishOnlyTakesNothing, closeRedelivers, deliversAllOnce, killNineLosesNothing, nackRedelivers, rejectDrops, take, log, waitFor, type BrokerCase } from './broker-suite.js';

const mk = () => createClient({ url: 'redis://127.0.0.1:6379' });
async function withRedis<T>(f: (c: ReturnType<typeof mk>) => Promise<T>): Promise<T> {
  const c = mk();
  await c.connect();
  try {
    return await f(c);
  } finally {
    c.destroy();
  }
}

const bc: BrokerCase = {
  module: 'redis-streams',
  create,
  metadata: () => ({ stream: `fwt-${randomUUID().slice(0, 8)}`, consumerGroup: 'fwtest', lagCount: '5' }),
  publishRaw: (md, bodies) =>
    withRedis(async (c) => {
      const multi = c.multi();
      for (const b of bodies) multi.xAdd(md.stream!, '*', { body: b });
      await multi.exec();
    }),
  cleanup: (md) => withRedis(async (c) => void (await c.del(md.stream!))),
};

test('redis-streams: 1,000 events delivered and acked exactly once, lag back to 0', async (t) => {
  if (!(await requireService(t, 'redis'))) return;
  await deliversAllOnce(t, bc);
});

test('redis-streams: nack redelivers after the delay with attempt + 1', async (t) => {
  if (!(await requireService(t, 'redis'))) return;
  await nackRedelivers(t, bc);
});

test('redis-streams: reject (XACK) is never redelivered', async (t) => {
  if (!(await requireService(t, 'redis'))) return;
  await rejectDrops(t, bc);
});

test('redis-streams: close with un-acked deliveries, reopen, nothing lost', async (t) => {
  if (!(await requireService(t, 'redis'))) return;
  await closeRedelivers(t, bc);
});

test('redis-streams: kill -9 of a consumer holding deliveries loses nothing (XAUTOCLAIM)', async (t) => {
  if (!(await requireService(t, 'redis'))) return;
  await killNineLosesNothing(t, bc, { claimIdleTime: '1s' });
});

test('redis-streams: KEDA mode selection and lag values', async (t) => {
  if (!(await requireService(t, 'redis'))) return;
  assert.equal(lagMode({ stream: 's', consumerGroup: 'g', lagCount: '3' }), 'lag');
  assert.equal(lagMode({ stream: 's', consumerGroup: 'g' }), 'pending');
  assert.equal(lagMode({ stream: 's' }), 'length');
  const md = bc.metadata();
  t.after(() => bc.cleanup(md));
  const lagSrc = create(md, { component: 'fwtest', dataDir: '.', prefetch: 2 });
  const { lagCount: _drop, ...pendingMd } = md;
  const pendSrc = create(pendingMd, { component: 'fwtest', dataDir: '.', prefetch: 2 });
  const lenSrc = create({ stream: md.stream! }, { component: 'fwtest', dataDir: '.', prefetch: 2 });
  await lagSrc.start({ notify() {}, log });
  try {
    await bc.publishRaw(md, ['a', 'b', 'c', 'd']);
    const d = await take(lagSrc, 5000);
    assert.ok(d);
    // prefetch 2: two entries delivered to us, two still undelivered in the group
    const l = await waitFor('lag mode', () => lagSrc.lag(), (x) => x.inFlight === 2);
    assert.deepEqual(l, { lag: 4, inFlight: 2 });
    const p = await pendSrc.lag();
    assert.equal(p.lag, 2, 'pending mode counts delivered-unacked entries only');
    assert.equal((await lenSrc.lag()).lag, 4, 'stream length mode is XLEN');
    await d.ack();
    assert.equal((await lenSrc.lag()).lag, 4, 'XACK keeps the entry: XLEN unchanged');
  } finally {
    await lagSrc.close();
    await pendSrc.close();
    await lenSrc.close();
  }
});

test('redis-streams: publish() round-trips id and headers; unknown key is an error', async (t) => {
  assert.throws(() => create({ stream: 's', lagcount: '5' }, { component: 'c', dataDir: '.', prefetch: 1 }), /unknown metadata key "lagcount".*allowed: .*lagCount/);
  if (!(await requireService(t, 'redis'))) return;
  const md = bc.metadata();
  t.after(() => bc.cleanup(md));
  const src = create(md, { component: 'fwtest', dataDir: '.', prefetch: 2 });
  await src.start({ notify() {}, log });
  try {
    await src.publish({ id: 'ev-7', source: 'dlq', subject: '', headers: { 'x-why': 'retry' }, body: new Uint8Array([0, 255, 1]) });
    const d = await take(src, 5000);
    assert.equal(d?.event.id, 'ev-7');
    assert.equal(d?.event.headers['x-why'], 'retry');
    assert.deepEqual([...d!.event.body], [0, 255, 1]);
    assert.equal(d?.event.subject, md.stream);
    await d!.ack();
  } finally {
    await src.close();
  }
});

test('redis-streams: start + publish + close (dlq retry) takes nothing off the broker', async (t) => {
  if (!(await requireService(t, 'redis'))) return;
  await publishOnlyTakesNothing(t, bc);
});

test('redis-streams: the scaler lag() poll starts consumption; a new event calls notify()', async (t) => {
  if (!(await requireService(t, 'redis'))) return;
  await lagPollStartsPush(t, bc);
});

test('redis-streams: KEDA *FromEnv keys resolve from the environment', async (t) => {
  const o = { component: 'c', dataDir: '.', prefetch: 1 };
  assert.throws(() => create({ stream: 's', addressFromEnv: 'FW_TEST_UNSET_VAR' }, o), /addressFromEnv: environment variable FW_TEST_UNSET_VAR is not set/);
  if (!(await requireService(t, 'redis'))) return;
  process.env.FW_TEST_REDIS_ADDR = '127.0.0.1:6379';
  t.after(() => delete process.env.FW_TEST_REDIS_ADDR);
  const md = { ...bc.metadata(), addressFromEnv: 'FW_TEST_REDIS_ADDR' };
  t.after(() => bc.cleanup(md));
  const src = create(md, o);
  await src.start({ notify() {}, log });
  try {
    assert.deepEqual(await src.lag(), { lag: 0, inFlight: 0 });
  } finally {
    await src.close();
  }
});

test('redis-streams: reading pauses while 16 x prefetch nacked entries wait for their delay', async (t) => {
  if (!(await requireService(t, 'redis'))) return;
  const md = bc.metadata();
  t.after(() => bc.cleanup(md));
  const src = create(md, { component: 'fwtest', dataDir: '.', prefetch: 1 });
  await src.start({ notify() {}, log });
  try {
    await bc.publishRaw(md, Array.from({ length: 20 }, (_, i) => `n${i}`));
    let taken = 0;
    for (;;) {
      const d = await take(src, 1000);
      if (!d) break;
      taken++;
      await d.nack(60_000);
    }
    assert.equal(taken, 16);
    const l = await src.lag();
    assert.equal(l.inFlight, 16);
    assert.equal(l.lag, 4 + 16, 'undelivered entries + the ones waiting in nack timers');
  } finally {
    await src.close();
  }
});

test('a Redis that is down at start fails the start with the address (node-redis alone retries forever)', async () => {
  // A port nothing listens on: bound, then closed again.
  const net = await import('node:net');
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const src = create({ address: `127.0.0.1:${port}`, stream: 'never' }, { component: 'down', dataDir: '.', prefetch: 4 });
  await assert.rejects(src.start({ notify() {}, log }), new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
  await src.close();
  // lag() before any connection tries again rather than remembering the failed connect
  await assert.rejects(src.lag(), /ECONNREFUSED|closed/);
});
