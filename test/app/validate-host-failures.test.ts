import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startDispatcher, type Outcome } from '../../src/app/dispatcher.js';
import { create as embedded } from '../../src/sources/embedded/index.js';
import { create as sqlite } from '../../src/sinks/sqlite.js';
import { openDeadLetters } from '../../src/sources/dead-letters.js';
import type { Pool } from '../../src/runtime/pool.js';
import { startServer } from '../../src/server/server.js';
import { oneComponent, quietLog, tempDir, waitUntil, withApp } from './helpers.js';

// Host failures (a closed pool, a thread that cannot start) happen before the guest runs: they must
// not use up the event's attempts, or an event that never ran is dead-lettered (issue 12).
test('host failures are nacked without using an attempt; the event still runs and is never dead-lettered', async () => {
  const dir = tempDir();
  const spec = oneComponent(dir, { delivery: { maxAttempts: 2, backoff: '1ms', maxBackoff: '5ms' } }).components[0]!;
  const source = embedded({}, { component: 'c1', dataDir: dir, prefetch: 1 });
  const sink = sqlite({ type: 'sqlite', table: 'rows' } as never, { dataDir: dir, component: 'c1' });
  const deadLetters = openDeadLetters(dir);
  await sink.start();
  await source.start({ notify() {}, log: quietLog });
  await source.publish({ id: 'e1', source: 'test', subject: 'c1', headers: {}, body: Buffer.from('x') });
  let hostFailuresLeft = 4; // more than maxAttempts
  // Only submit() differs from a real pool: it fails the way a closed pool does, then runs the "guest".
  const pool = {
    replicas: 1,
    async submit() {
      if (hostFailuresLeft-- > 0) throw new Error('pool is closed');
      return { ok: true, exitCode: 0, stdout: Buffer.from('{"n":1}\n'), stderr: new Uint8Array(), durationUs: 1, waitUs: 0, coldStart: false, threadId: 1 };
    },
  } as unknown as Pool;
  const outcomes: Outcome[] = [];
  const d = startDispatcher({ spec, source, sink, pool, deadLetters, log: quietLog, onOutcome: (o) => outcomes.push(o) });
  await waitUntil('the event ran after the host failures', () => outcomes.some((o) => o.kind === 'ok'), 30_000).catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(outcomes)}`); });
  await d.stop();
  assert.deepEqual(outcomes.map((o) => o.kind), ['retry', 'retry', 'retry', 'retry', 'ok']);
  assert.ok(outcomes.slice(0, 4).every((o) => o.kind === 'retry' && o.failure.kind === 'host' && o.attempt === 1), 'every host failure reports attempt 1');
  assert.equal(deadLetters.count('c1'), 0, 'never dead-lettered');
  assert.equal(await sink.count(), 1);
  await source.close();
  await sink.close();
  deadLetters.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a component\'s http maxBody above 10 MiB is what the server enforces, not the server-wide default (issue 12)', async () => {
  const dir = tempDir();
  const m = oneComponent(dir, {
    trigger: { type: 'http', metadata: { maxBody: '12MiB' } },
    limits: { maxStdin: '16MiB' },
  });
  await withApp(m, async (app) => {
    const srv = await startServer(app, { listen: '127.0.0.1:0', log: quietLog });
    const url = `${srv.url.replace(/\/$/, '')}/v1/components/c1/events`;
    try {
      const big = await fetch(url, { method: 'POST', body: Buffer.alloc(11 * 1024 * 1024, 0x61) });
      assert.equal(big.status, 202, await big.clone().text());
      const tooBig = await fetch(url, { method: 'POST', body: Buffer.alloc(12 * 1024 * 1024 + 1, 0x61) });
      assert.equal(tooBig.status, 413);
    } finally {
      await srv.close();
    }
  });
  fs.rmSync(dir, { recursive: true, force: true });
});
