import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, runCli } from '../helpers/cli.js';

function app(dir: string, build: string): string {
  const file = path.join(dir, 'featherweight.yaml');
  fs.writeFileSync(file, `apiVersion: featherweight.dev/v1
kind: App
metadata: { name: b }
components:
  - name: echo
    module: build/echo.wasm
    build: ${JSON.stringify(build)}
    trigger: { type: embedded }
    sink: { type: sqlite, table: echo }
  - name: prebuilt
    module: ${JSON.stringify(path.join(repoRoot, 'guests/build/noop.wasm'))}
    trigger: { type: embedded }
`);
  return file;
}

test('build runs each component\'s build command in the manifest folder and checks the module appeared', { timeout: 300_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-build-'));
  const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-build-cwd-'));
  try {
    const src = path.join(repoRoot, 'guests/build/echo.wasm');
    const file = app(dir, `mkdir -p build && cp ${JSON.stringify(src)} build/echo.wasm`);
    const ok = await runCli(['build', '-f', file], { cwd: elsewhere });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /building echo: mkdir -p build/);
    assert.match(ok.stderr, /built echo\n$/);
    assert.ok(fs.existsSync(path.join(dir, 'build/echo.wasm')), 'built in the manifest folder');
    assert.deepEqual(fs.readdirSync(elsewhere), []);

    const named = await runCli(['build', '-f', file, 'prebuilt']);
    assert.equal(named.code, 1);
    assert.match(named.stderr, /component prebuilt has no build command: add build:/);

    app(dir, 'echo compiling; exit 3');
    const failed = await runCli(['build', '-f', file]);
    assert.equal(failed.code, 1);
    assert.match(failed.stdout, /compiling/);
    assert.match(failed.stderr, /build of echo failed \(exit code 3\): echo compiling; exit 3/);

    fs.rmSync(path.join(dir, 'build'), { recursive: true });
    app(dir, 'true');
    const missing = await runCli(['build', '-f', file]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /succeeded but its module build\/echo\.wasm does not exist/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(elsewhere, { recursive: true, force: true });
  }
});
