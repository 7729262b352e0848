/**
 * The ingress drains before it exits (decision 161): on close it answers new SMTP clients 421 and
 * keeps forwarding what its queue holds until the queue is empty, so an ingress pod scaled in or
 * rolled leaves no accepted mail behind. The broker is unusable while the mails arrive (no stream
 * captures the subject yet), so they are held in the queue when the drain begins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { parseManifest } from '../../src/app/manifest.js';
import { startApp } from '../../src/app/app.js';
import type { SmtpSource } from '../../src/sources/smtp.js';
import { createSmtpTransport, generateMail, seededRng, toMessage } from '../../src/cli/mail-burst.js';
import { requireService } from '../helpers/services.js';
import { quietLog, tempDir, waitUntil } from './helpers.js';

test('an smtp ingress refuses new mail with 421 on close and forwards everything it holds before it stops', { timeout: 180_000 }, async (t) => {
  if (!(await requireService(t, 'nats'))) return;
  const stream = `FWD_${randomUUID().slice(0, 8)}`;
  const dataDir = tempDir('fw-drain-');
  const manifest = parseManifest(
    {
      apiVersion: 'featherweight.dev/v1',
      kind: 'App',
      metadata: { name: 'drain' },
      dataDir,
      components: [{
        name: 'ingress',
        trigger: { type: 'smtp', metadata: { listen: '127.0.0.1:0' } },
        scaling: { pollingInterval: 1, minReplicaCount: 1, maxReplicaCount: 4 },
        delivery: { maxAttempts: 1000, backoff: '50ms', maxBackoff: '200ms' },
        sink: { type: 'publish', broker: 'nats', subject: `${stream}.mail` },
      }],
    },
    { baseDir: dataDir },
  );
  const nc = await connect({ servers: '127.0.0.1:4222' });
  const jsm = await jetstreamManager(nc);
  const app = await startApp(manifest, { log: quietLog, drainMs: 120_000 });
  let closing: Promise<void> | undefined;
  try {
    const ingress = app.components.get('ingress')!;
    const server = `127.0.0.1:${(ingress.source as SmtpSource).address().port}`;
    const transport = createSmtpTransport({ server });
    const rng = seededRng(3);
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const info = await transport.sendMail(toMessage(generateMail(i, rng)));
      ids.push(/Queued as (\S+)/.exec(info.response)?.[1] ?? `no id in ${info.response}`);
    }
    transport.close();
    await waitUntil('the forwards fail and retry while no stream exists', () => ingress.state().counters.retried > 0, 60_000);
    assert.equal(ingress.state().counters.processed, 0);
    assert.equal((await ingress.source.lag()).lag, 8, 'the accepted mails wait in the queue');

    closing = app.close();
    // While draining, a new client is told to go elsewhere (and keeps its mail).
    await waitUntil('a new mail is refused with 421', async () => {
      const late = createSmtpTransport({ server });
      try {
        await late.sendMail(toMessage(generateMail(99, rng)));
        return false;
      } catch (err) {
        const e = err as { responseCode?: number; code?: string };
        if (e.code === 'ECONNREFUSED') throw new Error('the listener closed before the queue drained');
        return e.responseCode === 421;
      } finally {
        late.close();
      }
    }, 60_000);
    let closed = false;
    void closing.then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(closed, false, 'close() waits while the queue still holds mail');

    await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
    await closing;
    const info = await jsm.streams.info(stream);
    assert.equal(info.state.messages, 8, 'every accepted mail was published before close() returned');
    const ids2: string[] = [];
    for (let seq = 1; seq <= 8; seq++) ids2.push((await jsm.streams.getMessage(stream, { seq }))?.header.get('fw-event-id') ?? `no message ${seq}`);
    assert.deepEqual(ids2.sort(), ids.sort());
  } finally {
    if (!closing) await app.close();
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
  }
});
