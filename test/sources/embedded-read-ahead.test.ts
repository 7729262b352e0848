import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createEmbeddedQueue, defaultLeaseBatch, openQueue } from '../../src/sources/embedded/index.js';
import type { Source } from '../../src/core/source.js';
import { repoRoot } from '../helpers/cli.js';

// Read-ahead (decision 190): one lease takes several rows; the ones not handed out yet stay backlog.

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-read-ahead-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const quiet = { notify() {}, log: { info() {}, warn() {}, error() {} } };

async function started(s: Source): Promise<Source> {
  await s.start(quiet);
  return s;
}

/** Takes every event until the queue has been empty for a moment; acks each. */
async function drainAll(s: Source): Promise<Array<{ id: string; attempt: number }>> {
  const got: Array<{ id: string; attempt: number }> = [];
  for (;;) {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 300);
    const d = await s.next(ac.signal);
    clearTimeout(timer);
    if (!d) return got;
    got.push({ id: d.event.id, attempt: d.event.attempt });
    await d.ack();
  }
}

test('one lease reads ahead; rows not handed out count as backlog, and close gives them back uncounted', async (t) => {
  const dir = tempDir(t);
  const q = openQueue(dir);
  t.after(() => q.close());
  for (let i = 0; i < 40; i++) q.send('ra', { id: `e${String(i).padStart(2, '0')}`, body: Buffer.from(`${i}`) });
  const a = await started(createEmbeddedQueue(dir, { queue: 'ra', prefetch: 4 }));
  const d = await a.next(new AbortController().signal);
  assert.equal(d!.event.id, 'e00');
  assert.equal(q.stats('ra')[0]!.inFlight, defaultLeaseBatch, 'one statement leased a batch');
  assert.deepEqual(await a.lag(), { lag: 40, inFlight: 1 }, 'the rows read ahead are backlog, not in flight');
  await d!.ack();
  await a.close();
  const st = q.stats('ra')[0]!;
  assert.equal(st.inFlight, 0, 'close gave the read-ahead back');
  assert.equal(st.ready, 39);
  const b = await started(createEmbeddedQueue(dir, { queue: 'ra', prefetch: 4 }));
  t.after(() => b.close());
  const got = await drainAll(b);
  assert.deepEqual(got.map((g) => g.id).sort(), Array.from({ length: 39 }, (_, i) => `e${String(i + 1).padStart(2, '0')}`), 'each once');
  assert.ok(got.every((g) => g.attempt === 1), 'a row given back was never delivered: its attempt does not count');
});

test('a row read ahead that waited half its lease is leased again, fresh, before it is handed out', async (t) => {
  const dir = tempDir(t);
  const s = await started(createEmbeddedQueue(dir, { queue: 'stale', visibilityTimeoutMs: 400, prefetch: 4 }));
  t.after(() => s.close());
  await s.publish({ id: 'a', source: 't', subject: 'stale', headers: {}, body: Buffer.from('a') });
  await s.publish({ id: 'b', source: 't', subject: 'stale', headers: {}, body: Buffer.from('b') });
  const sig = new AbortController().signal;
  const d1 = await s.next(sig);
  assert.equal(d1!.event.id, 'a');
  await new Promise((r) => setTimeout(r, 250)); // more than half of b's 400 ms lease has gone
  const d2 = await s.next(sig);
  assert.equal(d2!.event.id, 'b');
  assert.equal(d2!.event.attempt, 1, 'the stale lease was given back, not counted');
  await d1!.ack();
  await d2!.ack();
  assert.deepEqual(await s.lag(), { lag: 0, inFlight: 0 });
});

test('a consumer killed -9 holding a read-ahead loses nothing and duplicates nothing', async (t) => {
  const dir = tempDir(t);
  const q = openQueue(dir);
  t.after(() => q.close());
  for (let i = 0; i < 10; i++) q.send('crash', { id: `c${i}`, body: Buffer.from(`${i}`) });
  // It acks the first event, holds the second un-acked and eight more read ahead, then is killed.
  const script = `
    import { createEmbeddedQueue } from ${JSON.stringify(path.join(repoRoot, 'src/sources/embedded/index.ts'))};
    const s = createEmbeddedQueue(${JSON.stringify(dir)}, { queue: 'crash', visibilityTimeoutMs: 1500, prefetch: 2 });
    await s.start({ notify() {}, log: { info() {}, warn() {}, error() {} } });
    const d = await s.next(new AbortController().signal);
    await d.ack();
    const held = await s.next(new AbortController().signal);
    console.log('holding ' + held.event.id);
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => String(d).includes('holding c1') && resolve());
    child.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('close', r));
  const st = q.stats('crash')[0]!;
  assert.equal(st.inFlight + st.ready, 9, 'everything but the acked event is still there');
  const s = await started(createEmbeddedQueue(dir, { queue: 'crash', visibilityTimeoutMs: 1500, prefetch: 2 }));
  t.after(() => s.close());
  const got: string[] = [];
  while (got.length < 9) {
    const d = await s.next(new AbortController().signal); // waits for the dead leases to expire
    got.push(d!.event.id);
    await d!.ack();
  }
  assert.deepEqual([...got].sort(), ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9']);
  assert.deepEqual(await s.lag(), { lag: 0, inFlight: 0 });
});

test('next() calls already waiting when a batch arrives are all served from the read-ahead', async (t) => {
  const dir = tempDir(t);
  const src = await started(createEmbeddedQueue(dir, { queue: 'q', prefetch: 4, pollIntervalMs: 50 }));
  t.after(() => src.close());
  const ac = new AbortController();
  t.after(() => ac.abort());
  for (let round = 0; round < 4; round++) {
    // Two replicas wait; five events arrive. One lease takes them all; the other waiter must not
    // stay parked on a queue whose rows are all leased ahead (no publish or poll would wake it).
    const waiting = [src.next(ac.signal), src.next(ac.signal)];
    // Published together, so they commit in one flush and both waiters wake into the same lease;
    // in odd rounds once both wait, in even ones while their first lease is still on its way.
    if (round % 2 === 1) await new Promise((r) => setTimeout(r, 50));
    await Promise.all(Array.from({ length: 5 }, (_, i) => src.publish({ id: `r${round}-${i}`, source: 'embedded', subject: 'q', headers: {}, body: Buffer.from('x') })));
    let timer: NodeJS.Timeout | undefined;
    const got = await Promise.race([
      Promise.all(waiting),
      new Promise<'stalled'>((r) => (timer = setTimeout(() => r('stalled'), 10_000))),
    ]);
    clearTimeout(timer);
    assert.notEqual(got, 'stalled', `round ${round}: a waiting next() was never served`);
    for (const d of got as Array<Awaited<ReturnType<Source['next']>>>) {
      assert.ok(d, `round ${round}: a waiting next() resolved without a delivery`);
      await d.ack();
    }
  }
  const rest = await drainAll(src);
  assert.equal(rest.length, 20 - 8, 'every event is delivered once');
});
