import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { GuestError } from '../../src/core/errors.js';
import { forgetCompiled } from '../../src/wasm/compile.js';
import { compileModule, defaultLimits, instanceLimits, loadModule, moduleMeta, tableReserveBytes, TABLE_ELEMENT_BYTES } from '../../src/wasm/index.js';
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

// ---- tables (decision 120) ----

async function tableWat(text: string): Promise<Uint8Array> {
  const { watBytes } = await import('../runtime/wat.js');
  return watBytes(text);
}

test('table maximums are rewritten so all tables together stay within maxTableElements', async () => {
  const bytes = await tableWat(`(module
    (table 10 10 funcref)            ;; fixed: keeps its size
    (table 0 funcref)                ;; unbounded: gets a share of the headroom
    (table 5 1000000 externref)      ;; declared far above the cap
    (func (export "grow") (param i32 i32) (result i32)
      (if (result i32) (i32.eqz (local.get 0))
        (then (table.grow 1 (ref.null func) (local.get 1)))
        (else (table.grow 2 (ref.null extern) (local.get 1))))))`);
  const { module } = compileModule(bytes, { maxTableElements: 1000 });
  const meta = moduleMeta(module);
  assert.equal(meta.tableCap, 1000);
  assert.deepEqual(meta.tables!.map((t) => [t.initial, t.maximum, t.declaredMaximum]), [[10, 10, 10], [0, 492, null], [5, 497, 1000000]]);
  assert.ok(meta.tables!.reduce((n, t) => n + t.maximum, 0) <= 1000);
  // Inside the guest: growth within the cap works, past it table.grow returns -1 (no trap, no host crash).
  const grow = new WebAssembly.Instance(module).exports.grow as (t: number, n: number) => number;
  assert.equal(grow(0, 492), 0);
  assert.equal(grow(0, 1), -1);
  assert.equal(grow(1, 10_000_000), -1);
  assert.equal(grow(1, 492), 5);
  // Another cap is another compile of the same bytes; the same cap hits the cache.
  const other = compileModule(bytes, { maxTableElements: 50_000 });
  assert.notEqual(other.module, module);
  assert.equal(compileModule(bytes, { maxTableElements: 1000 }).module, module);
  assert.equal(other.digest, compileModule(bytes, { maxTableElements: 1000 }).digest);
});

test('a module whose tables start above maxTableElements is refused, naming the limit and the manifest key', async () => {
  const bytes = await tableWat('(module (table 600 funcref) (table 500 funcref))');
  assert.match(
    invalidMessage(() => compileModule(bytes, { maxTableElements: 1000 })),
    /2 table\(s\) of 1100 elements at start, above the table limit of 1000 elements \(limits\.maxTableElements\)/,
  );
  assert.doesNotThrow(() => compileModule(bytes, { maxTableElements: 1100 }));
});

test('tables count against maxMemory: the memory may grow only to what they leave, and a module they do not fit is refused', async () => {
  const { module } = compileModule(await tableWat('(module (memory (export "memory") 1) (table 0 funcref))'), { maxTableElements: 20_000 });
  const meta = moduleMeta(module);
  assert.equal(tableReserveBytes(meta), 20_000 * TABLE_ELEMENT_BYTES);
  const ok = instanceLimits(meta, { ...defaultLimits, maxMemoryBytes: 64 * 1024 * 1024 });
  assert.equal(ok.problem, null);
  assert.equal(ok.limits.maxMemoryBytes, 64 * 1024 * 1024 - 20 * 65536); // 1.22 MiB rounded up to 20 pages
  const tight = instanceLimits(meta, { ...defaultLimits, maxMemoryBytes: 1024 * 1024 });
  assert.match(tight.problem ?? '', /plus 1280 KiB for its tables .*above the memory limit of 1 MiB \(raise limits\.maxMemory, or lower limits\.maxTableElements/);
  // No tables: limits untouched.
  const plain = moduleMeta(compileModule(await tableWat('(module (memory 1))')).module);
  assert.equal(instanceLimits(plain, defaultLimits).limits, defaultLimits);
});

test('forgetCompiled drops a digest from the compile cache (up --watch does it for a swapped-out module)', async () => {
  const bytes = await tableWat('(module (func (export "f")))');
  const a = compileModule(bytes);
  assert.equal(compileModule(bytes).module, a.module, 'cached by digest');
  forgetCompiled(a.digest);
  const b = compileModule(bytes);
  assert.notEqual(b.module, a.module, 'compiled again after forgetCompiled');
  assert.equal(b.digest, a.digest);
});
