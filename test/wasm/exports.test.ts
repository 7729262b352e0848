import { test } from 'node:test';
import assert from 'node:assert/strict';
import { callExport, compileModule, type ExportCall } from '../../src/wasm/index.js';
import { watBytes } from '../runtime/wat.js';
import { guest, limits } from './guests.js';

function err(r: ExportCall, kind: string, message: RegExp): void {
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.error.kind, kind, r.error.message);
  assert.match(r.error.message, message);
}

test('add 1 2 = 3, i32 wraps like Wasm', () => {
  assert.deepEqual(callExport(guest('add'), 'add', [1, 2], limits()), { ok: true, results: [3] });
  assert.deepEqual(callExport(guest('add'), 'add', [2147483647, 1], limits()), { ok: true, results: [-2147483648] });
});

test('i64 parameters and results travel as numbers', () => {
  assert.deepEqual(callExport(guest('add'), 'add64', [2 ** 40, 5], limits()), { ok: true, results: [2 ** 40 + 5] });
  assert.deepEqual(callExport(guest('add'), 'add64', [-7, 2], limits()), { ok: true, results: [-5] });
  err(callExport(guest('add'), 'add64', [1.5, 2], limits()), 'invalid-module', /must be an integer/);
});

test('a trap inside the export is kind trap with the Wasm message', () => {
  err(callExport(guest('add'), 'divide', [1, 0], limits()), 'trap', /divide by zero/);
  assert.deepEqual(callExport(guest('add'), 'divide', [9, 3], limits()), { ok: true, results: [3] });
});

test('unknown export and wrong argument count name the signature', () => {
  err(callExport(guest('add'), 'sub', [1, 2], limits()), 'invalid-module', /no exported function "sub" \(exported functions: add, add64, divide\)/);
  err(callExport(guest('add'), 'add', [1], limits()), 'invalid-module', /add\(i32, i32\) -> i32 takes 2 argument\(s\), got 1/);
});

test('imports the host does not provide and the memory limit apply to exports too', async () => {
  err(callExport(guest('badimport'), '_start', [], limits()), 'invalid-module', /env\.nope/);
  const { module } = compileModule(await watBytes(`(module (memory (export "memory") 1)
    (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`));
  assert.deepEqual(callExport(module, 'grow', [10], limits({ maxMemoryBytes: 1024 * 1024 })), { ok: true, results: [1] });
  assert.deepEqual(callExport(module, 'grow', [16], limits({ maxMemoryBytes: 1024 * 1024 })), { ok: true, results: [-1] });
});

test('an i64 export of a module compiled outside the cache still works', async () => {
  const bytes = await watBytes(`(module (func (export "sq") (param i64) (result i64) (i64.mul (local.get 0) (local.get 0))))`);
  assert.deepEqual(callExport(new WebAssembly.Module(bytes), 'sq', [12], limits()), { ok: true, results: [144] });
});
