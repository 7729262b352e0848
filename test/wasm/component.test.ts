import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers/cli.js';
import { isComponent, loadComponent, runComponentCommand } from '../../src/wasm/component/index.js';
import { runWasiCommand } from '../../src/wasm/index.js';
import { compileModule } from '../../src/wasm/compile.js';
import { cComponent, cCore, missingCToolchain, watComponent } from './component-guests.js';
import { dec, enc, limits } from './guests.js';

const MiB = 1024 * 1024;

function skipWithoutC(t: { skip(why: string): void }): boolean {
  const why = missingCToolchain();
  if (why) {
    console.log(`# skipping C component test: ${why}`);
    t.skip(why);
    return true;
  }
  return false;
}

const helloC = () => readFileSync(path.join(repoRoot, 'guests/c/hello.c'), 'utf8');
const filesC = () => readFileSync(path.join(repoRoot, 'guests/c/files.c'), 'utf8');

test('a C program made a component by the preview1 adapter prints what its core build prints', async (t) => {
  if (skipWithoutC(t)) return;
  const bytes = await cComponent(helloC());
  assert.equal(isComponent(bytes), true);
  const image = loadComponent(bytes);
  const input = { stdin: enc('mail body\n'), env: { EVENT_ID: 'ev-9' }, args: ['one'] };
  const r = runComponentCommand(image, input, limits());
  assert.ok(r.ok, dec(r.stderr));
  const core = runWasiCommand(compileModule(cCore(helloC())).module, input, limits());
  assert.equal(dec(r.stdout), dec(core.stdout));
  assert.equal(dec(r.stdout), 'hello from C, event ev-9, 1 args\narg 1: one\nfopen /etc/passwd: refused\nMAIL BODY\n');
  // A fresh instance per event: the second run sees only its own input.
  const again = runComponentCommand(image, { stdin: enc('x'), env: { EVENT_ID: 'ev-10' }, args: [] }, limits());
  assert.equal(dec(again.stdout), 'hello from C, event ev-10, 0 args\nfopen /etc/passwd: refused\nX');
});

test('exit: a non-zero exit is a typed result, and the host process goes on', async (t) => {
  if (skipWithoutC(t)) return;
  const image = loadComponent(await cComponent(helloC()));
  const f = runComponentCommand(image, { stdin: enc(''), env: {}, args: ['fail'] }, limits());
  assert.equal(!f.ok && f.error.kind, 'exit');
  // WASI 0.2's exit takes result<_, _>: every failure code is 1 (exit-with-code is not in 0.2.0).
  assert.equal(!f.ok && f.error.exitCode, 1);
  assert.equal(dec(f.stderr), 'hello: asked to fail\n');
  const ok = runComponentCommand(image, { stdin: enc(''), env: {}, args: [] }, limits());
  assert.ok(ok.ok);
});

test('env: exactly the granted variables plus the event metadata, never the host environment', async (t) => {
  if (skipWithoutC(t)) return;
  const image = loadComponent(await cComponent(`
#include <stdio.h>
extern char **environ;
int main(void) { for (char **e = environ; *e; e++) printf("%s\\n", *e); return 0; }
`));
  process.env.FW_COMPONENT_SECRET = 'host-only';
  const r = runComponentCommand(image, { stdin: enc(''), env: { EVENT_ID: 'e1' }, args: [] }, limits(), { env: { GRANTED: 'yes' }, dirs: [] });
  assert.ok(r.ok, dec(r.stderr));
  assert.deepEqual(dec(r.stdout).trim().split('\n').sort(), ['EVENT_ID=e1', 'GRANTED=yes']);
  const none = runComponentCommand(image, { stdin: enc(''), env: {}, args: [] }, limits());
  assert.equal(dec(none.stdout), '');
});

test('files: only grants.dirs, read-only refuses writes, no way out of the grant', async (t) => {
  if (skipWithoutC(t)) return;
  const image = loadComponent(await cComponent(filesC()));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-comp-files-'));
  try {
    const data = path.join(dir, 'data');
    mkdirSync(data);
    writeFileSync(path.join(data, 'in.txt'), 'line one\n');
    writeFileSync(path.join(dir, 'secret.txt'), 'outside\n');
    symlinkSync(path.join(dir, 'secret.txt'), path.join(data, 'link.txt'));
    const run = (writable: boolean) =>
      runComponentCommand(image, { stdin: enc(''), env: {}, args: ['/data'] }, limits(), { env: {}, dirs: [{ host: data, guest: '/data', writable }] });
    const ro = run(false);
    assert.ok(ro.ok, dec(ro.stderr));
    // link.txt points outside: listed, but stat refuses to follow it out, so it is not shown as a file.
    assert.equal(dec(ro.stdout), 'file in.txt 9\nentries 2\nread: line one\nfopen out.txt for writing: Read-only file system\nescape: Operation not permitted\n');
    assert.equal(existsSync(path.join(data, 'out.txt')), false);
    const rw = run(true);
    assert.ok(rw.ok, dec(rw.stderr));
    assert.match(dec(rw.stdout), /wrote out.txt\nescape: Operation not permitted\n$/);
    assert.equal(readFileSync(path.join(data, 'out.txt'), 'utf8'), 'from C\n');
    // Without a grant there is no directory at all.
    const none = runComponentCommand(image, { stdin: enc(''), env: {}, args: ['/data'] }, limits());
    assert.match(dec(none.stdout), /^opendir \/data: Capabilities insufficient\n/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('limits: stdin, stdout and memory caps apply to a component and its every core module', async (t) => {
  if (skipWithoutC(t)) return;
  const image = loadComponent(await cComponent(`
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "spam") == 0) { for (int i = 0; i < 100000; i++) printf("0123456789\\\n"); return 0; }
  if (argc > 1 && strcmp(argv[1], "grow") == 0) {
    long sum = 0;
    for (int i = 0; i < 1000; i++) {
      char *p = malloc(MiB_);
      if (!p) { fprintf(stderr, "out of memory after %d MiB\\\n", i); return 1; }
      memset(p, i, MiB_);
      sum += p[i];
    }
    printf("%ld\\\n", sum);
  }
  return 0;
}
`.replaceAll('MiB_', '(1024 * 1024)')));
  const spam = runComponentCommand(image, { stdin: enc(''), env: {}, args: ['spam'] }, limits({ maxStdoutBytes: 1000 }));
  assert.equal(!spam.ok && spam.error.kind, 'output-limit');
  assert.equal(spam.stdout.length, 1000);
  const grow = runComponentCommand(image, { stdin: enc(''), env: {}, args: ['grow'] }, limits({ maxMemoryBytes: 8 * MiB }));
  assert.equal(!grow.ok && grow.error.kind, 'memory-limit', !grow.ok ? grow.error.message : '');
  // Either libc's malloc or the adapter's own allocation is the first to meet the cap.
  assert.match(dec(grow.stderr), /out of memory after [0-7] MiB|adapter/);
  const big = runComponentCommand(image, { stdin: new Uint8Array(2000), env: {}, args: [] }, limits({ maxStdinBytes: 1000 }));
  assert.equal(!big.ok && big.error.kind, 'memory-limit');
  assert.match(!big.ok ? big.error.message : '', /stdin limit/);
});

// A component importing wasi:sockets: create-tcp-socket must answer access-denied (error-code case 1);
// run returns ok only then.
const socketWat = `
(component
  (type $ct (instance
    (export "tcp-socket" (type (sub resource)))
    (type $own (own 0))
    (type $ec (enum "unknown" "access-denied" "not-supported"))
    (export "error-code" (type (eq $ec)))
    (type $fam (enum "ipv4" "ipv6"))
    (type $r (result $own (error 2)))
    (type $f (func (param "address-family" $fam) (result $r)))
    (export "create-tcp-socket" (func (type $f)))
  ))
  (import "wasi:sockets/tcp-create-socket@0.2.0" (instance $s (type $ct)))
  (core module $libc (memory (export "memory") 1))
  (core instance $libc (instantiate $libc))
  (alias export $s "create-tcp-socket" (func $create))
  (core func $create_lowered (canon lower (func $create) (memory (core memory $libc "memory"))))
  (core instance $imports (export "create" (func $create_lowered)))
  (core module $main
    (import "libc" "memory" (memory 1))
    (import "s" "create" (func $create (param i32 i32)))
    (func (export "run") (result i32)
      (call $create (i32.const 0) (i32.const 16))
      (if (result i32) (i32.eq (i32.load8_u (i32.const 16)) (i32.const 1))
        (then (if (result i32) (i32.eq (i32.load8_u (i32.const 20)) (i32.const 1)) (then (i32.const 0)) (else (i32.const 1))))
        (else (i32.const 1)))))
  (core instance $main (instantiate $main (with "libc" (instance $libc)) (with "s" (instance $imports))))
  (type $runt (func (result (result))))
  (func $run (type $runt) (canon lift (core func $main "run")))
  (instance $runinst (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $runinst))
)`;

test('sockets: wasi:sockets answers access-denied', async () => {
  const image = loadComponent(await watComponent(socketWat));
  const r = runComponentCommand(image, { stdin: enc(''), env: {}, args: [] }, limits());
  assert.ok(r.ok, !r.ok ? r.error.message : '');
});

test('an import featherweight does not provide traps with its name; a core module is not a component', async () => {
  const image = loadComponent(await watComponent(socketWat.replace('wasi:sockets/tcp-create-socket@0.2.0', 'acme:private/thing@1.0.0').replace('(enum "unknown" "access-denied" "not-supported")', '(enum "a" "b" "c")')));
  const r = runComponentCommand(image, { stdin: enc(''), env: {}, args: [] }, limits());
  assert.equal(!r.ok && r.error.kind, 'trap');
  assert.match(!r.ok ? r.error.message : '', /acme:private\/thing#create-tcp-socket, which featherweight does not provide/);
  assert.throws(() => loadComponent(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])), /not a WebAssembly component/);
});

test('abi component runs on the replica pool like a wasi-command guest', async (t) => {
  if (skipWithoutC(t)) return;
  const { createPool } = await import('../../src/runtime/pool.js');
  const image = loadComponent(await cComponent(helloC()));
  const pool = createPool({ module: image.modules[0]!, component: image, abi: 'wasi-command', limits: limits(), maxThreads: 1 });
  try {
    pool.setReplicas(1);
    const r = await pool.submit({ kind: 'command', stdin: enc('via pool'), env: { EVENT_ID: 'p1' }, args: [] });
    assert.ok(r.ok && 'stdout' in r, 'stdout' in r ? dec(r.stderr) : '');
    assert.equal('stdout' in r && dec(r.stdout), 'hello from C, event p1, 0 args\nfopen /etc/passwd: refused\nVIA POOL');
  } finally {
    await pool.close();
  }
});

test('a component killed at its timeout keeps what it wrote (the board), and stderr has its own cap', async (t) => {
  if (skipWithoutC(t)) return;
  const { createPool } = await import('../../src/runtime/pool.js');
  const image = loadComponent(await cComponent(`
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "bomb") == 0) { for (;;) fputs("spam spam spam spam spam spam\\n", stderr); }
  printf("{\\"phase\\":1}\\n"); fflush(stdout);
  fprintf(stderr, "about to hang\\n"); fflush(stderr);
  for (volatile int i = 0;; i++) {}
}
`));
  // 3 s, not less: the guest thread runs below normal priority, and a busy neighbour can delay its
  // first write past a short deadline (the test needs the write before the timeout).
  const pool = createPool({ module: image.modules[0]!, component: image, abi: 'wasi-command', limits: { ...limits(), timeoutMs: 3000, maxStderrBytes: 4096 }, maxThreads: 1 });
  try {
    pool.setReplicas(1);
    const hang = await pool.submit({ kind: 'command', stdin: enc(''), env: {}, args: [] });
    assert.equal(hang.ok, false);
    if (hang.ok) return;
    assert.equal(hang.error.kind, 'timeout');
    assert.equal(dec(hang.stderr), 'about to hang\n');
    assert.equal(dec(hang.stdout), '{"phase":1}\n');
    const bomb = await pool.submit({ kind: 'command', stdin: enc(''), env: {}, args: ['bomb'] });
    assert.equal(bomb.ok, false);
    if (bomb.ok) return;
    assert.equal(bomb.error.kind, 'output-limit');
    assert.match(bomb.error.message, /more than 4 KiB to stderr \(the stderr limit, maxStderr\)/);
  } finally {
    await pool.close();
  }
});

test('oci: a component is packaged with os wasip2, a core module with wasip1', async () => {
  const { buildArtifact } = await import('../../src/oci/oci.js');
  const config = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(buildArtifact(bytes, { created: new Date(0) }).config)) as { os: string };
  assert.equal(config(await watComponent(socketWat)).os, 'wasip2');
  assert.equal(config(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])).os, 'wasip1');
});

test('reused memories do not creep: 1,100 events in a row at maxMemory 4 MiB all succeed', async (t) => {
  if (skipWithoutC(t)) return;
  const image = loadComponent(await cComponent(helloC()));
  const input = { stdin: enc('x'), env: { EVENT_ID: 'loop' }, args: [] };
  for (let i = 0; i < 1100; i++) {
    const r = runComponentCommand(image, input, limits({ maxMemoryBytes: 4 * MiB }));
    if (!r.ok) assert.fail(`event ${i}: ${r.error.kind}: ${r.error.message}`);
  }
});

test('app: the wrong abi for a component or a core module says which abi to use', async (t) => {
  if (skipWithoutC(t)) return;
  const { resolveGuest } = await import('../../src/app/module.js');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-comp-abi-'));
  try {
    const comp = path.join(dir, 'c.wasm');
    const core = path.join(dir, 'm.wasm');
    writeFileSync(comp, await cComponent(helloC()));
    writeFileSync(core, cCore(helloC()));
    await assert.rejects(resolveGuest(comp, 'wasi-command', dir), /is a WASI 0.2 component: give the component `abi: component`/);
    await assert.rejects(resolveGuest(core, 'component', dir), /a core module \(wasm32-wasi\) runs with abi: wasi-command/);
    const ok = await resolveGuest(comp, 'component', dir);
    assert.ok(ok.component && ok.component.modules.length === 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
