/** `featherweight up --only`: one part of an app per process; a wrong name is a clear error. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { parseManifest } from '../../src/app/manifest.js';
import { selectComponents } from '../../src/app/app.js';
import { runCli } from '../helpers/cli.js';
import { guest, tempDir } from './helpers.js';

const doc = (dir: string) => ({
  apiVersion: 'featherweight.dev/v1',
  kind: 'App',
  metadata: { name: 'two' },
  dataDir: dir,
  components: [
    { name: 'a', module: guest('echo'), trigger: { type: 'embedded' } },
    { name: 'b', module: guest('echo'), trigger: { type: 'embedded' } },
  ],
});

test('selectComponents keeps the named components only and names the known ones for a typo', () => {
  const dir = tempDir();
  const app = parseManifest(doc(dir), { baseDir: dir });
  assert.deepEqual(selectComponents(app, ['b']).components.map((c) => c.name), ['b']);
  assert.deepEqual(selectComponents(app, [' a', 'b ', 'a']).components.map((c) => c.name), ['a', 'b']);
  assert.throws(() => selectComponents(app, ['c']), /--only: no component or proxy named "c" in app two \(it has: a, b\)/);
  assert.throws(() => selectComponents(app, ['', ' ']), /--only needs at least one component name \(this app has: a, b\)/);
});

test('up --only with an unknown component exits 1 with the message', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'featherweight.yaml');
  fs.writeFileSync(file, stringify(doc(dir)));
  const r = await runCli(['up', file, '--only', 'worker', '--listen', '127.0.0.1:0']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--only: no component or proxy named "worker" in app two \(it has: a, b\)/);
});
