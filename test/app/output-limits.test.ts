// The output side of isolation: a guest that prints millions of records, or records the sink can
// never store, ends its own event with a typed error at once, and the API keeps answering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { oneComponent, quietLog, tempDir, waitUntil, withApp } from './helpers.js';
import { startServer } from '../../src/server/server.js';
import { watBytes } from '../runtime/wat.js';
import { repoRoot } from '../helpers/cli.js';

const body = (s: string) => new TextEncoder().encode(s);

async function hostileGuest(dir: string, name: string): Promise<string> {
  const file = path.join(dir, `${name}.wasm`);
  fs.writeFileSync(file, await watBytes(fs.readFileSync(path.join(repoRoot, 'guests/hostile', `${name}.wat`), 'utf8')));
  return file;
}

test('row bomb: 16.7 M `{}` lines from a 1-byte event end in record-limit at once; /healthz answers throughout', async () => {
  const dir = tempDir();
  const module = await hostileGuest(dir, 'row-bomb-under-limit');
  await withApp(oneComponent(dir, { module, limits: { timeout: '60s' }, delivery: { maxAttempts: 5, backoff: '10ms', maxBackoff: '50ms' } }), async (app) => {
    const server = await startServer(app, { listen: '127.0.0.1:0', log: quietLog });
    try {
      const c = app.components.get('c1')!;
      await c.source.publish({ id: 'bomb', source: 'embedded', subject: 'c1', headers: {}, body: body('x') });
      let answered = 0;
      let slowest = 0;
      while (app.deadLetters.count('c1') === 0) {
        const t0 = Date.now();
        // 10 s is a safety net on a loaded machine, not the claim; the claim is that it answers while the event runs
        const res = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(10_000) });
        assert.equal(res.status, 200);
        slowest = Math.max(slowest, Date.now() - t0);
        answered++;
        await new Promise((r) => setTimeout(r, 20));
      }
      // The guest is stopped at the 100,001st record as it writes (decision 234), so the event may end
      // before a second probe; every probe made meanwhile answered.
      assert.ok(answered >= 1, `/healthz answered ${answered} time(s) while the bomb ran (slowest ${slowest} ms)`);
      const [dl] = app.deadLetters.list({ component: 'c1' });
      assert.equal(dl!.error.kind, 'record-limit');
      assert.match(dl!.reason, /^record-limit: guest wrote more than 100000 records for one event \(the record limit, limits\.maxRecords\); it was stopped there/);
      assert.equal(dl!.event.attempt, 1, 'not retried: it can only repeat');
      assert.equal(c.state().counters.retried, 0);
      assert.equal((await c.sink.rows!({ limit: 1, offset: 0 })).total, 0, 'nothing of the event written');
    } finally {
      await server.close();
    }
  });
  fs.rmSync(dir, { recursive: true, force: true });
});

test('limits.maxRecords: one record over the limit dead-letters; at the limit the event commits', async () => {
  const dir = tempDir();
  await withApp(oneComponent(dir, { limits: { maxRecords: 3 } }), async (app) => {
    const c = app.components.get('c1')!;
    await c.source.publish({ id: 'three', source: 'embedded', subject: 'c1', headers: {}, body: body('{"n":1}\n{"n":2}\n\n{"n":3}\n') });
    await c.source.publish({ id: 'four', source: 'embedded', subject: 'c1', headers: {}, body: body('{"n":1}\n{"n":2}\n{"n":3}\n{"n":4}\n') });
    await waitUntil('one committed, one dead-lettered', () => c.state().counters.processed === 1 && app.deadLetters.count('c1') === 1);
    assert.equal(app.deadLetters.list({ component: 'c1' })[0]!.event.id, 'four');
    assert.match(app.deadLetters.list({ component: 'c1' })[0]!.reason, /more than 3 records/);
    assert.equal((await c.sink.rows!({ limit: 10, offset: 0 })).total, 3);
  });
  fs.rmSync(dir, { recursive: true, force: true });
});

test('an event body above maxStdin and a record past the column cap are dead-lettered on the first attempt with their reason', async () => {
  const dir = tempDir();
  await withApp(oneComponent(dir, { limits: { maxStdin: '1KiB' }, sink: { type: 'sqlite', table: 'rows', maxColumns: 4 }, delivery: { maxAttempts: 5, backoff: '10ms', maxBackoff: '50ms' } }), async (app) => {
    const c = app.components.get('c1')!;
    await c.source.publish({ id: 'big', source: 'embedded', subject: 'c1', headers: {}, body: new Uint8Array(2048).fill(0x20) });
    await c.source.publish({ id: 'wide', source: 'embedded', subject: 'c1', headers: {}, body: body('{"a":1,"b":2,"c":3,"d":4,"e":5}\n') });
    await c.source.publish({ id: 'bad-key', source: 'embedded', subject: 'c1', headers: {}, body: body('{"not ok":1}\n') });
    await waitUntil('three dead letters', () => app.deadLetters.count('c1') === 3);
    const byId = new Map(app.deadLetters.list({ component: 'c1' }).map((d) => [d.event.id, d]));
    assert.equal(byId.get('big')!.error.kind, 'input-limit');
    assert.match(byId.get('big')!.reason, /event body of 2048 bytes is above the stdin limit of 1024 bytes \(limits\.maxStdin\)/);
    assert.equal(byId.get('wide')!.error.kind, 'output');
    assert.match(byId.get('wide')!.reason, /above its cap of 4 \(sink\.maxColumns\)/);
    assert.equal(byId.get('bad-key')!.error.kind, 'output');
    for (const d of byId.values()) assert.equal(d.event.attempt, 1, `${d.event.id} not retried`);
    assert.equal(c.state().counters.retried, 0);
  });
  fs.rmSync(dir, { recursive: true, force: true });
});
