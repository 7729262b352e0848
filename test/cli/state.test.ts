import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { openDeadLetters } from '../../src/sources/dead-letters.js';
import { tinyApp } from './fixtures.js';

const listing = (dir: string) => fs.readdirSync(dir).sort();

test('dlq and queue read the manifest\'s dataDir, and a read never creates a database', { timeout: 900_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-state-'));
  try {
    tinyApp(dir); // dataDir: <dir>/state, one embedded component "echo"
    const state = path.join(dir, 'state');
    // Reads before anything exists: empty answers, and no file appears anywhere.
    const list0 = await runCli(['dlq', 'list'], { cwd: dir });
    assert.deepEqual([list0.code, list0.stdout], [0, `no dead letters in ${state}\n`], list0.stderr);
    const stats0 = await runCli(['queue', 'stats', '--json'], { cwd: dir });
    assert.deepEqual([stats0.code, JSON.parse(stats0.stdout)], [0, []], stats0.stderr);
    const drop0 = await runCli(['dlq', 'drop', 'dl-nope'], { cwd: dir });
    assert.equal(drop0.code, 1);
    assert.match(drop0.stderr, /no dead letter with id dl-nope in .*state/);
    assert.deepEqual(listing(dir), ['featherweight.yaml'], 'no .featherweight/ and no state/ created by a read');

    // One dead letter in the app's store: list finds it from the manifest in the cwd, and from -f elsewhere.
    const store = openDeadLetters(state);
    const id = store.add({
      component: 'echo',
      event: { id: 'ev-1', source: 'embedded', subject: 'echo', headers: {}, body: new Uint8Array([104, 105]), attempt: 3, enqueuedAt: Date.now() },
      reason: 'guest exited with code 1',
      error: { kind: 'exit', message: 'guest exited with code 1', exitCode: 1 },
      stderrTail: 'boom',
    });
    store.close();
    const list1 = await runCli(['dlq', 'list', '--json'], { cwd: dir });
    assert.equal(list1.code, 0, list1.stderr);
    assert.deepEqual((JSON.parse(list1.stdout) as Array<{ id: string }>).map((d) => d.id), [id]);
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-state-cwd-'));
    try {
      const list2 = await runCli(['dlq', 'list', '-f', path.join(dir, 'featherweight.yaml')], { cwd: elsewhere });
      assert.match(list2.stdout, new RegExp(id));
      assert.deepEqual(listing(elsewhere), []);
    } finally {
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }

    // queue send (a write) goes to the manifest's store and picks its only embedded queue.
    const sent = await runCli(['queue', 'send', '--body', 'hello'], { cwd: dir });
    assert.equal(sent.code, 0, sent.stderr);
    const stats1 = await runCli(['queue', 'stats', '--json'], { cwd: dir });
    assert.deepEqual((JSON.parse(stats1.stdout) as Array<{ queue: string; ready: number }>).map((s) => [s.queue, s.ready]), [['echo', 1]]);
    const dropped = await runCli(['dlq', 'drop', id], { cwd: dir });
    assert.deepEqual([dropped.code, dropped.stdout], [0, `dropped ${id}\n`], dropped.stderr);
    assert.deepEqual(listing(dir), ['featherweight.yaml', 'state']);

    // A manifest that does not load is an error naming the way out, not a silent other directory.
    fs.writeFileSync(path.join(dir, 'featherweight.yaml'), 'kind: App\ncomponents: nope\n');
    const broken = await runCli(['dlq', 'list'], { cwd: dir });
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /give --data-dir DIR/);
    const named = await runCli(['dlq', 'list', '--data-dir', state], { cwd: dir });
    assert.deepEqual([named.code, named.stdout], [0, `no dead letters in ${state}\n`], named.stderr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
