/**
 * Broker sources: events/s of a sequential next() + ack() loop over N pre-published messages,
 * beside the broker's raw client consuming and acking the same number with the same prefetch,
 * in the same run (goal, issue 14: >= 80% of the raw rate). Brokers that are not reachable are skipped.
 * BENCH_BROKERS_N sets N (default 5000); BENCH_BROKERS=nats,redis picks brokers. Each pair runs
 * BENCH_BROKERS_REPEAT times (default 3), raw first and featherweight first in turn (the first
 * of a pair also warms the JIT and the broker for the second), and the best rate of each side is
 * kept: the shared machine is noisy and the best run is the one least disturbed by other work.
 * Every figure line carries /proc/loadavg as it was when the pair finished.
 *
 * How comparable each raw loop is (docs/decisions/240-broker-source-throughput.md):
 * - nats: the raw consume() reads ahead regardless of acks (its buffer is not heartbeated, which is
 *   why the source fetches instead); the source keeps held + requested <= prefetch. Both ack
 *   fire-and-forget.
 * - redis: both await each XACK's reply.
 * - rabbitmq: the raw loop sends one basic.ack per message; the source sends the acks of one
 *   event-loop turn as one basic.ack(multiple) where they are contiguous. Both ack after the handler.
 * - mqtt: mqtt.js sends the raw PUBACK right after the synchronous 'message' handler, so for this
 *   empty handler it is after processing; a handler that awaited anything would be acked before it
 *   finished (at-most-once after a crash). The source withholds each PUBACK until ack(). The
 *   "raw, PUBACK after an async handler" row is mqtt.js' own at-least-once form (handleMessage calls
 *   back after an await), which is the comparable one for real handlers.
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { createClient, RESP_TYPES } from 'redis';
import amqp from 'amqplib';
import mqtt from 'mqtt';
import type { Source, SourceFactory } from '../dist/core/source.js';
import { canConnect } from '../test/helpers/services.js';
import * as natsSrc from '../dist/sources/nats-jetstream.js';
import * as redisSrc from '../dist/sources/redis-streams.js';
import * as rabbitSrc from '../dist/sources/rabbitmq.js';
import * as mqttSrc from '../dist/sources/mqtt.js';

const N = Number(process.env.BENCH_BROKERS_N ?? 5000);
const PREFETCH = 64;
const quiet = { notify() {}, log: { info() {}, warn() {}, error() {} } };
const body = Buffer.from(JSON.stringify({ from: 'bench@example.com', subject: 'hello', n: 0 }));

async function drain(src: Source, n: number): Promise<number> {
  const signal = new AbortController().signal;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const d = await src.next(signal);
    if (!d) throw new Error(`source ended after ${i} of ${n}`);
    await d.ack();
  }
  return n / ((performance.now() - t0) / 1000);
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

async function ours(create: SourceFactory, md: Record<string, string>, publish: () => Promise<void>, n = N): Promise<number> {
  // create the broker-side state first, then pre-publish, then time the consumption only
  const warm = create(md, { component: 'fwbench', dataDir: '.', prefetch: PREFETCH });
  await warm.start(quiet);
  await warm.next(AbortSignal.timeout(200)); // consuming (the MQTT session) starts with next()
  await warm.close();
  await publish();
  const src = create(md, { component: 'fwbench', dataDir: '.', prefetch: PREFETCH });
  await src.start(quiet);
  try {
    return await drain(src, n);
  } finally {
    await src.close();
  }
}

interface Result {
  broker: string;
  raw: number;
  fw: number;
  /** a second raw loop, comparable where the first is not (mqtt) */
  alt?: { label: string; raw: number };
}

async function nats(fwFirst: boolean): Promise<Result> {
  const nc = await connect({ servers: '127.0.0.1:4222' });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const pub = async (subject: string) => {
    for (let i = 0; i < N; i += 500) await Promise.all(Array.from({ length: Math.min(500, N - i) }, () => js.publish(subject, body)));
  };
  const rawName = `FWB_${randomUUID().slice(0, 8)}`;
  const fwName = `FWB_${randomUUID().slice(0, 8)}`;
  const rawRun = async () => {
    await jsm.streams.add({ name: rawName, subjects: [`${rawName}.in`] });
    await jsm.consumers.add(rawName, { durable_name: 'raw', ack_policy: AckPolicy.Explicit });
    await pub(`${rawName}.in`);
    const consumer = await js.consumers.get(rawName, 'raw');
    const t0 = performance.now();
    const msgs = await consumer.consume({ max_messages: PREFETCH });
    let got = 0;
    for await (const m of msgs) {
      m.ack();
      if (++got === N) break;
    }
    const raw = N / ((performance.now() - t0) / 1000);
    await msgs.close();
    return raw;
  };
  const fwRun = () => ours(natsSrc.create, { stream: fwName, subject: `${fwName}.in` }, () => pub(`${fwName}.in`));
  try {
    const [raw, fw] = await pair(rawRun, fwRun, fwFirst);
    return { broker: 'nats-jetstream', raw, fw };
  } finally {
    await jsm.streams.delete(rawName).catch(() => undefined);
    await jsm.streams.delete(fwName).catch(() => undefined);
    await nc.close();
  }
}

async function redis(fwFirst: boolean): Promise<Result> {
  const c = createClient({ url: 'redis://127.0.0.1:6379' });
  await c.connect();
  const bin = c.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  const pub = async (stream: string) => {
    for (let i = 0; i < N; i += 1000) {
      const multi = c.multi();
      for (let j = i; j < Math.min(N, i + 1000); j++) multi.xAdd(stream, '*', { body });
      await multi.exec();
    }
  };
  const rawName = `fwb-${randomUUID().slice(0, 8)}`;
  const fwName = `fwb-${randomUUID().slice(0, 8)}`;
  const rawRun = async () => {
    await c.xGroupCreate(rawName, 'raw', '0', { MKSTREAM: true });
    await pub(rawName);
    const t0 = performance.now();
    let got = 0;
    while (got < N) {
      const r = (await bin.xReadGroup('raw', 'me', { key: rawName, id: '>' }, { COUNT: PREFETCH, BLOCK: 1000 })) as unknown as Array<{ messages: Array<{ id: Buffer }> }> | null;
      for (const e of r?.[0]?.messages ?? []) {
        await c.xAck(rawName, 'raw', e.id);
        got++;
      }
    }
    return N / ((performance.now() - t0) / 1000);
  };
  const fwRun = () => ours(redisSrc.create, { stream: fwName, consumerGroup: 'fw', lagCount: '10' }, () => pub(fwName));
  try {
    const [raw, fw] = await pair(rawRun, fwRun, fwFirst);
    return { broker: 'redis-streams', raw, fw };
  } finally {
    await c.del([rawName, fwName]);
    c.destroy();
  }
}

async function rabbitmq(fwFirst: boolean): Promise<Result> {
  const conn = await amqp.connect('amqp://guest:guest@127.0.0.1:5672/');
  const ch = await conn.createConfirmChannel();
  const pub = async (q: string) => {
    for (let i = 0; i < N; i++) ch.sendToQueue(q, body, { persistent: true });
    await ch.waitForConfirms();
  };
  const rawName = `fwb-${randomUUID().slice(0, 8)}`;
  const fwName = `fwb-${randomUUID().slice(0, 8)}`;
  const rawRun = async () => {
    await ch.assertQueue(rawName, { durable: true });
    await pub(rawName);
    const cch = await conn.createChannel();
    await cch.prefetch(PREFETCH);
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      let got = 0;
      void cch.consume(rawName, (m) => {
        if (!m) return;
        cch.ack(m);
        if (++got === N) resolve();
      });
    });
    const raw = N / ((performance.now() - t0) / 1000);
    await cch.close();
    return raw;
  };
  const fwRun = () => ours(rabbitSrc.create, { queueName: fwName }, () => pub(fwName));
  try {
    const [raw, fw] = await pair(rawRun, fwRun, fwFirst);
    return { broker: 'rabbitmq', raw, fw };
  } finally {
    for (const q of [rawName, fwName, `${fwName}.dead-letter`]) await ch.deleteQueue(q).catch(() => undefined);
    await ch.deleteExchange(`${fwName}.dlx`).catch(() => undefined);
    await conn.close();
  }
}

async function mqttBench(fwFirst: boolean): Promise<Result> {
  // Mosquitto keeps at most max_queued_messages (1000 by default) for an offline session, so the
  // N messages go in rounds of 900 published while the consumer is offline.
  const ROUND = 900;
  const rounds = Math.max(1, Math.round(N / ROUND));
  const pubc = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { protocolVersion: 5 });
  const pub = async (topic: string) => {
    await Promise.all(Array.from({ length: ROUND }, () => pubc.publishAsync(topic, body, { qos: 1 })));
  };
  const u = randomUUID().slice(0, 8);
  const opts = (clientId: string) => ({ clientId, clean: false, protocolVersion: 5 as const, properties: { sessionExpiryInterval: 600, receiveMaximum: PREFETCH } });
  const ids = [`fwb-raw-${u}`, `fwb-async-${u}`, `fwb-fw-${u}`];
  // The timing of each round starts at the consuming connection's connect: the raw client's, the
  // source's session (its first next()). The source's start() opens only its publish connection,
  // which the raw loop has no counterpart for, so it is not timed.
  const rawRun = async (clientId: string, asyncAck: boolean) => {
    const topic = `fwb/${u}/${clientId}`;
    const first = await mqtt.connectAsync('mqtt://127.0.0.1:1883', opts(clientId));
    await first.subscribeAsync(topic, { qos: 1 });
    await first.endAsync();
    let ms = 0;
    for (let r = 0; r < rounds; r++) {
      await pub(topic);
      const t0 = performance.now();
      const c = mqtt.connect('mqtt://127.0.0.1:1883', { ...opts(clientId), manualConnect: true });
      await new Promise<void>((resolve) => {
        let got = 0;
        if (asyncAck) {
          // mqtt.js sends the PUBACK when handleMessage calls back: here after an await, as a
          // handler that does real work would
          c.handleMessage = (_packet, cb) => {
            void (async () => {
              await Promise.resolve();
              cb();
              if (++got === ROUND) resolve();
            })();
          };
        } else {
          c.on('message', () => {
            if (++got === ROUND) resolve();
          });
        }
        c.connect();
      });
      ms += performance.now() - t0;
      await c.endAsync();
    }
    return (rounds * ROUND) / (ms / 1000);
  };
  const fwRun = async () => {
    const md = { topic: `fwb/${u}/fw`, clientId: `fwb-fw-${u}` };
    const warm = mqttSrc.create(md, { component: 'fwbench', dataDir: '.', prefetch: PREFETCH });
    await warm.start(quiet);
    await warm.next(AbortSignal.timeout(200));
    await warm.close();
    let ms = 0;
    for (let r = 0; r < rounds; r++) {
      await pub(md.topic);
      const src = mqttSrc.create(md, { component: 'fwbench', dataDir: '.', prefetch: PREFETCH });
      await src.start(quiet);
      const t0 = performance.now();
      await drain(src, ROUND);
      ms += performance.now() - t0;
      await src.close();
    }
    return (rounds * ROUND) / (ms / 1000);
  };
  try {
    const [raw, fw] = await pair(() => rawRun(ids[0]!, false), fwRun, fwFirst);
    const alt = await rawRun(ids[1]!, true);
    return { broker: 'mqtt', raw, fw, alt: { label: 'raw, PUBACK after an async handler', raw: alt } };
  } finally {
    for (const id of ids) {
      const c = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { clientId: id, clean: true, protocolVersion: 5 });
      await c.endAsync();
    }
    await pubc.endAsync();
  }
}

/** Runs the two sides of a pair in the given order; returns [raw, featherweight]. */
async function pair(raw: () => Promise<number>, fw: () => Promise<number>, fwFirst: boolean): Promise<[number, number]> {
  if (fwFirst) {
    const f = await fw();
    return [await raw(), f];
  }
  const r = await raw();
  return [r, await fw()];
}

const benches: Array<[string, number, (fwFirst: boolean) => Promise<Result>]> = [
  ['nats', 4222, nats],
  ['redis', 6379, redis],
  ['rabbitmq', 5672, rabbitmq],
  ['mqtt', 1883, mqttBench],
];

const rate = (x: number) => Math.round(x).toString().padStart(7);
const verdict = (ratio: number) => `ratio ${(ratio * 100).toFixed(0)}% ${ratio >= 0.8 ? '(goal >= 80% met)' : '(BELOW the 80% goal)'}`;

export async function run(): Promise<void> {
  const pick = process.env.BENCH_BROKERS?.split(',');
  const repeat = Number(process.env.BENCH_BROKERS_REPEAT ?? 3);
  console.log(`broker sources: sequential next()+ack() vs raw client consume+ack, N=${N}, prefetch ${PREFETCH}, best of ${repeat} (raw and featherweight first in turn)`);
  for (const [name, port, f] of benches) {
    if (pick && !pick.includes(name)) continue;
    if (!(await canConnect(port))) {
      console.log(`  ${name.padEnd(15)} skipped: nothing listens on 127.0.0.1:${port}`);
      continue;
    }
    const runs: Result[] = [];
    for (let i = 0; i < repeat; i++) runs.push(await f(i % 2 === 1));
    const best = (g: (r: Result) => number) => Math.max(...runs.map(g));
    const r = { raw: best((x) => x.raw), fw: best((x) => x.fw) };
    const load = loadavg();
    console.log(`  ${runs[0]!.broker.padEnd(15)} raw ${rate(r.raw)} ev/s   featherweight ${rate(r.fw)} ev/s   ${verdict(r.fw / r.raw)}   load ${load}`);
    const alt = runs[0]!.alt;
    if (alt) {
      const a = best((x) => x.alt!.raw);
      console.log(`  ${''.padEnd(15)} ${alt.label}: ${rate(a).trim()} ev/s, featherweight ${verdict(r.fw / a)}`);
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
