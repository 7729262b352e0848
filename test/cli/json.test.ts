// --json on every command that prints data: one JSON document on stdout; errors stay one line on stderr.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { openDeadLetters } from '../../src/sources/dead-letters.js';
import { runCli, repoRoot, type CliResult } from '../helpers/cli.js';
import { requireRegistry, startRegistry } from '../oci/registry.js';

const guest = (name: string) => path.join(repoRoot, 'guests/build', `${name}.wasm`);

/** The whole of stdout is one JSON document. */
function json(r: CliResult): unknown {
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** An error under --json: nothing on stdout, one `featherweight: ...` line on stderr. */
function jsonError(r: CliResult, code: number, line: RegExp): void {
  assert.equal(r.code, code, r.stderr);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, line);
}

/** An app whose module is not built yet (module: ./build/handler.wasm does not exist). */
function unbuiltApp(dir: string): string {
  const file = path.join(dir, 'featherweight.yaml');
  fs.writeFileSync(file, `apiVersion: featherweight.dev/v1
kind: App
metadata: { name: unbuilt }
dataDir: ./state
components:
  - name: mail-lines
    module: ./build/handler.wasm
    build: "false"
    trigger: { type: embedded }
    sink: { type: sqlite, table: lines }
`);
  return file;
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'fw-json-'));

test('queue send|stats and dlq list|retry|drop --json; all of them work while the module is not built', { timeout: 180_000 }, async () => {
  const dir = tmp();
  try {
    const manifest = unbuiltApp(dir);
    const opts = { cwd: dir };
    // validate still says the module is missing: the state commands only look past that.
    const v = await runCli(['validate', manifest], opts);
    assert.equal(v.code, 1);
    assert.match(v.stderr, /components\[0\]\.module: no such file/);

    const sent = json(await runCli(['queue', 'send', '--body', 'hello', '--id', 'ev-1', '--json'], opts)) as Record<string, unknown>;
    assert.deepEqual(sent, { id: 'ev-1', queue: 'mail-lines', dataDir: path.join(dir, 'state'), bytes: 5 });
    const plain = await runCli(['queue', 'send', '--body', 'again'], opts);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /^\S+\n$/, 'without --json: just the id');

    const stats = json(await runCli(['queue', 'stats', '--json'], opts)) as Array<{ queue: string; ready: number }>;
    assert.deepEqual(stats.map((s) => [s.queue, s.ready]), [['mail-lines', 2]]);

    const store = openDeadLetters(path.join(dir, 'state'));
    const event = { id: 'ev-dead', source: 'embedded', subject: 'mail-lines', headers: {}, body: new TextEncoder().encode('x'), attempt: 3, enqueuedAt: Date.now() };
    const retryId = store.add({ component: 'mail-lines', event, reason: 'trap: unreachable', error: { kind: 'trap', message: 'unreachable' }, stderrTail: '' });
    const dropId = store.add({ component: 'mail-lines', event: { ...event, id: 'ev-dead-2' }, reason: 'trap: unreachable', error: { kind: 'trap', message: 'unreachable' }, stderrTail: '' });
    store.close();

    const list = json(await runCli(['dlq', 'list', '--json'], opts)) as Array<{ id: string }>;
    assert.deepEqual(list.map((d) => d.id).sort(), [retryId, dropId].sort());
    const retried = json(await runCli(['dlq', 'retry', retryId, '--json'], opts));
    assert.deepEqual(retried, { id: retryId, retried: true, component: 'mail-lines', event: 'ev-dead', to: 'mail-lines', via: 'embedded' });
    const dropped = json(await runCli(['dlq', 'drop', dropId, '--json'], opts));
    assert.deepEqual(dropped, { id: dropId, dropped: true });
    assert.deepEqual(json(await runCli(['dlq', 'list', '--json'], opts)), []);
    const after = json(await runCli(['queue', 'stats', '--json'], opts)) as Array<{ queue: string; ready: number }>;
    assert.deepEqual(after.map((s) => [s.queue, s.ready]), [['mail-lines', 3]], 'the retried event is back on the queue');

    jsonError(await runCli(['dlq', 'drop', 'dl-nope', '--json'], opts), 1, /^featherweight: no dead letter with id dl-nope in .*state/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a manifest with a problem besides a missing module is still an error for the state commands', { timeout: 60_000 }, async () => {
  const dir = tmp();
  try {
    const manifest = unbuiltApp(dir);
    fs.writeFileSync(manifest, fs.readFileSync(manifest, 'utf8').replace('type: sqlite', 'type: sqlight'));
    const r = await runCli(['queue', 'stats', '--json'], { cwd: dir });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /unknown sink "sqlight"/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('call --json: the export, its arguments and results; a trap is still one line and its exit code', { timeout: 60_000 }, async () => {
  assert.deepEqual(json(await runCli(['call', guest('add'), 'add', '2', '3', '--json'])), { module: guest('add'), export: 'add', args: [2, 3], results: [5] });
  jsonError(await runCli(['call', guest('add'), 'nope', '--json']), 125, /^featherweight: invalid-module: .*nope/);
});

test('new and build --json', { timeout: 120_000 }, async () => {
  const dir = tmp();
  try {
    const created = json(await runCli(['new', 'hello-json', '--dir', path.join(dir, 'hello'), '--json'])) as { dir: string; files: string[]; next: string[]; lang: string };
    assert.equal(created.dir, path.join(dir, 'hello'));
    assert.equal(created.lang, 'assemblyscript');
    assert.ok(created.files.includes('featherweight.yaml'), created.files.join(', '));
    assert.equal(created.next.at(-2), 'npm run up');

    const manifest = path.join(dir, 'featherweight.yaml');
    fs.writeFileSync(manifest, `apiVersion: featherweight.dev/v1
kind: App
metadata: { name: built }
components:
  - name: echo
    module: ./out.wasm
    build: "echo compiling; cp ${guest('echo')} out.wasm"
    trigger: { type: embedded }
    sink: { type: sqlite, table: echo }
`);
    const r = await runCli(['build', '-f', manifest, '--json'], { cwd: dir });
    assert.deepEqual(json(r), { manifest, built: [{ name: 'echo', build: `echo compiling; cp ${guest('echo')} out.wasm`, module: path.join(dir, 'out.wasm') }] });
    assert.match(r.stderr, /^compiling$/m, "the build's own output went to stderr");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('mail send|burst --json', { timeout: 120_000 }, async () => {
  let received = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _s, cb) {
      cb(address.address.startsWith('nobody@') ? Object.assign(new Error('5.1.1 no such user'), { responseCode: 550 }) : undefined);
    },
    onData(stream, _s, cb) {
      stream.resume();
      stream.on('end', () => {
        received++;
        cb();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = `127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  try {
    const sent = json(await runCli(['mail', 'send', '--server', address, '--to', 'a@example.test', '--json'])) as Record<string, unknown>;
    assert.equal(sent.server, address);
    assert.deepEqual(sent.accepted, ['a@example.test']);
    assert.deepEqual(sent.rejected, []);
    assert.match(String(sent.response), /^250/);

    const burst = json(await runCli(['mail', 'burst', '--server', address, '--count', '3', '--rate', '0', '--json'])) as Record<string, unknown>;
    assert.equal(burst.sent, 3);
    assert.equal(burst.failed, 0);
    assert.deepEqual(burst.failures, []);
    assert.equal(typeof burst.expectedRows, 'number');
    assert.equal(received, 4);

    jsonError(await runCli(['mail', 'send', '--server', address, '--to', 'nobody@example.test', '--json']), 1, /^featherweight: mail refused by .*no such user/);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('oci push|pull --json', { timeout: 120_000 }, async (t) => {
  if (!requireRegistry(t)) return;
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const dir = tmp();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ref = `${reg.address}/json/echo:v1`;
  const pushed = json(await runCli(['oci', 'push', guest('echo'), ref, '--json'])) as { digest: string; module: string; layer: { size: number; digest: string } };
  assert.match(pushed.digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(pushed.module, `oci://${reg.address}/json/echo@${pushed.digest}`);
  assert.equal(pushed.layer.size, fs.statSync(guest('echo')).size);

  const out = path.join(dir, 'pulled.wasm');
  const pulled = json(await runCli(['oci', 'pull', ref, '-o', out, '--json'])) as Record<string, unknown>;
  assert.deepEqual(pulled, { ref, digest: pushed.layer.digest, manifestDigest: pushed.digest, output: out, bytes: fs.statSync(guest('echo')).size });
  assert.deepEqual(fs.readFileSync(out), fs.readFileSync(guest('echo')));
  jsonError(await runCli(['oci', 'pull', ref, '-o', '-', '--json']), 1, /^featherweight: --json and -o - both want stdout/);
});

test('demo --once --json: the summary as one document, the progress on stderr', { timeout: 180_000 }, async () => {
  const dir = tmp();
  try {
    const r = await runCli(['demo', '--once', '--json', '--count', '10', '--listen', '127.0.0.1:0', '--smtp', '127.0.0.1:0', '--data-dir', dir]);
    const summary = json(r) as { mails: { accepted: number; refused: number }; rows: { inSink: number; expected: number }; replicas: { peak: number; backToZero: boolean }; lost: boolean; allRowsAfterMs: number | null };
    assert.deepEqual(summary.mails, { count: 10, accepted: 10, refused: 0 });
    assert.equal(summary.rows.inSink, summary.rows.expected);
    assert.ok(summary.rows.expected > 0);
    assert.equal(summary.replicas.backToZero, true);
    assert.ok(summary.replicas.peak >= 1);
    assert.equal(summary.lost, false);
    assert.equal(typeof summary.allRowsAfterMs, 'number');
    assert.match(r.stderr, /You got Mail!/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
