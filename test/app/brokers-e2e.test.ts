/**
 * Every broker source end to end through the engine: 1,000 events through the echo guest into the
 * sqlite sink give exactly the expected rows, lag returns to 0, an event whose output is not JSON
 * lands in the dead-letter store with its reason, a failing guest's event is retried through the
 * broker and then dead-lettered, and a kill -9 of `featherweight up` mid-stream followed
 * by a restart loses nothing and duplicates nothing. Real brokers on 127.0.0.1.
 *
 * Each test creates the consumer side (stream + durable consumer, group, queue, MQTT persistent
 * session with its subscription) before it publishes, as the broker-suite does: MQTT drops a message
 * published while no session subscribes to its topic, and the app opens its session only at its
 * first lag() poll, so publishing right after start raced that subscription and lost the first
 * hundreds of messages on a loaded machine (the 600 rows never came).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { sources } from '../../src/sources/index.js';
import type { Source } from '../../src/core/source.js';
import { requireService, type services } from '../helpers/services.js';
import { spawnCli } from '../helpers/cli.js';
import { guest, oneComponent, tempDir, waitUntil, withApp } from './helpers.js';

interface Case {
  type: string;
  service: keyof typeof services;
  metadata(): Record<string, string>;
  /** Removes what the test left on the broker (for MQTT, the persistent session). */
  cleanup?(md: Record<string, string>): Promise<void>;
}

const u = () => randomUUID().slice(0, 8);
const cases: Case[] = [
  { type: 'nats-jetstream', service: 'nats', metadata: () => { const s = `FWE_${u()}`; return { stream: s, subject: `${s}.in`, consumer: 'c1', ackWait: '5s' }; } },
  { type: 'redis-streams', service: 'redis', metadata: () => ({ stream: `fwe-${u()}`, consumerGroup: 'c1', lagCount: '10', claimIdleTime: '5s' }) },
  { type: 'rabbitmq', service: 'rabbitmq', metadata: () => ({ queueName: `fwe-${u()}` }) },
  {
    type: 'mqtt',
    service: 'mqtt',
    metadata: () => { const id = u(); return { topic: `fwe/${id}/in`, clientId: `fwe-${id}` }; },
    async cleanup(md) {
      // a clean start with the same client id discards the persistent session
      const c = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { clientId: md.clientId!, clean: true, protocolVersion: 5 });
      await c.endAsync();
    },
  },
];

const body = (s: string) => new TextEncoder().encode(s);
const ctx = { notify() {}, log: { info() {}, warn() {}, error() {} } };

async function publisher(type: string, md: Record<string, string>, dataDir: string): Promise<Source> {
  const s = sources[type]!.create(md, { component: 'c1', dataDir, prefetch: 8 });
  await s.start(ctx);
  return s;
}

/** Creates the consumer side with the component's own source: next() opens it (for MQTT, the session). */
async function prepare(type: string, md: Record<string, string>, dataDir: string): Promise<void> {
  const s = sources[type]!.create(md, { component: 'c1', dataDir, prefetch: 1 });
  await s.start(ctx);
  try {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 300);
    assert.equal(await s.next(ac.signal), null, 'nothing is published yet');
    clearTimeout(timer);
  } finally {
    await s.close();
  }
}

/** A child's output, drained (an unread pipe blocks a child that logs a lot) and kept for failures. */
function captured(child: ChildProcess): () => string {
  let out = '';
  const keep = (d: Buffer) => void (out = (out + d.toString()).slice(-4000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => out;
}

function countRows(file: string): { n: number; distinct: number } {
  if (!fs.existsSync(file)) return { n: 0, distinct: 0 };
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const has = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'rows'").get();
    if (!has) return { n: 0, distinct: 0 };
    const r = db.prepare('SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS d FROM rows').get() as { n: number; d: number };
    return { n: r.n, distinct: r.d };
  } finally {
    db.close();
  }
}

for (const c of cases) {
  test(`${c.type}: 1,000 events through the engine give exactly 1,000 rows; a bad event is dead-lettered`, async (t) => {
    if (!(await requireService(t, c.service))) return;
    const dir = tempDir();
    const md = c.metadata();
    t.after(() => c.cleanup?.(md));
    await prepare(c.type, md, dir);
    await withApp(oneComponent(dir, { trigger: { type: c.type, metadata: md }, scaling: { pollingInterval: 1, cooldownPeriod: 1, minReplicaCount: 0, maxReplicaCount: 4 } }), async (app) => {
      const comp = app.components.get('c1')!;
      const pub = await publisher(c.type, md, dir);
      try {
        // 50 at a time: one broker round trip per publish, one after another, was most of this test
        for (let i = 0; i < 1000; i += 50) {
          await Promise.all(Array.from({ length: 50 }, (_, j) => pub.publish({ id: `b${i + j}`, source: c.type, subject: '', headers: {}, body: body(`{"n":${i + j}}\n`) })));
        }
        await pub.publish({ id: 'bad', source: c.type, subject: '', headers: {}, body: body('not json\n') });
      } finally {
        await pub.close();
      }
      await waitUntil('1,000 processed and 1 dead letter', () => comp.state().counters.processed >= 1000 && app.deadLetters.count('c1') === 1, 180_000);
      const { total, rows } = await comp.sink.rows!({ limit: 1000, offset: 0 });
      assert.equal(total, 1000, 'exactly one row per event');
      assert.equal(new Set(rows.map((r) => r.n)).size, 1000);
      const [dl] = app.deadLetters.list({ component: 'c1' });
      assert.match(dl!.reason, /^output: guest output line 1 is not JSON/);
      // output that is not JSON can only fail again: dead-lettered at once, not retried (commit 7c1dd8c)
      assert.equal(dl!.event.attempt, 1, 'dead-lettered on its first attempt');
      await waitUntil('lag back to 0', async () => (await comp.source.lag()).lag === 0, 60_000);
    });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test(`${c.type}: a failing guest's event is retried through the broker, then dead-lettered with its stderr`, async (t) => {
    if (!(await requireService(t, c.service))) return;
    const dir = tempDir();
    const md = c.metadata();
    t.after(() => c.cleanup?.(md));
    await prepare(c.type, md, dir);
    // the fail guest exits 3: a failure that may pass next time, so it is nacked and redelivered (maxAttempts 2)
    await withApp(oneComponent(dir, { module: guest('fail'), trigger: { type: c.type, metadata: md } }), async (app) => {
      const comp = app.components.get('c1')!;
      const pub = await publisher(c.type, md, dir);
      try {
        await pub.publish({ id: 'refused', source: c.type, subject: '', headers: {}, body: body('x\n') });
      } finally {
        await pub.close();
      }
      await waitUntil('the dead letter', () => app.deadLetters.count('c1') === 1, 60_000);
      const [dl] = app.deadLetters.list({ component: 'c1' });
      assert.equal(dl!.event.id, 'refused');
      assert.equal(dl!.event.attempt, 2, 'retried once, dead-lettered on the second attempt');
      assert.match(dl!.reason, /^exit: /);
      assert.match(dl!.stderrTail, /fail: refusing this event/);
      assert.equal(comp.state().counters.retried, 1);
      await waitUntil('lag back to 0', async () => (await comp.source.lag()).lag === 0, 60_000);
    });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test(`${c.type}: kill -9 of \`featherweight up\` mid-stream, then a restart: nothing lost, nothing duplicated`, async (t) => {
    if (!(await requireService(t, c.service))) return;
    const dir = tempDir();
    const md = c.metadata();
    t.after(() => c.cleanup?.(md));
    await prepare(c.type, md, dir);
    const manifest = path.join(dir, 'featherweight.yaml');
    fs.writeFileSync(
      manifest,
      stringify({
        apiVersion: 'featherweight.dev/v1',
        kind: 'App',
        metadata: { name: 'kill' },
        dataDir: dir,
        server: { listen: '127.0.0.1:0' },
        components: [{
          name: 'c1',
          module: guest('echo'),
          limits: { timeout: '1s' },
          trigger: { type: c.type, metadata: md },
          scaling: { pollingInterval: 1, cooldownPeriod: 1, minReplicaCount: 0, maxReplicaCount: 1 },
          sink: { type: 'sqlite', table: 'rows' },
        }],
      }),
    );
    const total = 600;
    const rowsDb = path.join(dir, 'rows.db');
    const env = { ...process.env, FEATHERWEIGHT_LOG_LEVEL: 'warn' };
    const first = spawnCli(['up', manifest], { env });
    const firstOut = captured(first);
    let atKill = 0;
    try {
      // Publishing while the first process runs keeps its pace to the publisher's, so the kill lands mid-stream.
      await waitUntil('the first process to be up', () => fs.existsSync(path.join(dir, 'dead-letters.db')), 120_000);
      const pub = await publisher(c.type, md, dir);
      try {
        for (let i = 0; i < total; i++) await pub.publish({ id: `k${i}`, source: c.type, subject: '', headers: {}, body: body(`{"n":${i}}\n`) });
      } finally {
        await pub.close();
      }
      await waitUntil('some rows committed', () => countRows(rowsDb).n > 0, 120_000).catch((err: Error) => {
        throw new Error(`${err.message}; the first process printed:\n${firstOut()}`);
      });
    } finally {
      first.kill('SIGKILL');
      await new Promise((r) => first.once('exit', r));
    }
    atKill = countRows(rowsDb).n;
    const second = spawnCli(['up', manifest], { env });
    const secondOut = captured(second);
    try {
      await waitUntil(`all ${total} rows after the restart`, () => countRows(rowsDb).n >= total, 300_000).catch((err: Error) => {
        throw new Error(`${err.message} (${atKill} at the kill, ${countRows(rowsDb).n} now); the restarted process printed:\n${secondOut()}`);
      });
      await new Promise((r) => setTimeout(r, 1500)); // a late duplicate would show up now
    } finally {
      second.kill('SIGTERM');
      await new Promise((r) => second.once('exit', r));
    }
    const { n, distinct } = countRows(rowsDb);
    assert.ok(atKill < total, `the kill landed mid-stream (${atKill} of ${total} committed)`);
    assert.equal(n, total, 'nothing lost, no duplicate rows');
    assert.equal(distinct, total);
    fs.rmSync(dir, { recursive: true, force: true });
  });
}
