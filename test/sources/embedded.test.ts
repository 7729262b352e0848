import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { create, openQueue, createEmbeddedQueue } from '../../src/sources/embedded/index.js';
import { sources } from '../../src/sources/index.js';
import type { Source, SourceContext } from '../../src/core/source.js';
import { runCli, repoRoot } from '../helpers/cli.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-embedded-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function ctx(): SourceContext & { notified: number } {
  const c = {
    notified: 0,
    notify() {
      c.notified++;
    },
    log: { info() {}, warn() {}, error() {} },
  };
  return c;
}

async function started(t: { after(fn: () => Promise<void>): void }, s: Source, c = ctx()): Promise<Source> {
  await s.start(c);
  t.after(() => s.close());
  return s;
}

/** `p`, or a clear failure after `ms`; the timer also keeps the event loop alive while `p` waits. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

const ev = (id: string, body = id) => ({ id, source: 'embedded', subject: 'q', headers: { k: id }, body: Buffer.from(body) });

test('1,000 events publish/next/ack give exactly the events and lag returns to 0', async (t) => {
  const dir = tempDir(t);
  const c = ctx();
  const s = await started(t, create({}, { component: 'orders', dataDir: dir, prefetch: 10 }), c);
  for (let i = 0; i < 1000; i++) await s.publish(ev(`e${i}`));
  assert.ok(c.notified > 0, 'publish pushes a notice to the scaler');
  assert.deepEqual(await s.lag(), { lag: 1000, inFlight: 0 });
  const seen = new Set<string>();
  const ac = new AbortController();
  for (let i = 0; i < 1000; i++) {
    const d = await s.next(ac.signal);
    assert.ok(d);
    assert.equal(d.event.attempt, 1);
    assert.equal(d.event.headers.k, d.event.id);
    assert.equal(Buffer.from(d.event.body).toString(), d.event.id);
    seen.add(d.event.id);
    if (i === 0) assert.deepEqual(await s.lag(), { lag: 1000, inFlight: 1 });
    await d.ack();
  }
  assert.equal(seen.size, 1000);
  for (let i = 0; i < 1000; i++) assert.ok(seen.has(`e${i}`));
  assert.deepEqual(await s.lag(), { lag: 0, inFlight: 0 });
});

test('metadata: unknown key names it and the allowed keys', () => {
  assert.throws(() => create({ queue: 'a', bogus: '1' }, { component: 'c', dataDir: '/tmp/x', prefetch: 1 }), /bogus[\s\S]*allowed: queue, visibilityTimeout/);
  assert.throws(() => create({ visibilityTimeout: 'soon' }, { component: 'c', dataDir: '/tmp/x', prefetch: 1 }), /visibilityTimeout: invalid duration/);
  assert.equal(sources.embedded!.metadata.safeParse({ nope: 'x' }).success, false);
  assert.equal(sources.embedded!.metadata.safeParse({ queue: 'x', lagThreshold: '5' }).success, true);
});

test('visibility timeout redelivers with attempt+1 and the same id', async (t) => {
  const dir = tempDir(t);
  const s = await started(t, create({ visibilityTimeout: '150ms' }, { component: 'vt', dataDir: dir, prefetch: 10 }));
  await s.publish(ev('x1'));
  const ac = new AbortController();
  const d1 = await s.next(ac.signal);
  assert.equal(d1!.event.attempt, 1);
  const d2 = await s.next(ac.signal); // waits for the lease to expire
  assert.equal(d2!.event.id, 'x1');
  assert.equal(d2!.event.attempt, 2);
  assert.equal(d2!.event.enqueuedAt, d1!.event.enqueuedAt);
  await d2!.ack();
  // The stale holder's nack must not bring back an event that is gone.
  await d1!.nack(0);
  assert.deepEqual(await s.lag(), { lag: 0, inFlight: 0 });
});

test('nack with delay: delayed counts as lag, comes back after the delay; reject deletes', async (t) => {
  const dir = tempDir(t);
  const s = await started(t, create({}, { component: 'nk', dataDir: dir, prefetch: 10 }));
  await s.publish(ev('n1'));
  const ac = new AbortController();
  const d1 = await s.next(ac.signal);
  await d1!.nack(200);
  const q = openQueue(dir);
  t.after(() => q.close());
  const [st] = q.stats('nk');
  assert.equal(st!.delayed, 1);
  assert.equal(st!.ready, 0);
  assert.deepEqual(await s.lag(), { lag: 1, inFlight: 0 });
  // Nothing else is ready: next() must wait for the delay rather than return early or hang.
  const d2 = await s.next(ac.signal);
  assert.equal(d2!.event.id, 'n1');
  assert.equal(d2!.event.attempt, 2);
  await assert.rejects(d1!.ack(), /already settled/);
  await d2!.reject('bad');
  assert.deepEqual(await s.lag(), { lag: 0, inFlight: 0 });
});

test('next() wakes at once on an in-process publish and returns null on abort and close', async (t) => {
  const dir = tempDir(t);
  const s = await started(t, create({ pollInterval: '1h' }, { component: 'wk', dataDir: dir, prefetch: 10 }));
  const ac = new AbortController();
  const pending = s.next(ac.signal);
  setTimeout(() => void s.publish(ev('w1')), 20);
  const d = await pending;
  assert.equal(d!.event.id, 'w1');
  await d!.ack();
  const ac2 = new AbortController();
  const p2 = s.next(ac2.signal);
  ac2.abort();
  assert.equal(await p2, null);
  const p3 = s.next(new AbortController().signal);
  await s.close();
  assert.equal(await p3, null);
});

test('prefetch bounds the events held un-acked', async (t) => {
  const dir = tempDir(t);
  const s = await started(t, create({}, { component: 'pf', dataDir: dir, prefetch: 2 }));
  for (const id of ['a', 'b', 'c']) await s.publish(ev(id));
  const sig = new AbortController().signal;
  const a = await s.next(sig);
  await s.next(sig);
  let third: unknown = undefined;
  const p = s.next(sig).then((d) => (third = d));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(third, undefined, 'a third delivery waits while two are held');
  await a!.ack();
  await p;
  assert.ok(third);
});

test('publish of an id that is still queued does not duplicate it', async (t) => {
  const dir = tempDir(t);
  const s = await started(t, create({}, { component: 'dup', dataDir: dir, prefetch: 10 }));
  await s.publish(ev('same'));
  await s.publish(ev('same'));
  assert.equal((await s.lag()).lag, 1);
});

test('a consumer killed -9 while holding a lease loses nothing', async (t) => {
  const dir = tempDir(t);
  const q = openQueue(dir);
  t.after(() => q.close());
  q.send('crash', { id: 'c1', body: Buffer.from('payload') });
  const script = `
    import { create } from ${JSON.stringify(path.join(repoRoot, 'src/sources/embedded/index.ts'))};
    const s = create({ visibilityTimeout: '1500ms' }, { component: 'crash', dataDir: ${JSON.stringify(dir)}, prefetch: 1 });
    await s.start({ notify() {}, log: { info() {}, warn() {}, error() {} } });
    const d = await s.next(new AbortController().signal);
    console.log('leased ' + d.event.id);
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => String(d).includes('leased c1') && resolve());
    child.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('close', r));
  const st = q.stats('crash')[0]!;
  assert.equal(st.inFlight + st.ready, 1, 'the event is still there after the kill');
  const s = await started(t, create({ visibilityTimeout: '300ms' }, { component: 'crash', dataDir: dir, prefetch: 1 }));
  const d = await s.next(new AbortController().signal);
  assert.equal(d!.event.id, 'c1');
  assert.equal(d!.event.attempt, 2);
  assert.equal(Buffer.from(d!.event.body).toString(), 'payload');
  await d!.ack();
  assert.equal((await s.lag()).lag, 0);
});

test('`queue send` from another process wakes a waiting next()', async (t) => {
  const dir = tempDir(t);
  const c = ctx();
  const s = await started(t, create({ pollInterval: '50ms' }, { component: 'cli', dataDir: dir, prefetch: 1 }), c);
  const pending = s.next(new AbortController().signal);
  const r = await runCli(['queue', 'send', '--data-dir', dir, '--queue', 'cli', '--header', 'a=b', '--body', 'hello']);
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  // Once the CLI has exited only the queue's unref'd poll timer is left: without a handle of our own,
  // node:test could find the event loop empty before that poll fires and cancel this test.
  const d = await within(pending, 10_000, 'the poll to wake next() after `queue send`');
  assert.equal(d!.event.id, id);
  assert.equal(d!.event.headers.a, 'b');
  assert.equal(Buffer.from(d!.event.body).toString(), 'hello');
  assert.ok(c.notified > 0, 'a publish from another process is pushed to the scaler');
  await d!.ack();
});

test('two sources on one data dir keep their queues apart', async (t) => {
  const dir = tempDir(t);
  const a = await started(t, createEmbeddedQueue(dir, { queue: 'qa' }));
  const b = await started(t, createEmbeddedQueue(dir, { queue: 'qb' }));
  await a.publish(ev('only-a'));
  assert.equal((await a.lag()).lag, 1);
  assert.equal((await b.lag()).lag, 0);
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  assert.equal(await b.next(ac.signal), null);
});
