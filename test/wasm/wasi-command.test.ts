import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { compileModule, eventEnv, moduleMeta, prepareWasiCommand, runWasiCommand, type GuestRun } from '../../src/wasm/index.js';
import { watBytes } from '../runtime/wat.js';
import { dec, enc, guest, guestPath, limits, noInput } from './guests.js';

function expectOk(r: GuestRun): asserts r is Extract<GuestRun, { ok: true }> {
  assert.ok(r.ok, `expected ok, got ${JSON.stringify(!r.ok && r.error)} stderr=${dec(r.stderr)}`);
}
function expectError(r: GuestRun, kind: string, message: RegExp): void {
  assert.equal(r.ok, false, 'expected a failure');
  if (r.ok) return;
  assert.equal(r.error.kind, kind, r.error.message);
  assert.match(r.error.message, message);
}

/** The host still serves after a hostile guest: a fresh echo run works. */
function echoStillWorks(): void {
  const r = runWasiCommand(guest('echo'), { ...noInput, stdin: enc('still here') }, limits());
  expectOk(r);
  assert.equal(dec(r.stdout), 'still here');
}

test('echo: stdin to stdout, argv and only the given env', () => {
  process.env.FW_SECRET_FOR_TEST = 'host-secret';
  const r = runWasiCommand(guest('echo'), { stdin: enc('héllo\n'), env: { A: '1', EMPTY: '' }, args: ['--args', '--env', 'x y'] }, limits());
  expectOk(r);
  assert.equal(dec(r.stdout), 'arg0=guest\narg1=--args\narg2=--env\narg3=x y\nA=1\nEMPTY=\nhéllo\n');
  assert.doesNotMatch(dec(r.stdout), /host-secret|PATH=|HOME=/);
  assert.equal(r.stderr.length, 0);
  delete process.env.FW_SECRET_FOR_TEST;
});

test('granted env is visible, event env wins on a clash', () => {
  const r = runWasiCommand(guest('echo'), { stdin: enc(''), env: { B: 'event' }, args: ['--env'] }, limits(), { env: { B: 'grant', C: 'grant' }, dirs: [] });
  expectOk(r);
  assert.deepEqual(dec(r.stdout).trim().split('\n').sort(), ['B=event', 'C=grant']);
});

test('an instance made ahead gets the event at run(): argv, env over the grants, stdin; it runs once', () => {
  const prepared = prepareWasiCommand(guest('echo'), limits(), { env: { B: 'grant', C: 'grant' }, dirs: [] });
  assert.ok(prepared, 'echo has no start section, so it can be made ahead');
  const r = prepared.run({ stdin: enc('late\n'), env: { B: 'event' }, args: ['--args', '--env'] });
  expectOk(r);
  assert.deepEqual(dec(r.stdout).split('\n').slice(0, 3), ['arg0=guest', 'arg1=--args', 'arg2=--env']);
  assert.match(dec(r.stdout), /^B=event$/m);
  assert.match(dec(r.stdout), /^C=grant$/m);
  assert.match(dec(r.stdout), /late\n$/);
  assert.throws(() => prepared.run(noInput), /runs once/);
  // made ahead, too large an event: refused as runWasiCommand refuses it
  const big = prepareWasiCommand(guest('echo'), limits({ maxStdinBytes: 4 }))!;
  const refused = big.run({ ...noInput, stdin: enc('12345') });
  expectError(refused, 'memory-limit', /stdin limit/);
  echoStillWorks();
});

test('a module with a start section is never made ahead, and its start function sees the event', async () => {
  // The start function counts the env vars into memory; _start exits with that count.
  const wat = `(module
    (import "wasi_snapshot_preview1" "environ_sizes_get" (func $sizes (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
    (memory (export "memory") 1)
    (func $init (drop (call $sizes (i32.const 0) (i32.const 4))))
    (start $init)
    (func (export "_start") (call $exit (i32.load (i32.const 0)))))`;
  const { module } = compileModule(await watBytes(wat));
  assert.equal(moduleMeta(module).start, true);
  assert.equal(moduleMeta(guest('echo')).start, false);
  assert.equal(prepareWasiCommand(module, limits()), null);
  const r = runWasiCommand(module, { ...noInput, env: { A: '1', B: '2', C: '3' } }, limits());
  expectError(r, 'exit', /code 3/);
});

test('eventEnv maps id, source, subject and headers', () => {
  const env = eventEnv({ id: 'e-1', source: 'smtp', subject: 'inbox@x', headers: { 'content-type': 'a/b', 'X-Trace.Id': '7' }, body: enc(''), attempt: 1, enqueuedAt: 0 });
  assert.deepEqual(env, { EVENT_ID: 'e-1', EVENT_SOURCE: 'smtp', EVENT_SUBJECT: 'inbox@x', EVENT_HEADER_CONTENT_TYPE: 'a/b', EVENT_HEADER_X_TRACE_ID: '7' });
});

test('the trivial command succeeds with empty output', () => {
  const r = runWasiCommand(guest('noop'), noInput, limits());
  expectOk(r);
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout.length + r.stderr.length, 0);
});

test('non-zero exit is kind exit with the code, stderr kept', () => {
  const r = runWasiCommand(guest('fail'), noInput, limits());
  expectError(r, 'exit', /code 3/);
  assert.equal(!r.ok && r.error.exitCode, 3);
  assert.equal(dec(r.stderr), 'fail: refusing this event\n');
  echoStillWorks();
});

test('trap carries the Wasm message; output before it is kept', () => {
  const r = runWasiCommand(guest('trap'), noInput, limits());
  expectError(r, 'trap', /guest trapped: unreachable/);
  assert.equal(dec(r.stderr), 'about to trap\n');
  echoStillWorks();
});

test('stack overflow inside the guest is a trap', () => {
  expectError(runWasiCommand(guest('recurse'), noInput, limits()), 'trap', /call stack/);
  echoStillWorks();
});

test('memory bomb ends in memory-limit at the configured cap', () => {
  const r = runWasiCommand(guest('membomb'), noInput, limits({ maxMemoryBytes: 8 * 1024 * 1024 }));
  expectError(r, 'memory-limit', /memory limit of 8 MiB/);
  // and again with the default limit, from the same compiled module
  expectError(runWasiCommand(guest('membomb'), noInput, limits()), 'memory-limit', /64 MiB/);
  echoStillWorks();
});

test('a module whose initial memory is above the limit is refused before running', () => {
  // echo starts with at least one page; a limit below one page cannot hold it
  expectError(runWasiCommand(guest('echo'), noInput, limits({ maxMemoryBytes: 1000 })), 'memory-limit', /at start, above the memory limit/);
});

test('a declared maximum below the limit still applies', async () => {
  const { module } = compileModule(await watBytes(`(module (memory (export "memory") 1 2)
    (func (export "_start") (if (i32.ne (memory.grow (i32.const 5)) (i32.const -1)) (then unreachable))))`));
  expectOk(runWasiCommand(module, noInput, limits()));
});

test('huge output ends in output-limit, cut exactly at the limit', () => {
  const r = runWasiCommand(guest('bigout'), noInput, limits({ maxStdoutBytes: 100_000 }));
  expectError(r, 'output-limit', /more than 97.7 KiB to stdout/);
  assert.equal(r.stdout.length, 100_000);
  assert.ok(r.stdout.every((b) => b === 0x78));
  echoStillWorks();
});

test('stdin above the limit is refused before running', () => {
  const r = runWasiCommand(guest('echo'), { ...noInput, stdin: new Uint8Array(2048) }, limits({ maxStdinBytes: 1024 }));
  expectError(r, 'memory-limit', /event body of 2 KiB is above the stdin limit of 1 KiB.*not run/);
  assert.equal(r.stdout.length, 0);
});

test('an import the host does not provide is invalid-module, named', () => {
  expectError(runWasiCommand(guest('badimport'), noInput, limits()), 'invalid-module', /imports env\.nope .*which the host does not provide/);
  echoStillWorks();
});

test('a module without _start is invalid-module', () => {
  expectError(runWasiCommand(guest('add'), noInput, limits()), 'invalid-module', /no _start/);
});

test('a module without a memory export is invalid-module', async () => {
  const { module } = compileModule(await watBytes('(module (func (export "_start")))'));
  expectError(runWasiCommand(module, noInput, limits()), 'invalid-module', /no memory/);
});

test('a module compiled outside the cache still reports going over the memory limit', async () => {
  const bytes = await watBytes(`(module (memory (export "memory") 1)
    (func (export "_start") (drop (memory.grow (i32.const 200)))))`);
  const r = runWasiCommand(new WebAssembly.Module(bytes), noInput, limits({ maxMemoryBytes: 4 * 1024 * 1024 }));
  expectError(r, 'memory-limit', /memory limit of 4 MiB/);
});

test('an endless guest occupies only its own thread, which the host can stop', async () => {
  // tsx hooks do not reach worker threads on Node 20: register them inside the worker, then load the fixture.
  const fixture = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/run-in-worker.ts')).href;
  const worker = new Worker(
    `import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(fixture)}); })`,
    { eval: true, workerData: { path: guestPath('loop') } },
  );
  const messages: unknown[] = [];
  worker.on('message', (m) => messages.push(m));
  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (m) => { if ((m as { started?: boolean }).started) resolve(); });
  });
  // the guest is spinning in the worker; the main thread keeps serving
  echoStillWorks();
  await new Promise((r) => setTimeout(r, 100));
  await worker.terminate();
  assert.deepEqual(messages, [{ started: true }]);
  echoStillWorks();
});

test('a reused memory is wiped: no bytes of one event reach the next', async () => {
  // prints the byte at 200 (as '0'+byte), then stores 7 there and leaves it
  const { module } = compileModule(await watBytes(`(module
    (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (func (export "_start")
      (i32.store8 (i32.const 100) (i32.add (i32.const 48) (i32.load8_u (i32.const 200))))
      (i32.store (i32.const 0) (i32.const 100)) (i32.store (i32.const 4) (i32.const 1))
      (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (i32.store8 (i32.const 200) (i32.const 7))))`));
  for (let i = 0; i < 10; i++) assert.equal(dec(runWasiCommand(module, noInput, limits()).stdout), '0');
});

test('many runs in a row leave no state behind', () => {
  const m = guest('echo');
  for (let i = 0; i < 500; i++) {
    const r = runWasiCommand(m, { stdin: enc(`n${i}`), env: {}, args: [] }, limits());
    expectOk(r);
    assert.equal(dec(r.stdout), `n${i}`);
  }
});

test('maxRecords: the guest is stopped at the first non-blank stdout line past it; blank lines and a run without it are not counted', () => {
  // three records, with blank and whitespace-only lines between them, split across writes by the echo guest's own buffering
  const three = '{"n":1}\n\n  \t\n{"n":2}\r\n{"n":3}';
  const ok = runWasiCommand(guest('echo'), { ...noInput, stdin: enc(three) }, { ...limits(), maxRecords: 3 });
  expectOk(ok);
  assert.equal(dec(ok.stdout), three);
  const four = runWasiCommand(guest('echo'), { ...noInput, stdin: enc(`${three}\n{"n":4}\n{"n":5}\n`) }, { ...limits(), maxRecords: 3 });
  expectError(four, 'record-limit', /guest wrote more than 3 records for one event \(the record limit, limits\.maxRecords\); it was stopped there/);
  // without a record limit (featherweight run) any number of lines passes
  const many = runWasiCommand(guest('echo'), { ...noInput, stdin: enc('x\n'.repeat(200_000)) }, limits());
  expectOk(many);
  echoStillWorks();
});
