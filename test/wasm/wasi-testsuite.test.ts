// WASI preview1 conformance. The official suite (github.com/WebAssembly/wasi-testsuite) is not on npm
// and CI reaches no other network, so CI runs our own C and Rust guests, which check every semantic the
// suite's 72 preview1 tests check (test/wasm/fixtures/wasi-conformance.{c,rs}), built here with clang +
// wasi-libc and rustc's wasm32 WASI target. Given a local copy (WASI_TESTSUITE=<checkout or git dir>,
// see scripts/wasi-testsuite.mjs), the official tests run too, the way its runner runs them.
// Toolchains (Debian): apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32 rustc libstd-rust-dev-wasm32
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModule, runWasiCommand, defaultLimits } from '../../src/wasm/index.js';
import { buildC, buildRust, missingClang, rustWasi, skipOrFail } from './fixtures/c-build.js';
import { listCases, runCase } from './fixtures/wasi-suite-case.js';

const fixtures = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures');

function scratch(fill: (root: string) => void): { root: string; done: () => void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-conformance-'));
  fill(root);
  return { root, done: () => fs.rmSync(root, { recursive: true, force: true }) };
}

/** Runs a conformance guest with `root` granted read-write as "/" and returns its check lines. */
function run(wasm: string, root: string, args: string[], env: Record<string, string>) {
  const r = runWasiCommand(loadModule(wasm).module, { stdin: new Uint8Array(0), env, args }, defaultLimits,
    { env: {}, dirs: [{ host: root, guest: '/', writable: true }] });
  const lines = Buffer.from(r.stdout).toString('utf8').split('\n').filter(Boolean);
  return { r, lines, failed: lines.filter((l) => l.startsWith('FAIL')), oks: lines.filter((l) => l.startsWith('ok ')).length };
}

test('C guest (wasi-libc and raw preview1 calls): rights, paths, links, fds, times, flags, readdir, sockets, EFAULT', (t) => {
  const why = missingClang();
  if (why) return skipOrFail(t, why);
  const s = scratch((root) => {
    fs.writeFileSync(path.join(root, 'file'), 'hello');
    fs.writeFileSync(path.join(root, 'lseek.txt'), '01234567');
    fs.writeFileSync(path.join(root, 'pread.txt'), 'pread-test');
    fs.mkdirSync(path.join(root, 'fopendir.dir'));
    fs.writeFileSync(path.join(root, 'fopendir.dir/file-0'), '');
    fs.writeFileSync(path.join(root, 'fopendir.dir/file-1'), '');
    fs.mkdirSync(path.join(root, 'writeable'));
  });
  try {
    const wasm = path.join(s.root, '..', `${path.basename(s.root)}.wasm`);
    buildC(path.join(fixtures, 'wasi-conformance.c'), wasm);
    const { r, failed, oks } = run(wasm, s.root, [], {});
    fs.rmSync(wasm, { force: true });
    assert.deepEqual(failed, []);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.error));
    assert.equal(oks, 131, "every check of the guest ran");
    // the guest cleaned up after itself: only the files it was given are left
    assert.deepEqual(fs.readdirSync(s.root).sort(), ['file', 'fopendir.dir', 'lseek.txt', 'pread.txt', 'writeable']);
  } finally {
    s.done();
  }
});

test('Rust std guest: args, environ, proc_exit, fd_write, random_get, std::fs, links, no escape', (t) => {
  const rust = rustWasi();
  if (!rust) return skipOrFail(t, 'no rustc with a wasm32 WASI target (apt-get install rustc libstd-rust-dev-wasm32, or rustup target add wasm32-wasip1)');
  const s = scratch((root) => fs.symlinkSync('/etc/passwd', path.join(root, 'host-link')));
  try {
    const wasm = path.join(s.root, '..', `${path.basename(s.root)}.wasm`);
    buildRust(path.join(fixtures, 'wasi-conformance.rs'), wasm);
    const { r, lines, failed, oks } = run(wasm, s.root, ['first', 'the "second" arg', '3'], { a: 'text', b: 'escap"ing', c: 'new\nline' });
    assert.deepEqual(failed, []);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.error));
    assert.equal(lines[0], 'hello');
    assert.equal(oks, 24, "every check of the guest ran");
    assert.deepEqual(fs.readdirSync(s.root), ['host-link']);
    const exit = run(wasm, s.root, ['exit33'], {});
    assert.equal(!exit.r.ok && exit.r.error.exitCode, 33);
    fs.rmSync(wasm, { force: true });
  } finally {
    s.done();
  }
});

test('the official wasi-testsuite passes 72/72 (WASI_TESTSUITE=<checkout or git dir of prod/testsuite-base>)', { timeout: 15 * 60_000 }, async (t) => {
  const given = process.env.WASI_TESTSUITE;
  if (!given) {
    // Not on npm and not reachable from CI: this one skips there too (the guests above stand in for it).
    console.log('# skipping the official suite: set WASI_TESTSUITE to a checkout of github.com/WebAssembly/wasi-testsuite (branch prod/testsuite-base)');
    t.skip('WASI_TESTSUITE not set');
    return;
  }
  let root = given;
  if (!fs.existsSync(path.join(given, 'tests'))) {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-wasi-testsuite-'));
    execFileSync('sh', ['-c', 'git --git-dir "$0" archive prod/testsuite-base tests | tar -x -C "$1"', given, root]);
  }
  const cases = listCases(root);
  assert.equal(cases.length, 72, 'the preview1 tests of the suite');
  const failed: string[] = [];
  for (const c of cases) {
    const r = await runCase(c);
    if (!r.pass) failed.push(`${r.name}: ${r.reason}`);
  }
  assert.deepEqual(failed, []);
});
