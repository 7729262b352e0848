/** The delivery contract every broker source must keep, run against a real broker. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import os from 'node:os';
import type { TestContext } from 'node:test';
import type { Delivery, Source, SourceFactory } from '../../src/core/source.js';

export interface BrokerCase {
  /** Source module under src/sources/ (without .ts). */
  module: string;
  create: SourceFactory;
  /** Metadata for a fresh, uniquely named stream/queue/topic. */
  metadata(): Record<string, string>;
  /** Publishes bodies with the broker's own client. */
  publishRaw(md: Record<string, string>, bodies: string[]): Promise<void>;
  cleanup(md: Record<string, string>): Promise<void>;
  /** How long to watch for a wrong redelivery (longer than the broker's own redelivery timer). */
  quietMs?: number;
}

export const log = { info() {}, warn() {}, error(obj: object, msg?: string) { console.error(msg, obj); } };
const ctx = { notify() {}, log };

function open(bc: BrokerCase, md: Record<string, string>, prefetch = 16, dataDir = os.tmpdir()): Source {
  return bc.create(md, { component: 'fwtest', dataDir, prefetch });
}

export async function take(src: Source, ms: number): Promise<Delivery | null> {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), ms);
  try {
    return await src.next(ac.signal);
  } finally {
    clearTimeout(t);
  }
}

export async function waitFor<T>(what: string, f: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  let last: T = await f();
  while (!ok(last)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: last ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
    last = await f();
  }
  return last;
}

const text = (d: Delivery) => Buffer.from(d.event.body).toString();

/** Creates the broker-side state (stream, consumer, group, queue, session) before anything is published. */
async function prepare(bc: BrokerCase, md: Record<string, string>): Promise<void> {
  const s = open(bc, md);
  await s.start(ctx);
  assert.equal(await take(s, 300), null); // consuming starts with next(): the MQTT session is made here
  await s.close();
}

/** A fresh stream/queue/topic for this test (`overrides` over its metadata), prepared, removed after the test. */
async function fresh(t: TestContext, bc: BrokerCase, overrides: Record<string, string> = {}): Promise<Record<string, string>> {
  const md = { ...bc.metadata(), ...overrides };
  t.after(() => bc.cleanup(md));
  await prepare(bc, md);
  return md;
}

/** A started source on `md`; the caller closes it. */
async function started(bc: BrokerCase, md: Record<string, string>, prefetch: number, o: { dataDir?: string; notify?: () => void } = {}): Promise<Source> {
  const src = open(bc, md, prefetch, o.dataDir);
  await src.start(o.notify ? { notify: o.notify, log } : ctx);
  return src;
}

export async function deliversAllOnce(t: TestContext, bc: BrokerCase, n = 1000): Promise<void> {
  const md = await fresh(t, bc);
  const src = await started(bc, md, 16);
  try {
    const bodies = Array.from({ length: n }, (_, i) => `m${i}`);
    await bc.publishRaw(md, bodies);
    const seenBodies = new Map<string, number>();
    const ids = new Set<string>();
    while (ids.size < n) {
      const d = await take(src, 15_000);
      assert.ok(d, `only ${ids.size} of ${n} events arrived`);
      assert.equal(d.event.attempt, 1, `first delivery of ${text(d)} has attempt 1`);
      assert.ok(!ids.has(d.event.id), `event id ${d.event.id} delivered twice`);
      ids.add(d.event.id);
      seenBodies.set(text(d), (seenBodies.get(text(d)) ?? 0) + 1);
      await d.ack();
    }
    assert.equal(seenBodies.size, n);
    assert.ok([...seenBodies.values()].every((c) => c === 1));
    assert.equal(await take(src, 1000), null, 'nothing more is delivered after every event was acked');
    const lag = await waitFor('lag to return to 0', () => src.lag(), (l) => l.lag === 0 && l.inFlight === 0);
    assert.deepEqual(lag, { lag: 0, inFlight: 0 });
  } finally {
    await src.close();
  }
}

export async function nackRedelivers(t: TestContext, bc: BrokerCase): Promise<void> {
  const md = await fresh(t, bc);
  const src = await started(bc, md, 4);
  try {
    await bc.publishRaw(md, ['retry-me']);
    const d1 = await take(src, 10_000);
    assert.ok(d1);
    assert.equal(d1.event.attempt, 1);
    const lag1 = await src.lag();
    assert.ok(lag1.lag >= 1 && lag1.inFlight === 1, `a held event counts in lag: ${JSON.stringify(lag1)}`);
    const nackedAt = Date.now();
    await d1.nack(300);
    const d2 = await take(src, 10_000);
    assert.ok(d2, 'nacked event is redelivered');
    assert.ok(Date.now() - nackedAt >= 250, 'redelivery waits for the nack delay');
    assert.equal(d2.event.id, d1.event.id);
    assert.equal(text(d2), 'retry-me');
    assert.equal(d2.event.attempt, 2);
    await d2.nack(0);
    const d3 = await take(src, 10_000);
    assert.ok(d3);
    assert.equal(d3.event.attempt, 3);
    await d3.ack();
    assert.equal(await take(src, 800), null);
  } finally {
    await src.close();
  }
}

export async function rejectDrops(t: TestContext, bc: BrokerCase): Promise<void> {
  const md = await fresh(t, bc);
  const src = await started(bc, md, 4);
  try {
    await bc.publishRaw(md, ['poison', 'good']);
    const got: string[] = [];
    for (let i = 0; i < 2; i++) {
      const d = await take(src, 10_000);
      assert.ok(d);
      got.push(text(d));
      if (text(d) === 'poison') await d.reject('handler trapped');
      else await d.ack();
    }
    assert.deepEqual(got.sort(), ['good', 'poison']);
    assert.equal(await take(src, bc.quietMs ?? 1500), null, 'a rejected event is not redelivered');
    await waitFor('lag 0 after reject', () => src.lag(), (l) => l.lag === 0);
  } finally {
    await src.close();
  }
}

export async function closeRedelivers(t: TestContext, bc: BrokerCase): Promise<void> {
  const md = await fresh(t, bc);
  const bodies = ['a', 'b', 'c', 'd', 'e'];
  const s1 = await started(bc, md, 8);
  await bc.publishRaw(md, bodies);
  const first = new Set<string>();
  for (let i = 0; i < 3; i++) {
    const d = await take(s1, 10_000);
    assert.ok(d);
    first.add(text(d));
  }
  await s1.close();
  const s2 = await started(bc, md, 8);
  try {
    const seen = new Set<string>();
    while (seen.size < bodies.length) {
      const d = await take(s2, 15_000);
      assert.ok(d, `after reopen only ${[...seen]} arrived`);
      if (first.has(text(d))) assert.ok(d.event.attempt >= 1);
      seen.add(text(d));
      await d.ack();
    }
    assert.deepEqual([...seen].sort(), bodies);
  } finally {
    await s2.close();
  }
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** A child process takes `take` deliveries, acks `ack` of them, then is killed with SIGKILL. */
export async function killNineLosesNothing(t: TestContext, bc: BrokerCase, overrides: Record<string, string> = {}): Promise<void> {
  const md = await fresh(t, bc, overrides);
  const bodies = Array.from({ length: 10 }, (_, i) => `k${i}`);
  await bc.publishRaw(md, bodies);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-broker-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'broker-child.ts'), bc.module, JSON.stringify(md), '6', '3'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  const acked = await new Promise<string[]>((resolve, reject) => {
    child.stdout.on('data', (c: string) => {
      out += c;
      const line = out.split('\n').find((l) => l.startsWith('READY '));
      if (line) resolve(JSON.parse(line.slice(6)) as string[]);
    });
    child.on('exit', (code) => reject(new Error(`child exited early (${code}): ${out}`)));
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.equal(acked.length, 3);
  const src = await started(bc, md, 16, { dataDir });
  try {
    const want = bodies.filter((b) => !acked.includes(b));
    const seen = new Set<string>();
    while (seen.size < want.length) {
      const d = await take(src, 20_000);
      assert.ok(d, `after kill -9 only ${[...seen]} of ${want} arrived`);
      assert.ok(!acked.includes(text(d)), `acked event ${text(d)} came back`);
      seen.add(text(d));
      await d.ack();
    }
    assert.deepEqual([...seen].sort(), want.sort());
  } finally {
    await src.close();
  }
}

/** start() + publish() + close() (what `dlq retry` does) must not take anything off the broker. */
export async function publishOnlyTakesNothing(t: TestContext, bc: BrokerCase): Promise<void> {
  const md = await fresh(t, bc);
  await bc.publishRaw(md, ['p1', 'p2']);
  const cli = await started(bc, md, 1);
  await cli.publish({ id: 'retried-1', source: 'dlq', subject: '', headers: {}, body: new TextEncoder().encode('p3') });
  await cli.close();
  const src = await started(bc, md, 8);
  try {
    const got = new Map<string, number>();
    while (got.size < 3) {
      const d = await take(src, 10_000);
      assert.ok(d, `only ${[...got.keys()]} arrived`);
      got.set(text(d), d.event.attempt);
      await d.ack();
    }
    assert.deepEqual([...got.keys()].sort(), ['p1', 'p2', 'p3']);
    assert.deepEqual([...got.values()], [1, 1, 1], 'nothing was delivered to the publish-only source');
  } finally {
    await src.close();
  }
}

/**
 * At zero replicas the dispatcher asks for no event; the scaler's lag() poll alone must start
 * consumption so that a new event pushes notify() (0 -> 1 without waiting for the next poll).
 */
export async function lagPollStartsPush(t: TestContext, bc: BrokerCase): Promise<void> {
  const md = await fresh(t, bc);
  let notified = 0;
  const src = await started(bc, md, 4, { notify: () => void notified++ });
  try {
    assert.equal((await src.lag()).lag, 0);
    await bc.publishRaw(md, ['wake']);
    await waitFor('notify()', async () => notified, (n) => n >= 1, 10_000);
    const l = await waitFor('lag 1', () => src.lag(), (x) => x.lag === 1);
    assert.equal(l.lag, 1);
    const d = await take(src, 5000);
    assert.equal(d && text(d), 'wake');
    await d!.ack();
    await waitFor('lag 0', () => src.lag(), (x) => x.lag === 0);
  } finally {
    await src.close();
  }
}
