import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers/cli.js';
import { loadModule, runWasiCommand } from '../../src/wasm/index.js';
import { dec, enc, limits } from './guests.js';
import { buildC, missingClang, skipOrFail } from './fixtures/c-build.js';

test('a C guest built with clang --target=wasm32-wasi runs unchanged', (t) => {
  const why = missingClang();
  if (why) return skipOrFail(t, why);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-c-'));
  try {
    const out = path.join(dir, 'hello.wasm');
    buildC(path.join(repoRoot, 'guests/c/hello.c'), out);
    const { module } = loadModule(out);
    const r = runWasiCommand(module, { stdin: enc('mail body\n'), env: { EVENT_ID: 'ev-9' }, args: ['one'] }, limits());
    assert.ok(r.ok, dec(r.stderr));
    assert.equal(dec(r.stdout), 'hello from C, event ev-9, 1 args\narg 1: one\nfopen /etc/passwd: refused\nMAIL BODY\n');
    const f = runWasiCommand(module, { stdin: enc(''), env: {}, args: ['fail'] }, limits());
    assert.equal(!f.ok && f.error.kind, 'exit');
    assert.equal(!f.ok && f.error.exitCode, 4);
    assert.equal(dec(f.stderr), 'hello: asked to fail\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('wasi-libc file API works on a grant: list, stat, read; write only when writable; no escape', (t) => {
  const why = missingClang();
  if (why) return skipOrFail(t, why);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-cfiles-'));
  try {
    const out = path.join(dir, 'files.wasm');
    buildC(path.join(repoRoot, 'guests/c/files.c'), out);
    const data = path.join(dir, 'data');
    mkdirSync(data);
    writeFileSync(path.join(data, 'in.txt'), 'line one\n');
    const { module } = loadModule(out);
    const run = (writable: boolean) =>
      runWasiCommand(module, { stdin: enc(''), env: {}, args: ['/data'] }, limits(), { env: {}, dirs: [{ host: data, guest: '/data', writable }] });
    const ro = run(false);
    assert.ok(ro.ok, dec(ro.stderr));
    assert.equal(dec(ro.stdout), 'file in.txt 9\nentries 1\nread: line one\nfopen out.txt for writing: Read-only file system\nescape: Capabilities insufficient\n');
    assert.equal(existsSync(path.join(data, 'out.txt')), false);
    const rw = run(true);
    assert.ok(rw.ok, dec(rw.stderr));
    assert.match(dec(rw.stdout), /wrote out.txt\nescape: Capabilities insufficient\n$/);
    assert.equal(readFileSync(path.join(data, 'out.txt'), 'utf8'), 'from C\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
