import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers/cli.js';
import { cliCommand } from '../../src/cli/invocation.js';
import { cliReference, scaffold } from '../../src/cli/commands/new.js';

const bin = path.join(repoRoot, 'bin/featherweight.js');

test('cliCommand: `featherweight` only when that name on PATH is this CLI, else node <bin>', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-path-'));
  try {
    assert.equal(cliCommand({ PATH: dir }, repoRoot), 'node bin/featherweight.js');
    // Elsewhere: node and a path to this bin that works from there (relative when short, e.g. both under /tmp).
    const elsewhere = cliCommand({ PATH: dir }, dir);
    assert.match(elsewhere, /^node /);
    assert.equal(path.resolve(dir, elsewhere.slice('node '.length)), bin);
    fs.writeFileSync(path.join(dir, 'featherweight'), '#!/bin/sh\necho another one\n', { mode: 0o755 });
    assert.equal(cliCommand({ PATH: dir }, repoRoot), 'node bin/featherweight.js', 'an unrelated featherweight is not ours');
    fs.rmSync(path.join(dir, 'featherweight'));
    fs.symlinkSync(bin, path.join(dir, 'featherweight')); // what `npm link` makes
    assert.equal(cliCommand({ PATH: dir }, repoRoot), 'featherweight');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('cliReference: a checkout is called by path, an installed package becomes a dependency', () => {
  assert.deepEqual(cliReference(repoRoot), { command: `node ${JSON.stringify(bin)}` });
  const installed = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-inst-'));
  try {
    const root = path.join(installed, 'node_modules', 'featherweight-wasm');
    fs.mkdirSync(root, { recursive: true });
    fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'featherweight-wasm', version: '1.2.3' }));
    assert.deepEqual(cliReference(root), { command: 'featherweight', dependency: ['featherweight-wasm', '^1.2.3'] });
  } finally {
    fs.rmSync(installed, { recursive: true, force: true });
  }
});

test('a scaffold\'s npm scripts reach this CLI without it on PATH (npm run validate works as printed)', { skip: !fs.existsSync(path.join(repoRoot, 'dist/cli/bin.js')) && 'dist/ is not built' }, () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-scaf-'));
  try {
    for (const lang of ['assemblyscript', 'c'] as const) {
      const dir = path.join(parent, `s-${lang}`);
      scaffold({ name: `s-${lang}`, lang, dir });
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
      assert.equal(pkg.scripts.up, `node ${JSON.stringify(bin)} up`);
      // Built module missing: validate must run (the CLI was found) and say so, not "featherweight: not found".
      const env = { ...process.env, PATH: path.dirname(process.execPath) + path.delimiter + '/usr/bin:/bin' };
      const r = spawnSync('npm', ['run', '--silent', 'validate'], { cwd: dir, env, encoding: 'utf8' });
      assert.doesNotMatch(r.stderr, /not found/);
      assert.match(`${r.stdout}${r.stderr}`, new RegExp(`valid \\(app s-${lang}|build/s-${lang}\\.wasm`));
    }
  } finally {
    fs.rmSync(parent, { recursive: true, force: true });
  }
});
