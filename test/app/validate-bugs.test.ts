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
