import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { repoRoot, runCli } from '../helpers/cli.js';

test('validate --json prints the app, its resolved data dir and components', { timeout: 120_000 }, async () => {
  const file = path.join(repoRoot, 'examples/you-got-mail/featherweight.yaml');
  const r = await runCli(['validate', '--json', file]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { valid: boolean; app: string; dataDir: string; components: Array<{ name: string; trigger: string; sink: string }> };
  assert.equal(out.valid, true);
  assert.equal(out.app, 'you-got-mail');
  assert.equal(out.dataDir, path.join(repoRoot, '.featherweight/you-got-mail'));
  assert.deepEqual(out.components.map((c) => [c.name, c.trigger, c.sink]), [['mail-lines', 'smtp', 'sqlite']]);
});
