// The worker thread's board (src/runtime/board.ts): what the pool reads of a running batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Board, createBoardMemory, RESULTS_BYTES, TAIL_BYTES } from '../../src/runtime/board.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

test('board: output tails keep the latest bytes of each stream and count them all, for the job that wrote them only', () => {
  const sab = createBoardMemory();
  const writer = new Board(sab);
  const reader = new Board(sab);
  writer.begin(7);
  writer.write('stderr', enc('first line\n'));
  assert.deepEqual(reader.current().job, 7);
  assert.equal(reader.current().running, true);
  let out = reader.output(7)!;
  assert.equal(dec(out.stderr), 'first line\n');
  assert.equal(out.stdoutBytes, 0);
  assert.equal(reader.output(8), null, 'another job reads nothing');
  // Past the tail size, in several writes and one larger than the tail itself.
  const big = new Uint8Array(TAIL_BYTES + 100).fill(0x61);
  big[big.length - 1] = 0x7a;
  writer.write('stdout', enc('head'));
  writer.write('stdout', big);
  writer.write('stdout', enc('END'));
  out = reader.output(7)!;
  assert.equal(out.stdoutBytes, 4 + big.length + 3);
  assert.equal(out.stdout.length, TAIL_BYTES);
  assert.equal(dec(out.stdout.subarray(TAIL_BYTES - 4)), 'zEND');
  assert.ok(out.stdout.subarray(0, TAIL_BYTES - 4).every((b) => b === 0x61));
  writer.end();
  assert.equal(reader.current().running, false);
  writer.begin(8);
  assert.equal(reader.output(8)!.stdoutBytes, 0, 'a new job starts with no output');
});

test('board: results round-trip in order; one that does not fit is refused (it goes by message)', () => {
  const sab = createBoardMemory();
  const writer = new Board(sab);
  const reader = new Board(sab);
  writer.newBatch();
  reader.newBatch();
  assert.ok(writer.putResult({ id: 1, durationUs: 12, startedAt: 5.5, result: { ok: true, exitCode: 0, stdout: enc('{"a":1}\n'), stderr: enc('warn') } }));
  assert.ok(writer.putResult({ id: 2, durationUs: 3, startedAt: 6, result: { ok: false, error: { kind: 'exit', message: 'guest exited with code 3', exitCode: 3 }, stdout: new Uint8Array(0), stderr: enc('boom') } }));
  assert.ok(writer.putResult({ id: 3, durationUs: 1, startedAt: 7, result: { ok: true, results: [42] } }));
  const got = reader.takeResults();
  assert.deepEqual(got.map((d) => d.id), [1, 2, 3]);
  const [a, b, c] = got;
  assert.ok(a!.result.ok && 'stdout' in a!.result);
  if ('stdout' in a!.result) assert.equal(dec(a!.result.stdout) + dec(a!.result.stderr), '{"a":1}\nwarn');
  assert.deepEqual([a!.durationUs, a!.startedAt], [12, 5.5]);
  assert.deepEqual(b!.result, { ok: false, error: { kind: 'exit', message: 'guest exited with code 3', exitCode: 3 }, stdout: new Uint8Array(0), stderr: enc('boom') });
  assert.deepEqual(c!.result, { ok: true, results: [42] });
  assert.deepEqual(reader.takeResults(), [], 'each result is taken once');
  assert.equal(writer.putResult({ id: 4, durationUs: 1, startedAt: 8, result: { ok: true, exitCode: 0, stdout: new Uint8Array(RESULTS_BYTES), stderr: new Uint8Array(0) } }), false);
});
