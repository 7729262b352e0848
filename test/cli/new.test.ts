import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, runCli, upAndPost } from '../helpers/cli.js';
import { scaffold, type Language } from '../../src/cli/commands/new.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'fw-new-'));
/** The scaffold's own build resolves `asc` from its node_modules; here the repo's copy stands in for `npm install`. */
const buildEnv = { ...process.env, PATH: `${path.join(repoRoot, 'node_modules/.bin')}${path.delimiter}${process.env.PATH}` };

/** Starts `featherweight up` in `dir`, waits for its URL, posts `body`, and waits for its rows. */
test('new --lang assemblyscript: builds, validates and runs under featherweight up', { timeout: 300_000 }, async () => {
  const parent = tmp();
  const dir = path.join(parent, 'hello-lines');
  try {
    const r = await runCli(['new', 'hello-lines', '--dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    for (const f of ['featherweight.yaml', 'package.json', 'src/handler.ts', 'src/wasi.ts', 'README.md', '.gitignore']) {
      assert.ok(fs.existsSync(path.join(dir, f)), `${f} written`);
    }
    assert.doesNotMatch(fs.readFileSync(path.join(dir, 'featherweight.yaml'), 'utf8'), /__[A-Z_]+__/, 'every placeholder replaced');

    const build = spawnSync('npm', ['run', 'build'], { cwd: dir, env: buildEnv, encoding: 'utf8' });
    assert.equal(build.status, 0, build.stderr || build.stdout);
    assert.ok(fs.statSync(path.join(dir, 'build/hello-lines.wasm')).size > 0);

    const v = await runCli(['validate', path.join(dir, 'featherweight.yaml')]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /valid \(app hello-lines, 1 component: hello-lines <- http -> sqlite\)/);

    const rows = await upAndPost(dir, 'hello-lines', 'first "quoted" line\n\n  \ncafé\tthird\r\n');
    const byLine = rows.map((row) => ({ line: row.line, text: row.text, length: row.length })).sort((a, b) => Number(a.line) - Number(b.line));
    assert.deepEqual(byLine, [
      { line: 1, text: 'first "quoted" line', length: 19 },
      { line: 4, text: 'café\tthird', length: 11 },
    ]);
  } finally {
    fs.rmSync(parent, { recursive: true, force: true });
  }
});

function cToolchainMissing(): string | null {
  try {
    execFileSync('clang', ['--version'], { stdio: 'pipe' });
  } catch {
    return 'clang is not installed (apt-get install clang lld)';
  }
  if (!fs.existsSync('/usr/share/wasi-sysroot') && !fs.existsSync('/usr/include/wasm32-wasi')) return 'wasi-libc is not installed (apt-get install wasi-libc)';
  try {
    execFileSync('make', ['--version'], { stdio: 'pipe' });
  } catch {
    return 'make is not installed';
  }
  return null;
}

test('new --lang c: make builds a WASI command that validates and runs', { timeout: 300_000 }, async (t) => {
  const why = cToolchainMissing();
  if (why) {
    if (process.env.CI) throw new Error(`${why} (CI is set, so this fails instead of skipping)`);
    console.log(`# SKIP ${t.name}: ${why}`);
    t.skip(why);
    return;
  }
  const parent = tmp();
  const dir = path.join(parent, 'c-lines');
  try {
    const r = await runCli(['new', 'c-lines', '--lang', 'c', '--trigger', 'embedded', '--dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    const make = spawnSync('make', [], { cwd: dir, encoding: 'utf8' });
    assert.equal(make.status, 0, make.stderr || make.stdout);
    const v = await runCli(['validate', path.join(dir, 'featherweight.yaml')]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /c-lines <- embedded -> sqlite/);
    const rows = await upAndPost(dir, 'c-lines', 'alpha\nbeta "b"\n');
    assert.deepEqual(rows.map((row) => row.text).sort(), ['alpha', 'beta "b"']);
  } finally {
    fs.rmSync(parent, { recursive: true, force: true });
  }
});

test('new refuses a bad name, an unknown language and a folder that is not empty', async () => {
  const parent = tmp();
  try {
    const bad = await runCli(['new', 'Bad_Name', '--dir', path.join(parent, 'x')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /must be a DNS-1123 label/);
    const lang = await runCli(['new', 'ok', '--lang', 'rust', '--dir', path.join(parent, 'y')]);
    assert.equal(lang.code, 1);
    assert.match(lang.stderr, /--lang "rust" is not supported \(use assemblyscript or c or typescript\)/);
    // Names inherited from Object.prototype are unknown too, not a crash further down.
    assert.throws(() => scaffold({ name: 'ok', lang: 'constructor' as Language, dir: path.join(parent, 'p') }), /--lang "constructor" is not supported/);
    assert.throws(() => scaffold({ name: 'ok', lang: 'c', trigger: 'toString' as 'http', dir: path.join(parent, 'p') }), /--trigger "toString" is not supported \(use http or embedded\)/);
    fs.mkdirSync(path.join(parent, 'full'));
    fs.writeFileSync(path.join(parent, 'full/keep.txt'), 'mine');
    const full = await runCli(['new', 'full', '--dir', path.join(parent, 'full')]);
    assert.equal(full.code, 1);
    assert.match(full.stderr, /already exists and is not empty/);
    assert.equal(fs.readFileSync(path.join(parent, 'full/keep.txt'), 'utf8'), 'mine');
  } finally {
    fs.rmSync(parent, { recursive: true, force: true });
  }
});
