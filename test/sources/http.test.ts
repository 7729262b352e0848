import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create, acceptHttpEvent, HttpIngressError, type HttpSource } from '../../src/sources/http.js';

const quiet = { notify() {}, log: { info() {}, warn() {}, error() {} } };

async function started(t: { after(fn: () => Promise<void>): void }, md: Record<string, string> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-http-'));
  const src = create(md, { component: 'hooks', dataDir: dir, prefetch: 10 }) as HttpSource;
  await src.start(quiet);
  t.after(async () => {
    await src.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return src;
}

test('acceptHttpEvent enqueues the body and safe headers and returns the id delivered', async (t) => {
  const src = await started(t);
  const { id } = await acceptHttpEvent(src, {
    body: Buffer.from('{"a":1}'),
    headers: { 'x-trace': 'abc', authorization: 'Bearer secret', cookie: 'c=1', 'content-length': '7', 'x-multi': ['1', '2'] },
    contentType: 'application/json',
  });
  const d = await src.next(new AbortController().signal);
  assert.equal(d!.event.id, id);
  assert.equal(d!.event.source, 'http');
  assert.equal(d!.event.subject, 'hooks');
  assert.deepEqual(d!.event.headers, { 'x-trace': 'abc', 'x-multi': '1, 2', 'content-type': 'application/json' });
  assert.equal(Buffer.from(d!.event.body).toString(), '{"a":1}');
  await d!.ack();
});

test('maxBody is enforced with 413; Idempotency-Key becomes the id and does not duplicate a queued event', async (t) => {
  const src = await started(t, { maxBody: '1KiB' });
  assert.equal(src.maxBody, 1024);
  await assert.rejects(
    acceptHttpEvent(src, { body: Buffer.alloc(1025), headers: {} }),
    (err: unknown) => err instanceof HttpIngressError && err.status === 413 && /1025 bytes.*maxBody of 1024/.test(err.message),
  );
  assert.equal((await src.lag()).lag, 0);
  const a = await acceptHttpEvent(src, { body: Buffer.from('x'), headers: { 'idempotency-key': 'order-42' } });
  const b = await acceptHttpEvent(src, { body: Buffer.from('x'), headers: { 'idempotency-key': 'order-42' } });
  assert.equal(a.id, 'order-42');
  assert.equal(b.id, 'order-42');
  assert.equal((await src.lag()).lag, 1);
  await assert.rejects(acceptHttpEvent(src, { body: Buffer.from('x'), headers: { 'idempotency-key': 'bad key!' } }), (e: unknown) => (e as HttpIngressError).status === 400);
});

test('http metadata is strict', () => {
  assert.throws(() => create({ maxbody: '1' }, { component: 'c', dataDir: '/tmp/none', prefetch: 1 }), /maxbody[\s\S]*allowed:.*maxBody/);
  assert.throws(() => create({ maxBody: 'lots' }, { component: 'c', dataDir: '/tmp/none', prefetch: 1 }), /maxBody: invalid size/);
});
