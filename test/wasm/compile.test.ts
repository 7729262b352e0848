import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { GuestError } from '../../src/core/errors.js';
import { compileModule, loadModule } from '../../src/wasm/index.js';
import { guestPath } from './guests.js';

test('compiles once per content digest', () => {
  const bytes = readFileSync(guestPath('noop'));
  const a = compileModule(bytes);
  const b = compileModule(Uint8Array.from(bytes));
  assert.equal(a.module, b.module);
  assert.match(a.digest, /^[0-9a-f]{64}$/);
  const l = loadModule(guestPath('noop'));
  assert.equal(l.module, a.module);
  assert.deepEqual(Buffer.from(l.bytes), bytes);
});

function invalidMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof GuestError, `expected GuestError, got ${err}`);
    assert.equal(err.kind, 'invalid-module');
    return err.message;
  }
  assert.fail('did not throw');
}

test('bytes that are not Wasm are invalid-module with a clear message', () => {
  assert.match(invalidMessage(() => compileModule(new TextEncoder().encode('hello world'))), /not a WebAssembly module/);
  assert.match(invalidMessage(() => compileModule(new TextEncoder().encode('(module (func))'))), /WAT text/);
  assert.match(invalidMessage(() => compileModule(Uint8Array.from([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0]))), /component/);
  // right header, garbage body
  assert.match(invalidMessage(() => compileModule(Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 0xff]))), /not a valid WebAssembly module/);
  assert.match(invalidMessage(() => loadModule('/nonexistent/x.wasm')), /cannot read module .*no such file/);
});

test('a module-defined memory becomes a capped import, and the meta survives a trip to a worker thread', async () => {
  const { module } = loadModule(guestPath('membomb'));
  const imports = WebAssembly.Module.imports(module);
  assert.deepEqual(imports, [{ module: 'featherweight', name: 'memory', kind: 'memory' }]);
  const exportsList = WebAssembly.Module.exports(module).map((e) => e.name).sort();
  assert.deepEqual(exportsList, ['_start', 'memory']);
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     parentPort.once('message', (m) => {
       const s = WebAssembly.Module.customSections(m, 'featherweight.meta');
       parentPort.postMessage(JSON.parse(Buffer.from(s[s.length - 1]).toString()));
     });`,
    { eval: true },
  );
  worker.postMessage(module);
  const meta = await new Promise<any>((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
  await worker.terminate();
  assert.equal(meta.parsed, true);
  assert.deepEqual(meta.memory, { module: 'featherweight', name: 'memory', initial: 1, maximum: null, shared: false });
});

test('export signatures are recorded (i64 included)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-compile-'));
  try {
    const { module } = loadModule(guestPath('add'));
    const s = WebAssembly.Module.customSections(module, 'featherweight.meta');
    const meta = JSON.parse(Buffer.from(s[s.length - 1]!).toString());
    assert.deepEqual(meta.exports.add64, { params: ['i64', 'i64'], results: ['i64'] });
    assert.equal(meta.memory, null);
    writeFileSync(path.join(dir, 'x.wasm'), 'nope');
    assert.match(invalidMessage(() => loadModule(path.join(dir, 'x.wasm'))), /not a WebAssembly module/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
