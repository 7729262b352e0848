import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileModule, createWasi, runWasiCommand } from '../../src/wasm/index.js';
import { watBytes } from '../runtime/wat.js';
import { dec, enc, guest, limits, noInput } from './guests.js';

test('tens of thousands of runs in a row keep RSS and address space bounded', async () => {
  const echo = guest('echo');
  // grows by one page each run, so its memory can never be reused: a fresh 10 GiB reservation every time
  const { module: grower } = compileModule(await watBytes(`(module (memory (export "memory") 1)
    (func (export "_start") (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then unreachable))))`));
  const input = { stdin: enc('{"n":1}'), env: { EVENT_ID: 'x' }, args: [] };
  for (let i = 0; i < 2000; i++) runWasiCommand(echo, input, limits());
  const before = process.memoryUsage().rss;
  for (let i = 0; i < 15000; i++) {
    const r = runWasiCommand(echo, input, limits());
    if (!r.ok || r.stdout.length !== 7) assert.fail(`run ${i}: ${JSON.stringify(!r.ok && r.error)}`);
  }
  for (let i = 0; i < 1500; i++) {
    const r = runWasiCommand(grower, noInput, limits());
    if (!r.ok) assert.fail(`grow run ${i}: ${JSON.stringify(r.error)}`);
  }
  const grownMiB = (process.memoryUsage().rss - before) / 2 ** 20;
  assert.ok(grownMiB < 150, `RSS grew by ${grownMiB.toFixed(1)} MiB over 16,500 runs`);
});

test('poll_oneoff sleeps on a clock and reports stdin as readable', () => {
  const wasi = createWasi({ args: ['g'], env: {}, stdin: enc('abc'), maxStdoutBytes: 100, preopens: [] });
  const memory = new WebAssembly.Memory({ initial: 1 });
  wasi.bind(memory);
  const v = new DataView(memory.buffer);
  // one relative clock subscription of 1 ms, userdata 42
  v.setBigUint64(0, 42n, true);
  v.setUint8(8, 0);
  v.setUint32(16, 1, true);
  v.setBigUint64(24, 1_000_000n, true);
  const w = wasi.imports.wasi_snapshot_preview1;
  assert.equal(w.poll_oneoff!(0, 1024, 1, 2048), 0);
  assert.equal(v.getUint32(2048, true), 1);
  assert.equal(v.getBigUint64(1024, true), 42n);
  assert.equal(v.getUint8(1024 + 10), 0);
  // fd_read subscription on stdin: ready with 3 bytes
  v.setBigUint64(0, 7n, true);
  v.setUint8(8, 1);
  v.setUint32(16, 0, true);
  assert.equal(w.poll_oneoff!(0, 1024, 1, 2048), 0);
  assert.equal(v.getUint32(2048, true), 1);
  assert.equal(v.getBigUint64(1024 + 16, true), 3n);
  assert.equal(w.poll_oneoff!(0, 1024, 0, 2048), 28);
  assert.equal(dec(wasi.stdout()), '');
});
