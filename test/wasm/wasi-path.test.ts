// src/wasm/wasi/path.ts, the sandbox boundary, on its own: every guest path either lands inside the
// directory fd it starts from or is an errno.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { E, errnoOf } from '../../src/wasm/wasi/errno.js';
import { makeFd, type Fd, type Grant } from '../../src/wasm/wasi/fd-table.js';
import { GuestMemory } from '../../src/wasm/wasi/memory.js';
import { climbsOut, confirmInside, PATH_MAX, readPath, resolve } from '../../src/wasm/wasi/path.js';
import { DIR_BASE, DIR_INHERITING } from '../../src/wasm/wasi/rights.js';

function tree(): { top: string; grant: Grant; root: Fd & { grant: Grant }; at: (rel: string[]) => Fd & { grant: Grant } } {
  const top = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-path-'));
  const g = path.join(top, 'grant');
  fs.mkdirSync(path.join(g, 'a/b'), { recursive: true });
  fs.writeFileSync(path.join(g, 'a/file'), 'x');
  fs.writeFileSync(path.join(top, 'secret'), 'outside');
  fs.symlinkSync('b', path.join(g, 'a/to-b'));
  fs.symlinkSync('..', path.join(g, 'a/b/up'));
  fs.symlinkSync('../../secret', path.join(g, 'a/out'));
  fs.symlinkSync(path.join(top, 'secret'), path.join(g, 'abs-out'));
  fs.symlinkSync(path.join(g, 'a/file'), path.join(g, 'abs-in'));
  fs.symlinkSync('loop', path.join(g, 'loop'));
  fs.symlinkSync('gone', path.join(g, 'dangling'));
  const grant: Grant = { hostReal: fs.realpathSync(g), hostGiven: g, writable: true };
  const at = (rel: string[]) => makeFd('dir', { host: path.join(grant.hostReal, ...rel), rel, grant, base: DIR_BASE, inheriting: DIR_INHERITING }) as Fd & { grant: Grant };
  return { top, grant, root: at([]), at };
}

const errno = (fn: () => unknown): number => {
  try {
    fn();
  } catch (e) {
    return errnoOf(e); // host errors (ENOENT of a middle component) become errnos in the call wrapper
  }
  return 0;
};

test('paths resolve component by component, links expanded inside the grant', () => {
  const t = tree();
  try {
    assert.deepEqual(resolve(t.root, 'a/./b/../file', false).rel, ['a', 'file']);
    assert.deepEqual(resolve(t.root, 'a/to-b', true).rel, ['a', 'b']);
    assert.ok(resolve(t.root, 'a/to-b', false).st!.isSymbolicLink(), 'not followed when asked not to');
    assert.deepEqual(resolve(t.root, 'a/to-b/', false).rel, ['a', 'b'], 'a trailing slash follows');
    assert.deepEqual(resolve(t.root, 'a/b/up/file', true).rel, ['a', 'file'], '".." in a link target pops from the link\'s dir');
    assert.deepEqual(resolve(t.root, 'abs-in', true).rel, ['a', 'file'], 'a host link to an absolute path inside the grant');
    const missing = resolve(t.root, 'a/new', false);
    assert.equal(missing.st, null);
    assert.equal(missing.host, path.join(t.grant.hostReal, 'a', 'new'));
    assert.equal(resolve(t.root, '.', false).dirOnly, true);
  } finally {
    fs.rmSync(t.top, { recursive: true, force: true });
  }
});

test('nothing outside the directory fd is ever reached', () => {
  const t = tree();
  try {
    for (const p of ['..', '../secret', '/etc/passwd', 'a/../../secret', 'x/../../y']) assert.equal(errno(() => resolve(t.root, p, true)), E.NOTCAPABLE, p);
    assert.equal(errno(() => resolve(t.root, 'a/out', true)), E.NOTCAPABLE, 'relative link out');
    assert.equal(errno(() => resolve(t.root, 'abs-out', true)), E.NOTCAPABLE, 'absolute host link out');
    const a = t.at(['a']);
    assert.equal(errno(() => resolve(a, '../a/file', true)), E.NOTCAPABLE, '.. above a dir fd, even back into the grant');
    assert.deepEqual(resolve(a, 'b/up/file', true).rel, ['a', 'file'], 'a link back to the dir fd itself');
    assert.equal(errno(() => resolve(t.at(['a', 'b']), 'up/file', true)), E.NOTCAPABLE, 'a link climbing above the dir fd');
    assert.deepEqual(resolve(a, 'b/up', false).rel, ['a', 'b', 'up'], 'the link itself is fine unfollowed');
    // an absolute host link inside the grant but above this dir fd
    assert.equal(errno(() => resolve(t.at(['a', 'b']), '../../abs-in', true)), E.NOTCAPABLE);
  } finally {
    fs.rmSync(t.top, { recursive: true, force: true });
  }
});

test('loops, dangling links, non-directories and trailing slashes', () => {
  const t = tree();
  try {
    assert.equal(errno(() => resolve(t.root, 'loop', true)), E.LOOP);
    assert.ok(resolve(t.root, 'loop', false).st!.isSymbolicLink());
    const d = resolve(t.root, 'dangling', true);
    assert.equal(d.st, null, 'following a dangling link names its missing target');
    assert.deepEqual(d.rel, ['gone']);
    assert.equal(errno(() => resolve(t.root, 'a/file/x', true)), E.NOTDIR);
    assert.equal(errno(() => resolve(t.root, 'a/file/', false)), E.NOTDIR);
    assert.equal(errno(() => resolve(t.root, 'nope/x', true)), E.NOENT);
    assert.equal(errno(() => resolve(t.root, '', true)), E.NOENT);
  } finally {
    fs.rmSync(t.top, { recursive: true, force: true });
  }
});

test('readPath: NAMETOOLONG past PATH_MAX before reading, FAULT out of bounds, INVAL for NUL, ILSEQ for bad UTF-8', () => {
  const mem = new GuestMemory();
  const m = new WebAssembly.Memory({ initial: 1 });
  mem.bind(m);
  const u8 = new Uint8Array(m.buffer);
  u8.set(new TextEncoder().encode('a\0b'), 0);
  u8.set([0xff, 0xfe], 10);
  assert.equal(errno(() => readPath(mem, 0, 4 * 1024 * 1024)), E.NAMETOOLONG);
  assert.equal(errno(() => readPath(mem, 65530, 100)), E.FAULT);
  assert.equal(errno(() => readPath(mem, 0, 3)), E.INVAL);
  assert.equal(errno(() => readPath(mem, 10, 2)), E.ILSEQ);
  assert.equal(readPath(mem, 0, 1), 'a');
  assert.equal(PATH_MAX, 4096);
});

test('climbsOut counts ".." lexically from a depth', () => {
  assert.equal(climbsOut('a/../..', 0), true);
  assert.equal(climbsOut('a/../..', 1), false);
  assert.equal(climbsOut('./a//b/../../c', 0), false);
});

test('confirmInside closes an fd that turns out to be outside the grant (the walk-then-open race)', { skip: process.platform !== 'linux' && 'needs /proc/self/fd' }, () => {
  const t = tree();
  try {
    const inside = fs.openSync(path.join(t.grant.hostReal, 'a/file'), 'r');
    confirmInside(inside, t.grant);
    fs.closeSync(inside);
    const outside = fs.openSync(path.join(t.top, 'secret'), 'r');
    assert.equal(errno(() => confirmInside(outside, t.grant)), E.NOTCAPABLE);
    assert.throws(() => fs.fstatSync(outside), /EBADF/, 'and closed it');
  } finally {
    fs.rmSync(t.top, { recursive: true, force: true });
  }
});
