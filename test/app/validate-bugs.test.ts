import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseManifest } from '../../src/app/manifest.js';
import { resolveScaling } from '../../src/app/scaling.js';
import { renderApp, readRawManifest } from '../../src/kube/render.js';
import { triggerTarget } from '../../src/scaling/index.js';
import { guest, tempDir } from './helpers.js';

const doc = (component: Record<string, unknown>) => ({
  apiVersion: 'featherweight.dev/v1',
  kind: 'App',
  metadata: { name: 'bugs' },
  components: [{ name: 'tick', module: guest('echo'), ...component }],
});

test('a cron source is featherweight\'s cron (scales on its queue\'s backlog), not KEDA\'s cron scaler (issue 12)', () => {
  const dir = tempDir();
  const app = parseManifest(doc({ trigger: { type: 'cron', metadata: { schedule: '* * * * * *', lagThreshold: '3' } } }), { baseDir: dir });
  const spec = resolveScaling(app.components[0]!);
  assert.equal(spec.triggers.length, 1);
  assert.equal(spec.triggers[0]!.type, 'cron-source', 'the own trigger uses the queue-lag rule');
  assert.equal(triggerTarget(spec.triggers[0]!).target, 3, 'lagThreshold is its target, as for every queue trigger');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a cron source beside an extra KEDA cron window keeps both apart, in-process and rendered (issue 12)', () => {
  const dir = tempDir();
  fs.copyFileSync(guest('echo'), path.join(dir, 'h.wasm'));
  const file = path.join(dir, 'featherweight.yaml');
  fs.writeFileSync(
    file,
    JSON.stringify(
      doc({
        module: 'h.wasm',
        trigger: { type: 'cron', metadata: { schedule: '*/5 * * * * *' } },
        scaling: { triggers: [{ type: 'cron', metadata: { timezone: 'UTC', start: '0 8 * * *', end: '0 18 * * *', desiredReplicas: '2' } }] },
      }),
    ),
  );
  const app = parseManifest(JSON.parse(fs.readFileSync(file, 'utf8')), { baseDir: dir });
  const spec = resolveScaling(app.components[0]!);
  assert.deepEqual(spec.triggers.map((t) => t.type), ['cron-source', 'cron'], 'the listed cron is an extra KEDA window, never a refinement of the cron source');
  const so = renderApp(app, { rawDoc: readRawManifest(file) }).find((o) => o.kind === 'ScaledObject') as { spec: { triggers: Array<{ type: string; metadata: Record<string, string> }> } };
  assert.deepEqual(so.spec.triggers.map((t) => t.type), ['external-push', 'cron']);
  assert.equal(so.spec.triggers[1]!.metadata.start, '0 8 * * *');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a KEDA cron trigger needs its window keys only as an extra scaling trigger', () => {
  const dir = tempDir();
  assert.throws(
    () => parseManifest(doc({ scaling: { triggers: [{ type: 'cron', metadata: { start: '0 8 * * *' } }] } }), { baseDir: dir }),
    /components\[0\]\.scaling\.triggers\[1\]\.metadata\.timezone: required/,
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

test('validate refuses what up would refuse, every problem at once with its path (issue 12)', () => {
  const dir = tempDir();
  const m = guest('echo');
  const bad = {
    apiVersion: 'featherweight.dev/v1',
    kind: 'App',
    metadata: { name: 'bad' },
    components: [
      { name: 'mail', module: m, trigger: { type: 'smtp', metadata: { listen: 'nonsense', authUsers: 'nocolon', tlsKey: path.join(dir, 'k.pem') } } },
      { name: 'tick', module: m, trigger: { type: 'cron', metadata: { schedule: '* * *' } } },
      { name: 'nats', module: m, trigger: { type: 'nats-jetstream', metadata: { stream: 's', ackWait: '10ms' } } },
      { name: 'gone', module: path.join(dir, 'missing.wasm') },
      { name: 'tls', module: m, trigger: { type: 'smtp', metadata: { tlsKey: path.join(dir, 'no-key.pem'), tlsCert: path.join(dir, 'no-cert.pem') } } },
    ],
  };
  let problems: string[] = [];
  try {
    parseManifest(bad, { baseDir: dir });
  } catch (err) {
    problems = (err as { problems?: string[] }).problems ?? [];
  }
  const expected = [
    /^components\[0\]\.trigger\.metadata\.listen: "nonsense": use host:port/,
    /^components\[0\]\.trigger\.metadata\.authUsers: "nocolon" is not user:password/,
    /^components\[0\]\.trigger\.metadata\.tlsCert: tlsKey and tlsCert go together/,
    /^components\[1\]\.trigger\.metadata\.schedule: "\* \* \*" has 3 fields: use 5/,
    /^components\[2\]\.trigger\.metadata\.ackWait: must be at least 1s \(got 10ms\)/,
    /^components\[3\]\.module: no such file .*missing\.wasm/,
    /^components\[4\]\.trigger\.metadata\.tlsKey: no such file .*no-key\.pem/,
    /^components\[4\]\.trigger\.metadata\.tlsCert: no such file .*no-cert\.pem/,
  ];
  for (const re of expected) assert.ok(problems.some((p) => re.test(p)), `${re} in:\n${problems.join('\n')}`);
  assert.equal(problems.length, expected.length, problems.join('\n'));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a misspelled key gets "did you mean"', () => {
  const dir = tempDir();
  assert.throws(
    () => parseManifest(doc({ trigger: { type: 'smtp', metadata: { listn: '127.0.0.1:2525' } } }), { baseDir: dir }),
    /components\[0\]\.trigger\.metadata: unknown field "listn" \(allowed: .*\); did you mean "listen" for "listn"\?/,
  );
  assert.throws(() => parseManifest({ ...doc({}), components: [{ name: 'x', module: guest('echo'), limts: {} }] }, { baseDir: dir }), /did you mean "limits"/);
  fs.rmSync(dir, { recursive: true, force: true });
});
