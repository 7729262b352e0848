import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create, openQueue } from '../../src/sources/embedded/index.js';
import { runCli } from '../helpers/cli.js';

test('featherweight queue send (file, stdin, default queue) and queue stats', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-queue-cli-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const none = await runCli(['queue', 'send', '--data-dir', dir, '--body', 'x']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no queue in .* yet: name one with --queue/);

  const file = path.join(dir, 'payload.bin');
  fs.writeFileSync(file, Buffer.from([1, 2, 3, 250]));
  const a = await runCli(['queue', 'send', '--data-dir', dir, '--queue', 'orders', '--file', file, '-H', 'k=v=w']);
  assert.equal(a.code, 0, a.stderr);
  // One queue known now: --queue may be left out; the body comes from stdin. The refused header
  // sends nothing, so it runs alongside (each CLI start costs seconds on a loaded machine).
  const [b, bad] = await Promise.all([
    runCli(['queue', 'send', '--data-dir', dir, '--id', 'fixed-id'], { input: 'from stdin' }),
    runCli(['queue', 'send', '--data-dir', dir, '--header', 'novalue', '--body', 'x']),
  ]);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(b.stdout.trim(), 'fixed-id');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--header "novalue": use NAME=VALUE/);

  const q = openQueue(dir);
  t.after(() => q.close());
  const [stats, statsJson] = await Promise.all([runCli(['queue', 'stats', '--data-dir', dir]), runCli(['queue', 'stats', '--data-dir', dir, '--json'])]);
  assert.equal(stats.code, 0, stats.stderr);
  assert.match(stats.stdout, /^QUEUE\s+READY\s+DELAYED\s+IN-FLIGHT\s+OLDEST\norders\s+2\s+0\s+0\s+\S+/);
  assert.equal(statsJson.code, 0, statsJson.stderr);
  const json = JSON.parse(statsJson.stdout);
  assert.equal(json.length, 1);
  assert.equal(json[0].queue, 'orders');
  assert.equal(json[0].ready, 2);
  assert.equal(typeof json[0].oldestAgeMs, 'number');
  assert.deepEqual(q.stats('orders')[0]!.ready, 2);

  const src = create({}, { component: 'orders', dataDir: dir, prefetch: 2 });
  await src.start({ notify() {}, log: { info() {}, warn() {}, error() {} } });
  t.after(() => src.close());
  const sig = new AbortController().signal;
  const first = (await src.next(sig))!.event;
  const second = (await src.next(sig))!.event;
  assert.equal(first.id, a.stdout.trim());
  assert.deepEqual([...first.body], [1, 2, 3, 250]);
  assert.deepEqual(first.headers, { k: 'v=w' });
  assert.equal(second.id, 'fixed-id');
  assert.equal(Buffer.from(second.body).toString(), 'from stdin');
});
