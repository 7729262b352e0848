import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openQueue } from '../../src/sources/embedded/index.js';
import { parseManifest } from '../../src/app/manifest.js';
import { oneComponent, tempDir, waitUntil, withApp, guest } from './helpers.js';
import { spawnCli, runCli } from '../helpers/cli.js';

const body = (s: string) => new TextEncoder().encode(s);

test('embedded: 1,000 events through the echo guest give exactly 1,000 rows, lag back to 0', async () => {
  const dir = tempDir();
  await withApp(oneComponent(dir, {}), async (app) => {
    const c = app.components.get('c1')!;
    for (let i = 0; i < 1000; i++) await c.source.publish({ id: `e${i}`, source: 'embedded', subject: 'c1', headers: {}, body: body(`{"n":${i}}\n`) });
    await waitUntil('1,000 processed', () => c.state().counters.processed === 1000);
    const { total, rows } = await c.sink.rows!({ limit: 1000, offset: 0 });
    assert.equal(total, 1000);
    assert.deepEqual(new Set(rows.map((r) => r.n)).size, 1000);
    assert.ok(rows.every((r) => r.record_index === 0 && typeof r.event_id === 'string'));
    await waitUntil('lag 0', async () => (await c.source.lag()).lag === 0);
    assert.ok(c.state().counters.peakReplicas >= 1, 'the scaler raised replicas from zero');
    await waitUntil('replicas back to 0 after the cooldown', () => c.state().replicas.current === 0, 30_000);
  });
  fs.rmSync(dir, { recursive: true, force: true });
});

test('output that is not NDJSON can only fail again: dead-lettered on the first attempt with its reason; good events still land', async () => {
  const dir = tempDir();
  await withApp(oneComponent(dir, {}), async (app) => {
    const c = app.components.get('c1')!;
    await c.source.publish({ id: 'bad', source: 'embedded', subject: 'c1', headers: {}, body: body('not json\n') });
    await c.source.publish({ id: 'good', source: 'embedded', subject: 'c1', headers: {}, body: body('{"ok":true}\n') });
    await waitUntil('the bad event dead-lettered', () => app.deadLetters.count('c1') === 1);
    const [dl] = app.deadLetters.list({ component: 'c1' });
    assert.equal(dl!.event.id, 'bad');
    assert.equal(dl!.event.attempt, 1, 'not retried: the same output would fail the same way');
    assert.match(dl!.reason, /^output: guest output line 1 is not JSON/);
    assert.equal(c.state().counters.retried, 0);
    await waitUntil('the good event committed', () => c.state().counters.processed === 1);
    assert.equal((await c.sink.rows!({ limit: 10, offset: 0 })).total, 1);
    // retry puts it back on the source; it fails again and returns to the store
    await app.retryDeadLetter(dl!.id);
    assert.equal(app.deadLetters.get(dl!.id), undefined);
    await waitUntil('dead-lettered again after the retry', () => app.deadLetters.count('c1') === 1);
  });
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a guest that exits non-zero is dead-lettered with its exit code and stderr tail', async () => {
  const dir = tempDir();
  await withApp(oneComponent(dir, { module: guest('fail') }), async (app) => {
    const c = app.components.get('c1')!;
    await c.source.publish({ id: 'f1', source: 'embedded', subject: 'c1', headers: {}, body: body('x') });
    await waitUntil('dead-lettered', () => app.deadLetters.count('c1') === 1);
    const [dl] = app.deadLetters.list({ component: 'c1' });
    assert.equal(dl!.error.kind, 'exit');
    assert.equal((dl!.error as { exitCode?: number }).exitCode, 3);
    assert.ok(dl!.stderrTail.length > 0, 'stderr tail kept');
    assert.equal((await c.sink.rows!({ limit: 10, offset: 0 })).total, 0, 'nothing written for a failed event');
  });
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a timeout nacks the event and the component keeps serving', async () => {
  const dir = tempDir();
  await withApp(oneComponent(dir, { module: guest('loop'), limits: { timeout: '100ms' }, delivery: { maxAttempts: 1 } }), async (app) => {
    const c = app.components.get('c1')!;
    await c.source.publish({ id: 't1', source: 'embedded', subject: 'c1', headers: {}, body: body('') });
    await waitUntil('dead-lettered', () => app.deadLetters.count('c1') === 1);
    assert.equal(app.deadLetters.list({ component: 'c1' })[0]!.error.kind, 'timeout');
  });
  fs.rmSync(dir, { recursive: true, force: true });
});

test('manifest errors name the field and what is allowed', async () => {
  const dir = tempDir();
  assert.throws(() => oneComponent(dir, { trigger: { type: 'kafkaa' } }), /components\[0\]\.trigger\.type: unknown trigger "kafkaa" \(allowed: .*embedded/);
  assert.throws(() => oneComponent(dir, { trigger: { type: 'constructor' } }), /components\[0\]\.trigger\.type: unknown trigger "constructor" \(allowed: .*embedded/);
  assert.throws(() => oneComponent(dir, { sink: { type: 'toString' } }), /components\[0\]\.sink\.type: unknown sink "toString" \(allowed: .*sqlite/);
  assert.throws(() => oneComponent(dir, { trigger: { type: 'smtp', metadata: { listn: 'x' } } }), /components\[0\]\.trigger\.metadata: unknown field "listn" \(allowed: .*listen/);
  assert.throws(() => oneComponent(dir, { limits: { timeout: 'soon' } }), /components\[0\]\.limits\.timeout: invalid duration "soon"/);
  assert.throws(() => oneComponent(dir, { scaling: { maxReplicaCount: 0 } }), /components\[0\]\.scaling\.maxReplicaCount/);
  assert.throws(() => oneComponent(dir, { sink: { type: 'sqlite', tabel: 'x' } }), /components\[0\]\.sink: unknown field "tabel"/);
  assert.throws(() => oneComponent(dir, { colour: 'red' }), /components\[0\]: unknown field "colour" \(allowed: name, module/);
  const file = path.join(dir, 'bad.yaml');
  fs.writeFileSync(file, 'apiVersion: featherweight.dev/v1\nkind: App\nmetadata: {name: x}\ncomponents: [{name: Bad_Name, module: x.wasm}]\n');
  const r = await runCli(['validate', file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /components\[0\]\.name: a DNS-1123 label/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('kill -9 of `featherweight up` mid-stream, then a restart: nothing lost, nothing duplicated', async () => {
  const dir = tempDir();
  const manifest = path.join(dir, 'featherweight.yaml');
  fs.writeFileSync(
    manifest,
    [
      'apiVersion: featherweight.dev/v1',
      'kind: App',
      'metadata: { name: kill-test }',
      `dataDir: ${dir}`,
      'server: { listen: "127.0.0.1:0" }',
      'components:',
      '  - name: c1',
      `    module: ${guest('echo')}`,
      '    limits: { timeout: 1s }',
      '    trigger: { type: embedded, metadata: { visibilityTimeout: 2s } }',
      '    scaling: { pollingInterval: 1, cooldownPeriod: 1, minReplicaCount: 0, maxReplicaCount: 1 }',
      '    sink: { type: sqlite, table: rows }',
    ].join('\n'),
  );
  const total = 2000;
  const q = openQueue(dir);
  for (let i = 0; i < total; i++) q.send('c1', { id: `k${i}`, body: body(`{"n":${i}}\n`) });
  q.close();
  const rowsDb = path.join(dir, 'rows.db');
  const count = () => {
    if (!fs.existsSync(rowsDb)) return 0;
    const db = new Database(rowsDb, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'rows'").get() as { n: number }).n
        ? (db.prepare('SELECT COUNT(*) AS n FROM rows').get() as { n: number }).n
        : 0;
    } finally {
      db.close();
    }
  };
  const first = spawnCli(['up', manifest], { env: { ...process.env, FEATHERWEIGHT_LOG_LEVEL: 'warn' } });
  await waitUntil('the first process to commit some rows', () => count() > 0, 120_000);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  const atKill = count();
  const second = spawnCli(['up', manifest], { env: { ...process.env, FEATHERWEIGHT_LOG_LEVEL: 'warn' } });
  try {
    await waitUntil(`all ${total} rows after the restart`, () => count() >= total, 180_000);
  } finally {
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));
  }
  const db = new Database(rowsDb, { readonly: true });
  const { n, d: distinct } = db.prepare('SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS d FROM rows').get() as { n: number; d: number };
  db.close();
  assert.ok(atKill < total, `the kill landed mid-stream (${atKill} of ${total} committed)`);
  assert.equal(n, total, 'nothing lost');
  assert.equal(distinct, total, 'nothing duplicated');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a visibility timeout shorter than the event timeout is refused (it would redeliver running events)', () => {
  const dir = tempDir();
  assert.throws(
    () => oneComponent(dir, { limits: { timeout: '10s' }, trigger: { type: 'embedded', metadata: { visibilityTimeout: '5s' } } }),
    /components\[0\]\.trigger\.metadata\.visibilityTimeout: 5s must be longer than limits\.timeout/,
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a broker that is down at start: the error names the component, the trigger and its address (credentials masked)', async () => {
  const dir = tempDir();
  await assert.rejects(
    withApp(oneComponent(dir, { trigger: { type: 'nats-jetstream', metadata: { servers: 'nats://127.0.0.1:1', stream: 's', consumer: 'c', subject: 'x' } } }), async () => undefined),
    /^Error: component c1: its nats-jetstream trigger could not start \(servers nats:\/\/127\.0\.0\.1:1\): /,
  );
  await assert.rejects(
    withApp(oneComponent(dir, { trigger: { type: 'rabbitmq', metadata: { host: 'amqp://guest:secret@127.0.0.1:1/', queueName: 'q' } } }), async () => undefined),
    (err: Error) => /^component c1: its rabbitmq trigger could not start \(host amqp:\/\/\*\*\*@127\.0\.0\.1:1\/\): .*ECONNREFUSED/.test(err.message) && !err.message.includes('secret'),
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

test('grants.env takes names, NAME: value pairs, or both mixed in one list; a bad entry is named', () => {
  const dir = tempDir();
  const env = { FW_TEST_HOME: '/home/fw' };
  fs.writeFileSync(path.join(dir, 'x.wasm'), ''); // validation checks the module exists
  const parse = (grantsEnv: unknown) =>
    parseManifest(
      { apiVersion: 'featherweight.dev/v1', kind: 'App', metadata: { name: 't' }, components: [{ name: 'c1', module: 'x.wasm', grants: { env: grantsEnv } }] },
      { baseDir: dir, env },
    ).components[0]!.grants.env;
  assert.deepEqual(parse(['FW_TEST_HOME', { LOG_LEVEL: 'debug' }]), { FW_TEST_HOME: '/home/fw', LOG_LEVEL: 'debug' });
  assert.deepEqual(parse({ A: 'b' }), { A: 'b' });
  assert.deepEqual(parse(['FW_TEST_HOME']), { FW_TEST_HOME: '/home/fw' });
  assert.throws(() => parse(['FW_TEST_HOME', { X: 1 }]), /grants\.env\[1\]\.X: the value must be a string: quote it \(X: "1"\)/);
  assert.throws(() => parse(['FW_TEST_HOME', 3]), /grants\.env\[1\]: 3 is neither a host variable name nor a NAME: value pair/);
  assert.throws(() => parse('HOME'), /grants\.env: expected a list of host variable names and NAME: value pairs/);
  assert.throws(() => parse(['NOT_SET_ANYWHERE_FW']), /grants\.env: host variable NOT_SET_ANYWHERE_FW is not set/);
  fs.rmSync(dir, { recursive: true, force: true });
});
