import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startApp } from '../../src/app/app.js';
import { oneComponent, tempDir, waitUntil } from '../app/helpers.js';

const body = (s: string) => new TextEncoder().encode(s);

test('a running app logs every scaling decision at info: "c1: 0 → 1 (ScalerActive: embedded 1 > activation 0)"', async (t) => {
  const dir = tempDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const lines: Array<{ level: number; msg: string; from?: number; to?: number; reason?: string }> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      done();
    },
  });
  const app = await startApp(oneComponent(dir, {}), { log: pino({ level: 'info' }, sink) });
  try {
    const c = app.components.get('c1')!;
    await c.source.publish({ id: 'e1', source: 'embedded', subject: 'c1', headers: {}, body: body('{"n":1}\n') });
    await waitUntil('processed', () => c.state().counters.processed === 1);
    await waitUntil('back to zero and logged', () => lines.some((l) => /^c1: \d+ → 0 /.test(l.msg)), 30_000);
  } finally {
    await app.close();
  }
  const decisions = lines.filter((l) => l.msg.startsWith('c1: '));
  const up = decisions.find((l) => l.msg.startsWith('c1: 0 → 1'))!;
  assert.ok(up, JSON.stringify(decisions));
  assert.equal(up.level, 30, 'info');
  assert.equal(up.msg, 'c1: 0 → 1 (ScalerActive: embedded 1 > activation 0)');
  assert.deepEqual([up.from, up.to], [0, 1]);
  assert.match(decisions.at(-1)!.msg, /^c1: 1 → 0 \(ScalerNotActive: to zero\)$/);
});
