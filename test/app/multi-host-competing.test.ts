/**
 * The multi-host shape of "You got Mail!" (issue 16) with real processes, real NATS JetStream and
 * real PostgreSQL: one ingress process (SMTP -> JetStream, no guest) and three worker processes
 * sharing one durable consumer (mail-lines handler -> PostgreSQL). Mid-burst one worker is killed
 * with SIGKILL, or scaled in with SIGTERM. Every mail that got 250 must end up as exactly its rows,
 * keyed by the id of its 250 reply, and every surviving worker must have done part of the work.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { stringify } from 'yaml';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createSmtpTransport, generateMail, seededRng, toMessage } from '../../src/cli/mail-burst.js';
import { requireService } from '../helpers/services.js';
import { guest, tempDir, waitUntil } from './helpers.js';
import { freePort, killAll, startUp, type UpProcess } from './multi-host-procs.js';

const PG = 'postgres://postgres@127.0.0.1:5432/postgres';
const MAILS = 90;

async function scenario(t: TestContext, victimSignal: 'SIGKILL' | 'SIGTERM') {
  if (!(await requireService(t, 'nats')) || !(await requireService(t, 'postgres'))) return;
  const id = randomUUID().slice(0, 8);
  const stream = `FWMH_${id}`;
  const table = `mh_${id}`;
  const dir = tempDir('fw-multi-host-');
  const smtpPort = await freePort();
  const file = path.join(dir, 'featherweight.yaml');
  fs.writeFileSync(
    file,
    stringify({
      apiVersion: 'featherweight.dev/v1',
      kind: 'App',
      metadata: { name: 'mh' },
      components: [
        {
          name: 'ingress',
          trigger: { type: 'smtp', metadata: { listen: `127.0.0.1:${smtpPort}` } },
          scaling: { minReplicaCount: 1, maxReplicaCount: 8 },
          delivery: { maxAttempts: 50, backoff: '100ms', maxBackoff: '1s' },
          sink: { type: 'publish', broker: 'nats', subject: `${stream}.in` },
        },
        {
          name: 'worker',
          module: guest('mail-lines'),
          limits: { maxMemory: '16MiB', timeout: '5s', maxStdin: '25MiB', maxStdout: '50MiB' },
          trigger: { type: 'nats-jetstream', metadata: { stream, subject: `${stream}.>`, consumer: 'workers', ackWait: '2s', lagThreshold: '2' } },
          scaling: { pollingInterval: 1, cooldownPeriod: 2, minReplicaCount: 0, maxReplicaCount: 4 },
          delivery: { maxAttempts: 50, backoff: '100ms', maxBackoff: '1s' },
          sink: { type: 'postgres', connectionString: PG, table },
        },
      ],
    }),
  );
  const nc = await connect({ servers: '127.0.0.1:4222' });
  const jsm = await jetstreamManager(nc);
  // the stream exists before any process: the ingress publishes into it, the workers share its consumer
  await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
  const db = new pg.Client({ connectionString: PG });
  await db.connect();
  const procs: UpProcess[] = [];
  try {
    const started = await Promise.all([
      startUp('ingress', file, 'ingress', path.join(dir, 'ingress')),
      startUp('worker-1', file, 'worker', path.join(dir, 'w1')),
      startUp('worker-2', file, 'worker', path.join(dir, 'w2')),
      startUp('worker-3', file, 'worker', path.join(dir, 'w3')),
    ]);
    procs.push(...started);
    const [ingress, ...workers] = started as [UpProcess, UpProcess, UpProcess, UpProcess];
    const victim = workers[0]!;
    const survivors = workers.slice(1);

    const expected = new Map<string, number>();
    const transport = createSmtpTransport({ server: `127.0.0.1:${smtpPort}`, connections: 3 });
    const rng = seededRng(16);
    const mails = Array.from({ length: MAILS }, (_, i) => generateMail(i, rng, { lines: { min: 20, max: 400 }, attachmentsPerMail: { min: 1, max: 2 } }));
    const send = async (from: number, to: number) => {
      await Promise.all(
        mails.slice(from, to).map(async (m) => {
          const info = await transport.sendMail(toMessage(m));
          const queued = /Queued as (\S+)/.exec(info.response);
          assert.ok(queued, `a 250 reply names the event id: ${info.response}`);
          expected.set(queued[1]!, m.expectedRows);
        }),
      );
    };

    // The burst goes out in chunks until the victim has done part of it (three workers compete, so
    // which one gets a mail is up to the broker); it goes down then, and the rest follows.
    let sent = 0;
    const victimProcessed = async () => (await victim.state('worker')).counters.processed;
    while (sent < MAILS - 30 && (await victimProcessed()) < 3) {
      await send(sent, sent + 10);
      sent += 10;
      await waitUntil('the chunk is forwarded and taken by the workers', async () => {
        if ((await ingress.state('ingress')).counters.processed < sent) return false;
        return (await jsm.consumers.info(stream, 'workers')).num_pending === 0;
      }, 120_000);
    }
    await waitUntil('the victim worker processed part of the burst', async () => (await victimProcessed()) >= 3, 120_000);
    const victimDone = await victimProcessed();
    const sendingRest = send(sent, MAILS);
    // Preferably while it runs events (so they must finish, or come back from the broker); a safety
    // bound keeps the test going if the broker hands it nothing for a while.
    let held = 0;
    await waitUntil('the victim holds events', async () => (held = (await victim.state('worker')).inFlight) > 0, 30_000).catch(() => undefined);
    victim.child.kill(victimSignal);
    console.log(`# ${victimSignal} to ${victim.name} while it ran ${held} event(s), after ${victimDone} done`);
    const exit = await victim.exited;
    if (victimSignal === 'SIGTERM') {
      assert.equal(exit.code, 0, `a SIGTERM drains and exits 0:\n${victim.logs().slice(-2000)}`);
      assert.match(victim.logs(), /draining in-flight events/);
      assert.match(victim.logs(), /"msg":"stopped"/);
    } else assert.equal(exit.signal, 'SIGKILL');
    await sendingRest;
    transport.close();
    assert.equal(expected.size, MAILS, 'every mail got a 250');

    const total = [...expected.values()].reduce((a, b) => a + b, 0);
    const rowsPerEvent = async () => {
      const r = await db.query<{ event_id: string; n: number }>(`SELECT event_id, count(*)::int AS n FROM "${table}" GROUP BY event_id`).catch(() => ({ rows: [] }));
      return new Map(r.rows.map((x) => [x.event_id, x.n]));
    };
    await waitUntil(`all ${total} rows of ${MAILS} mails in PostgreSQL`, async () => {
      const got = await rowsPerEvent();
      return [...expected].every(([eid, n]) => got.get(eid) === n);
    }, 180_000);
    await waitUntil('the consumer has nothing pending', async () => {
      const ci = await jsm.consumers.info(stream, 'workers');
      return ci.num_pending + ci.num_ack_pending === 0;
    }, 120_000);

    const got = await rowsPerEvent();
    assert.deepEqual([...got.keys()].sort(), [...expected.keys()].sort(), 'rows belong to the accepted mails only');
    for (const [eid, n] of expected) assert.equal(got.get(eid), n, `mail ${eid}: exactly its rows`);
    const { rows: [count] } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${table}"`);
    assert.equal(count!.n, total);

    assert.ok(victimDone >= 3);
    const done = await Promise.all(survivors.map(async (w) => (await w.state('worker')).counters.processed));
    for (const [i, n] of done.entries()) assert.ok(n > 0, `surviving ${survivors[i]!.name} did part of the work (processed ${n})`);
    assert.equal((await ingress.state('ingress')).counters.processed, MAILS, 'the ingress forwarded every mail');
  } finally {
    killAll(procs);
    await Promise.all(procs.map((p) => p.exited));
    await db.query(`DROP TABLE IF EXISTS "${table}"`).catch(() => undefined);
    await db.end();
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
  }
}

test('1 ingress + 3 workers on one JetStream consumer: a worker killed with SIGKILL mid-burst loses and duplicates nothing', { timeout: 600_000 }, (t) => scenario(t, 'SIGKILL'));

test('1 ingress + 3 workers on one JetStream consumer: a worker scaled in with SIGTERM drains, nothing lost or duplicated', { timeout: 600_000 }, (t) => scenario(t, 'SIGTERM'));
