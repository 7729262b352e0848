import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createWasi, runWasiCommand, type Grants } from '../../src/wasm/index.js';
import { dec, guest, limits, noInput } from './guests.js';
import { fdsUnder } from '../helpers/fds.js';

const ENOENT = 44, EBADF = 8, EROFS = 69, ENOTCAPABLE = 76, EFAULT = 21, ENOTSOCK = 57;

function openfile(args: string[], grants?: Grants) {
  return runWasiCommand(guest('openfile'), { ...noInput, args }, limits(), grants);
}

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-sandbox-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('without grants a guest has no files at all', () => {
  const r = openfile([]);
  assert.ok(r.ok);
  assert.equal(dec(r.stdout), `open /etc/passwd (fd 3): errno ${EBADF}\n`);
});

test('a granted directory cannot be escaped with .., absolute paths or a symlink', () => {
  withDir((dir) => {
    const data = path.join(dir, 'data');
    mkdirSync(data);
    symlinkSync('/etc', path.join(data, 'etc-link'));
    symlinkSync('/etc/passwd', path.join(data, 'passwd-link'));
    const grants = { env: {}, dirs: [{ host: data, guest: '/data', writable: false }] };
    const r = openfile([], grants);
    assert.ok(r.ok);
    assert.equal(dec(r.stdout), [
      `open /etc/passwd (fd 3): errno ${ENOTCAPABLE}`,
      'preopen 3 /data',
      `open .. in /data: errno ${ENOTCAPABLE}`,
      `open ../../etc/passwd in /data: errno ${ENOTCAPABLE}`,
      `open /etc/passwd in /data: errno ${ENOTCAPABLE}`,
      `open a/../../x in /data: errno ${ENOTCAPABLE}`,
      '',
    ].join('\n'));
    for (const name of ['etc-link/passwd', 'passwd-link']) {
      const s = openfile(['read', name], grants);
      assert.equal(s.ok, false);
      assert.equal(dec(s.stdout), `read ${name}: errno ${ENOTCAPABLE}\n`);
    }
    assert.equal(dec(openfile(['read', 'missing.txt'], grants).stdout), `read missing.txt: errno ${ENOENT}\n`);
  });
});

test('a granted directory is readable (symlinks inside it too) but not writable by default', () => {
  withDir((dir) => {
    writeFileSync(path.join(dir, 'in.txt'), 'granted content\n');
    mkdirSync(path.join(dir, 'sub'));
    symlinkSync(path.join(dir, 'in.txt'), path.join(dir, 'sub', 'link.txt'));
    const grants = { env: {}, dirs: [{ host: dir, guest: '/data', writable: false }] };
    const r = openfile(['read', 'in.txt'], grants);
    assert.ok(r.ok);
    assert.equal(dec(r.stdout), 'granted content\n');
    assert.equal(dec(openfile(['read', 'sub/../sub/link.txt'], grants).stdout), 'granted content\n');
    const w = openfile(['write', 'out.txt'], grants);
    assert.equal(w.ok, false);
    assert.equal(dec(w.stdout), `write out.txt: errno ${EROFS}\n`);
    assert.equal(existsSync(path.join(dir, 'out.txt')), false);
    assert.equal(dec(openfile(['write', 'in.txt'], grants).stdout), `write in.txt: errno ${EROFS}\n`);
    assert.equal(readFileSync(path.join(dir, 'in.txt'), 'utf8'), 'granted content\n');
  });
});

test('a writable grant lets the guest create files inside it only', () => {
  withDir((dir) => {
    const grants = { env: {}, dirs: [{ host: dir, guest: '/out', writable: true }] };
    const w = openfile(['write', 'made.txt'], grants);
    assert.ok(w.ok, dec(w.stdout));
    assert.equal(readFileSync(path.join(dir, 'made.txt'), 'utf8'), 'written by the guest\n');
    const esc = openfile(['write', '../escape.txt'], grants);
    assert.equal(dec(esc.stdout), `write ../escape.txt: errno ${ENOTCAPABLE}\n`);
    assert.equal(existsSync(path.join(path.dirname(dir), 'escape.txt')), false);
  });
});

test('a missing granted directory is a clear configuration error', () => {
  assert.throws(
    () => runWasiCommand(guest('echo'), noInput, limits(), { env: {}, dirs: [{ host: '/nonexistent/fw', guest: '/d', writable: false }] }),
    /cannot grant directory \/nonexistent\/fw: it does not exist/,
  );
});

test('sockets are not available and bad pointers are errnos, not host exceptions', () => {
  const wasi = createWasi({ args: ['g'], env: {}, stdin: new Uint8Array(0), maxStdoutBytes: 1000, preopens: [] });
  const w = wasi.imports.wasi_snapshot_preview1;
  // no fd is ever a socket: an open one is NOTSOCK, a closed one BADF (as wasmtime without sockets)
  for (const name of ['sock_accept', 'sock_recv', 'sock_send', 'sock_shutdown']) {
    assert.equal(w[name]!(0, 0, 0, 0, 0, 0), ENOTSOCK);
    assert.equal(w[name]!(99, 0, 0, 0, 0, 0), EBADF);
  }
  // before bind(): no memory, so every memory-touching call is EFAULT
  assert.equal(w.fd_write!(1, 0, 1, 0), EFAULT);
  const memory = new WebAssembly.Memory({ initial: 1 });
  wasi.bind(memory);
  assert.equal(w.fd_write!(1, 65530, 1, 0), EFAULT);
  assert.equal(w.fd_write!(1, -8, 1, 0), EFAULT);
  assert.equal(w.args_get!(65535, 65535), EFAULT);
  assert.equal(w.random_get!(65000, 4096), EFAULT);
  assert.equal(w.fd_read!(99, 0, 1, 0), EBADF);
  assert.equal(w.path_open!(3, 0, 0, 4, 0, 0n, 0n, 0, 0), EBADF);
  assert.equal(w.clock_time_get!(9, 0n, 0), 28);
  // a valid write still works afterwards
  const v = new DataView(memory.buffer);
  new Uint8Array(memory.buffer).set(new TextEncoder().encode('ok'), 100);
  v.setUint32(0, 100, true);
  v.setUint32(4, 2, true);
  assert.equal(w.fd_write!(1, 0, 1, 8), 0);
  assert.equal(dec(wasi.stdout()), 'ok');
});

test('a C-style program sees no host file without a grant', () => {
  // clock and random work; they are not capabilities of the host file system
  const wasi = createWasi({ args: ['g'], env: {}, stdin: new Uint8Array(0), maxStdoutBytes: 1000, preopens: [] });
  const memory = new WebAssembly.Memory({ initial: 1 });
  wasi.bind(memory);
  const w = wasi.imports.wasi_snapshot_preview1;
  assert.equal(w.clock_time_get!(0, 0n, 16), 0);
  const ns = new DataView(memory.buffer).getBigUint64(16, true);
  assert.ok(Math.abs(Number(ns / 1_000_000n) - Date.now()) < 60_000);
  assert.equal(w.random_get!(32, 16), 0);
  assert.equal(w.fd_prestat_get!(3, 0), EBADF);
});

/** A shim over `dir` with one memory; `s(at, text)` writes a string, returns its length. */
function shim(dir: string, writable: boolean, guest = '/d') {
  const wasi = createWasi({ args: ['g'], env: {}, stdin: new Uint8Array(0), maxStdoutBytes: 1000, preopens: [{ host: dir, guest, writable }] });
  const memory = new WebAssembly.Memory({ initial: 1 });
  wasi.bind(memory);
  const s = (at: number, text: string): number => {
    const b = new TextEncoder().encode(text);
    new Uint8Array(memory.buffer).set(b, at);
    return b.length;
  };
  return { w: wasi.imports.wasi_snapshot_preview1, memory, s, wasi };
}
const ENAMETOOLONG = 37, ELOOP = 32;

test('a bad result pointer fails before anything is opened or created (EFAULT, no file, no host fd)', () => {
  withDir((dir) => {
    const { w, s, wasi } = shim(dir, true);
    const n = s(100, 'made.txt');
    const fdsBefore = fdsUnder(dir);
    assert.equal(w.path_open!(3, 1, 100, n, 1 /* O_CREAT */, 64n, 0n, 0, 65536), EFAULT);
    assert.equal(existsSync(path.join(dir, 'made.txt')), false);
    assert.equal(fdsUnder(dir), fdsBefore);
    // reading stdin with a bad count pointer consumes nothing: the next good read gets the bytes
    const withStdin = createWasi({ args: ['g'], env: {}, stdin: new TextEncoder().encode('abc'), maxStdoutBytes: 100, preopens: [] });
    const m2 = new WebAssembly.Memory({ initial: 1 });
    withStdin.bind(m2);
    const r = withStdin.imports.wasi_snapshot_preview1;
    new DataView(m2.buffer).setUint32(0, 100, true);
    new DataView(m2.buffer).setUint32(4, 3, true);
    assert.equal(r.fd_read!(0, 0, 1, 65536), EFAULT);
    assert.equal(r.fd_read!(0, 0, 1, 8), 0);
    assert.equal(new DataView(m2.buffer).getUint32(8, true), 3);
    assert.equal(new TextDecoder().decode(new Uint8Array(m2.buffer, 100, 3)), 'abc');
    // a 4 MiB path is NAMETOOLONG (not FAULT, though it is larger than the memory)
    assert.equal(w.path_open!(3, 1, 0, 4 * 1024 * 1024, 0, 2n, 0n, 0, 0), ENAMETOOLONG);
    wasi.dispose();
  });
});

test('guest-made links never lead out: refused targets, and a link to .. is confined to the dir fd it is used from', () => {
  withDir((dir) => {
    const data = path.join(dir, 'data');
    mkdirSync(path.join(data, 'sub'), { recursive: true });
    writeFileSync(path.join(dir, 'secret'), 'outside');
    const { w, s, wasi, memory } = shim(data, true);
    const link = (target: string, name: string): number => w.path_symlink!(200, s(200, target), 3, 300, s(300, name));
    assert.equal(link('../secret', 'out'), ENOTCAPABLE);
    assert.equal(link('/etc/passwd', 'abs'), ENOTCAPABLE);
    assert.equal(link('sub/../../secret', 'out2'), ENOTCAPABLE);
    assert.equal(existsSync(path.join(data, 'out')) || existsSync(path.join(data, 'abs')) || existsSync(path.join(data, 'out2')), false);
    // "sub/up" -> ".." points at the grant root: usable from the root fd, above the fd for one opened on sub
    assert.equal(link('..', 'sub/up'), 0);
    const open = (dirfd: number, p: string): number => w.path_open!(dirfd, 1, 400, s(400, p), 0, 2n, 0n, 0, 500);
    assert.equal(open(3, 'sub/up/sub'), 0);
    assert.equal(open(3, 'sub/up/../secret'), ENOTCAPABLE, 'through the link to the root, then above it');
    assert.equal(w.path_open!(3, 1, 400, s(400, 'sub'), 2 /* O_DIRECTORY */, 0n, 0n, 0, 500), 0);
    const subFd = new DataView(memory.buffer).getUint32(500, true);
    assert.equal(open(subFd, 'up/sub'), ENOTCAPABLE);
    assert.equal(open(subFd, 'up'), ENOTCAPABLE);
    // not following is fine: the link itself is inside
    assert.equal(w.path_open!(subFd, 0, 400, s(400, 'up'), 0, 0n, 0n, 0, 500), ELOOP);
    // a host link swapped in where the guest made one is walked the same way
    symlinkSync('/etc', path.join(data, 'etc'));
    assert.equal(open(3, 'etc/passwd'), ENOTCAPABLE);
    wasi.dispose();
  });
});

test('links are made only in a writable grant, and never give a second, writable name to a read-only file', () => {
  withDir((dir) => {
    const ro = path.join(dir, 'ro');
    const rw = path.join(dir, 'rw');
    mkdirSync(ro);
    mkdirSync(rw);
    writeFileSync(path.join(ro, 'keep.txt'), 'read-only');
    const wasi = createWasi({ args: ['g'], env: {}, stdin: new Uint8Array(0), maxStdoutBytes: 1000, preopens: [
      { host: ro, guest: '/ro', writable: false }, { host: rw, guest: '/rw', writable: true }] });
    const memory = new WebAssembly.Memory({ initial: 1 });
    wasi.bind(memory);
    const w = wasi.imports.wasi_snapshot_preview1;
    const s = (at: number, text: string): number => { const b = new TextEncoder().encode(text); new Uint8Array(memory.buffer).set(b, at); return b.length; };
    assert.equal(w.path_symlink!(100, s(100, 'keep.txt'), 3, 200, s(200, 'l')), EROFS);
    assert.equal(w.path_link!(3, 0, 100, s(100, 'keep.txt'), 4, 200, s(200, 'second.txt')), EROFS);
    assert.equal(existsSync(path.join(rw, 'second.txt')), false);
    writeFileSync(path.join(rw, 'a.txt'), 'a');
    mkdirSync(path.join(rw, 'other'));
    assert.equal(w.path_link!(4, 0, 100, s(100, 'a.txt'), 4, 200, s(200, 'other/b.txt')), 0);
    assert.equal(readFileSync(path.join(rw, 'other/b.txt'), 'utf8'), 'a');
    wasi.dispose();
  });
});
