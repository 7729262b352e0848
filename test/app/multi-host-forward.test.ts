/**
 * A component without a module forwards each event to its publish sink (decision 160): an smtp
 * ingress puts every accepted mail on a JetStream stream, body byte for byte, keyed by the id the
 * 250 reply named. Real SMTP client, real NATS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager, jetstream, AckPolicy } from '@nats-io/jetstream';
import { parseManifest } from '../../src/app/manifest.js';
import type { SmtpSource } from '../../src/sources/smtp.js';
import { createSmtpTransport, generateMail, seededRng, toMessage } from '../../src/cli/mail-burst.js';
import { requireService } from '../helpers/services.js';
import { tempDir, waitUntil, withApp } from './helpers.js';

const ingress = (dataDir: string, subject: string, sink: Record<string, unknown> = { type: 'publish', broker: 'nats', subject }) =>
  parseManifest(
    {
      apiVersion: 'featherweight.dev/v1',
      kind: 'App',
      metadata: { name: 'fwd' },
      dataDir,
      components: [{ name: 'ingress', trigger: { type: 'smtp', metadata: { listen: '127.0.0.1:0' } }, scaling: { minReplicaCount: 0, maxReplicaCount: 4 }, sink }],
    },
    { baseDir: dataDir },
  );

test('a component without a module needs a publish sink, and says so', () => {
  assert.throws(() => ingress(tempDir(), 'x', { type: 'sqlite' }), /components\[0\]\.module: missing; a component without a module forwards each event unchanged to its sink, so the sink must be `type: publish` \(got sqlite\)/);
});

test('an smtp ingress without a module forwards every accepted mail to JetStream, keyed by its 250 id', async (t) => {
  if (!(await requireService(t, 'nats'))) return;
  const stream = `FWF_${randomUUID().slice(0, 8)}`;
  const nc = await connect({ servers: '127.0.0.1:4222' });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
  try {
    await withApp(ingress(tempDir(), `${stream}.mail`), async (app) => {
      const src = app.components.get('ingress')!.source as SmtpSource;
      const transport = createSmtpTransport({ server: `127.0.0.1:${src.address().port}` });
      const rng = seededRng(7);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const info = await transport.sendMail(toMessage(generateMail(i, rng)));
        const m = /Queued as (\S+)/.exec(info.response);
        assert.ok(m, `250 reply names the event: ${info.response}`);
        ids.push(m[1]!);
      }
      transport.close();
      await waitUntil('5 messages on the stream', async () => (await jsm.streams.info(stream)).state.messages === 5, 60_000);
      await waitUntil('the ingress queue is empty', async () => (await src.lag()).lag === 0, 60_000);
      await jsm.consumers.add(stream, { durable_name: 'check', ack_policy: AckPolicy.Explicit });
      const c = await jetstream(nc).consumers.get(stream, 'check');
      const seen: string[] = [];
      const msgs = await c.fetch({ max_messages: 5, expires: 5000 });
      for await (const msg of msgs) {
        const body = JSON.parse(new TextDecoder().decode(msg.data)) as { subject: string; attachments: unknown[]; to: string[] };
        assert.match(body.subject, /#\d+$/);
        assert.ok(body.attachments.length >= 1);
        assert.equal(msg.headers?.get('Nats-Msg-Id'), msg.headers?.get('fw-event-id'));
        seen.push(msg.headers!.get('fw-event-id'));
        msg.ack();
      }
      assert.deepEqual(seen.sort(), ids.slice().sort());
      assert.equal(app.components.get('ingress')!.state().counters.processed, 5);
    });
  } finally {
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
  }
});
