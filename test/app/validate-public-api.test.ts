import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/cli.js';
import { guest, tempDir } from './helpers.js';

// The package as an embedder sees it: its name resolved through package.json's "exports" (Node
// resolves a package's own name from inside it), so this fails when "." points at a missing file.
test('import of the package by its name gives the public API: validate a manifest, run one module', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { name: string; exports: Record<string, string> };
  assert.deepEqual(Object.keys(pkg.exports).sort(), ['.', './scaling']);
  assert.ok(fs.existsSync(path.join(repoRoot, pkg.exports['.']!)), `${pkg.exports['.']} exists (npm run build)`);
  const dir = tempDir();
  const file = path.join(dir, 'featherweight.yaml');
  fs.writeFileSync(file, `apiVersion: featherweight.dev/v1\nkind: App\nmetadata: {name: api}\ncomponents: [{name: c1, module: ${JSON.stringify(guest('echo'))}, trigger: {type: smtp, metadata: {listen: nonsense}}}]\n`);
  const script = `
    const fw = await import(${JSON.stringify(pkg.name)});
    const r = fw.validateManifest(${JSON.stringify(file)});
    const run = fw.runModule(${JSON.stringify(guest('echo'))}, { stdin: '{"a":1}' });
    console.log(JSON.stringify({ keys: Object.keys(fw).sort(), ok: r.ok, problems: r.problems, run: run.ok, stdout: Buffer.from(run.stdout ?? []).toString() }));
  `;
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8' })) as { keys: string[]; ok: boolean; problems: string[]; run: boolean; stdout: string };
  for (const k of ['loadManifest', 'parseManifest', 'validateManifest', 'startApp', 'runModule', 'ValidationError']) assert.ok(out.keys.includes(k), `exports ${k}`);
  assert.equal(out.ok, false);
  assert.match(out.problems[0]!, /^components\[0\]\.trigger\.metadata\.listen: "nonsense": use host:port/);
  assert.equal(out.run, true);
  assert.match(out.stdout, /a/);
  fs.rmSync(dir, { recursive: true, force: true });
});
