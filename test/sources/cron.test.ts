import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create } from '../../src/sources/cron.js';

test('each tick publishes one event whose id names the scheduled second', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-cron-'));
  let notified = 0;
  const src = create({ schedule: '* * * * * *', timezone: 'UTC', body: 'tick' }, { component: 'ticker', dataDir: dir, prefetch: 10 });
  await src.start({ notify: () => notified++, log: { info() {}, warn() {}, error() {} } });
  t.after(async () => {
    await src.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const sig = new AbortController().signal;
  const d1 = await src.next(sig);
  const d2 = await src.next(sig);
  for (const d of [d1!, d2!]) {
    assert.equal(d.event.source, 'cron');
    assert.equal(Buffer.from(d.event.body).toString(), 'tick');
    assert.match(d.event.id, /^cron:ticker:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    assert.equal(d.event.id, `cron:ticker:${d.event.headers.scheduledAt}`);
    assert.equal(d.event.enqueuedAt % 1000, 0);
  }
  assert.notEqual(d1!.event.id, d2!.event.id);
  assert.equal(Date.parse(d2!.event.headers.scheduledAt!) - Date.parse(d1!.event.headers.scheduledAt!), 1000);
  assert.ok(notified >= 2);
  // The same tick published again while it is queued (a restart within the second) stays one event.
  await src.publish({ ...d1!.event });
  await d1!.ack();
  await d2!.ack();
  const d3 = await src.next(sig);
  assert.ok(![d1!.event.id, d2!.event.id].includes(d3!.event.id), 'no second delivery of an acked tick');
  await d3!.ack();
});

test('schedules and time zones are validated', () => {
  const opts = { component: 'c', dataDir: '/tmp/none', prefetch: 1 };
  assert.throws(() => create({}, opts), /schedule/);
  assert.throws(() => create({ schedule: '* * *' }, opts), /has 3 fields: use 5.*or 6/);
  assert.throws(() => create({ schedule: '61 * * * *' }, opts), /minute/);
  assert.throws(() => create({ schedule: '* * * * *', timezone: 'Mars/Olympus' }, opts), /not an IANA time zone/);
  assert.throws(() => create({ schedule: '* * * * *', start: '0 8 * * *' }, opts), /start[\s\S]*allowed:/);
  assert.doesNotThrow(() => create({ schedule: '*/5 * * * *', timezone: 'Europe/Berlin' }, opts));
});
