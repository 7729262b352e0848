import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDeadLetters } from '../../src/sources/dead-letters.js';
import { openQueue } from '../../src/sources/embedded/index.js';
import { runCli } from '../helpers/cli.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-dlq-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const event = (id: string, source = 'embedded', subject = 'orders') => ({
  id, source, subject, headers: { h: '1' }, body: Buffer.from(`body of ${id}`), attempt: 5, enqueuedAt: 1_700_000_000_000,
});

test('add/list/get/count/remove keep the event, the reason and the error', (t) => {
  const dir = tempDir(t);
  const dl = openDeadLetters(dir);
  t.after(() => dl.close());
  const a = dl.add({ component: 'orders', event: event('e1'), reason: 'trap: unreachable', error: { kind: 'trap', message: 'guest trapped: unreachable' }, stderrTail: 'panic!' });
  const b = dl.add({ component: 'mail', event: event('e2', 'smtp', 'x@y'), reason: 'sink: down', error: { kind: 'sink', message: 'down' }, stderrTail: 'x'.repeat(20_000) });
  assert.equal(dl.count(), 2);
  assert.equal(dl.count('orders'), 1);
  assert.deepEqual(dl.list().map((d) => d.id), [b, a]);
  const got = dl.get(a)!;
  assert.equal(got.component, 'orders');
  assert.equal(got.event.id, 'e1');
  assert.equal(got.event.attempt, 5);
  assert.equal(Buffer.from(got.event.body).toString(), 'body of e1');
  assert.deepEqual(got.error, { kind: 'trap', message: 'guest trapped: unreachable' });
  assert.equal(got.stderrTail, 'panic!');
  assert.equal(dl.get(b)!.stderrTail.length, 8192);
  assert.deepEqual(dl.list({ component: 'mail' }).map((d) => d.id), [b]);
  assert.equal(dl.remove(a), true);
  assert.equal(dl.remove(a), false);
  assert.equal(dl.get(a), undefined);
});

test('featherweight dlq list, retry and drop', async (t) => {
  const dir = tempDir(t);
  const dl = openDeadLetters(dir);
  const e1 = dl.add({ component: 'orders', event: event('e1'), reason: 'exit: code 3', error: { kind: 'exit', message: 'exit 3', exitCode: 3 }, stderrTail: '' });
  const e2 = dl.add({ component: 'mail', event: event('e2', 'smtp', 'someone@x.test'), reason: 'timeout: 2s', error: { kind: 'timeout', message: '2s' }, stderrTail: '' });
  const e3 = dl.add({ component: 'bus', event: event('e3', 'nats-jetstream', 'a.b'), reason: 'trap', error: { kind: 'trap', message: 't' }, stderrTail: '' });
  dl.close();
  // Components not in any manifest: retry falls back to the embedded queue in the data dir.
  const run = (args: string[]) => runCli([...args, '--data-dir', dir]);

  const list = await run(['dlq', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /ID\s+COMPONENT\s+EVENT\s+ATTEMPTS\s+AGE\s+REASON/);
  for (const id of [e1, e2, e3]) assert.ok(list.stdout.includes(id));
  const json = await run(['dlq', 'list', '--component', 'orders', '--json']);
  const parsed = JSON.parse(json.stdout);
  assert.equal(parsed.length, 1);
  assert.equal(Buffer.from(parsed[0].event.body, 'base64').toString(), 'body of e1');

  const r1 = await run(['dlq', 'retry', e1]);
  assert.equal(r1.code, 0, r1.stderr);
  assert.match(r1.stdout, /back on the embedded queue orders/);
  const r2 = await run(['dlq', 'retry', e2]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stdout, /embedded queue mail/);
  const r3 = await run(['dlq', 'retry', e3]);
  assert.equal(r3.code, 1);
  assert.match(r3.stderr, /came from a nats-jetstream source: retrying it needs the app manifest/);

  const q = openQueue(dir);
  t.after(() => q.close());
  const stats = Object.fromEntries(q.stats().map((s) => [s.queue, s.ready]));
  assert.equal(stats.orders, 1);
  assert.equal(stats.mail, 1);

  const dropped = await run(['dlq', 'drop', e3]);
  assert.equal(dropped.code, 0, dropped.stderr);
  const again = await run(['dlq', 'drop', e3]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /no dead letter with id/);
  const store = openDeadLetters(dir);
  assert.equal(store.count(), 0);
  store.close();
});
