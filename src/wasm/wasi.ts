/**
 * A WASI preview1 host written in plain JS, built as a sandbox: in-memory stdio, args, env, clocks,
 * random, proc_exit, and directory preopens only for granted directories. Every other call returns a
 * WASI errno; a bad pointer or any host-side failure inside a call becomes an errno too. The only things
 * that leave an import by throwing are ProcExit and OutputLimitExceeded, both caught by the ABI runners.
 * Why not node:wasi or a library: docs/decisions/001-wasi-preview1-in-js.md.
 */
import { randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import nodePath from 'node:path';
import type { DirGrant } from './limits.js';

export interface WasiOptions {
  /** argv as the guest sees it, argv[0] included. */
  args: string[];
  env: Record<string, string>;
  stdin: Uint8Array;
  /** Cap on each of stdout and stderr; passing it ends the run with OutputLimitExceeded. */
  maxStdoutBytes: number;
  preopens: DirGrant[];
}

export interface Wasi {
  imports: { wasi_snapshot_preview1: Record<string, Function> };
  /** Call after instantiation with the instance's memory. */
  bind(memory: WebAssembly.Memory): void;
  stdout(): Uint8Array;
  stderr(): Uint8Array;
  /** Closes host files the guest left open. The runners call it; call it if you use createWasi with preopens. */
  dispose(): void;
}

/** Thrown by proc_exit to unwind the guest; not an Error, so no stack is captured. */
export class ProcExit {
  constructor(readonly code: number) {}
}

/** Thrown by fd_write when a stream passes its cap. */
export class OutputLimitExceeded {
  constructor(readonly stream: 'stdout' | 'stderr', readonly limit: number) {}
}

// errno values of wasi_snapshot_preview1
export const E = {
  SUCCESS: 0, ACCES: 2, BADF: 8, BUSY: 10, EXIST: 20, FAULT: 21, INVAL: 28, IO: 29, ISDIR: 31, LOOP: 32,
  MFILE: 33, NAMETOOLONG: 37, NOENT: 44, NOSPC: 51, NOSYS: 52, NOTDIR: 54, NOTEMPTY: 55, NOTSUP: 58,
  PERM: 63, ROFS: 69, SPIPE: 70, XDEV: 75, NOTCAPABLE: 76,
} as const;

const nodeErrno: Record<string, number> = {
  ENOENT: E.NOENT, EEXIST: E.EXIST, ENOTDIR: E.NOTDIR, EISDIR: E.ISDIR, EACCES: E.ACCES, EPERM: E.PERM,
  ENOTEMPTY: E.NOTEMPTY, EBADF: E.BADF, EINVAL: E.INVAL, ENOSPC: E.NOSPC, EROFS: E.ROFS, ELOOP: E.LOOP,
  ENAMETOOLONG: E.NAMETOOLONG, EBUSY: E.BUSY, EXDEV: E.XDEV, EMFILE: E.MFILE,
};

const FILETYPE = { UNKNOWN: 0, CHAR: 2, DIR: 3, FILE: 4, SYMLINK: 7 } as const;
const RIGHT_FD_WRITE = 1n << 6n;
const ALL_RIGHTS = (1n << 30n) - 1n;
const O_CREAT = 1, O_DIRECTORY = 2, O_EXCL = 4, O_TRUNC = 8;
const FDFLAG_APPEND = 1;

/** Thrown inside a call to return an errno from deep helpers. */
class Errno {
  constructor(readonly code: number) {}
}

interface Fd {
  kind: 'stdin' | 'stdout' | 'stderr' | 'dir' | 'file';
  /** Host path (dir and file). */
  host: string;
  /** Path components below the grant root (dir). */
  rel: string[];
  grant: PreopenGrant | null;
  /** Name shown to the guest for a preopen, else ''. */
  preopen: string;
  writable: boolean;
  nodeFd: number;
  pos: number;
  append: boolean;
  dirents: { name: string; type: number; ino: bigint }[] | null;
}

interface PreopenGrant { hostReal: string; writable: boolean }

const hrBase = process.hrtime.bigint();
const epochBaseNs = BigInt(Date.now()) * 1_000_000n;
const sleepCell = new Int32Array(new SharedArrayBuffer(4));
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
const empty = new Uint8Array(0);

function encodeZ(items: string[]): Uint8Array[] {
  return items.map((s) => {
    const b = encoder.encode(s);
    const z = new Uint8Array(b.length + 1);
    z.set(b);
    return z;
  });
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  return out;
}

function errnoOf(err: unknown): number {
  if (err instanceof Errno) return err.code;
  if (err instanceof RangeError) return E.FAULT; // out-of-bounds pointer from the guest
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return (code && nodeErrno[code]) || E.IO;
}

function isInside(real: string, root: string): boolean {
  return real === root || real.startsWith(root.endsWith(nodePath.sep) ? root : root + nodePath.sep);
}

export function createWasi(opts: WasiOptions): Wasi {
  const argv = encodeZ(opts.args);
  const envv = encodeZ(Object.entries(opts.env).map(([k, v]) => `${k}=${v}`));
  const stdin = opts.stdin;
  const max = opts.maxStdoutBytes;
  let stdinPos = 0;
  const out = { stdout: [] as Uint8Array[], stderr: [] as Uint8Array[] };
  const outLen = { stdout: 0, stderr: 0 };

  let memory: WebAssembly.Memory | null = null;
  let buf: ArrayBuffer | null = null;
  let dv: DataView = new DataView(new ArrayBuffer(0));
  let u8: Uint8Array = empty;
  function mem(): DataView {
    if (!memory) throw new Errno(E.FAULT); // called from a start function before bind(): no memory yet
    const b = memory.buffer as ArrayBuffer;
    if (b !== buf) {
      buf = b;
      dv = new DataView(b);
      u8 = new Uint8Array(b);
    }
    return dv;
  }
  function bytesAt(ptr: number, len: number): Uint8Array {
    mem();
    if (ptr + len > u8.length) throw new Errno(E.FAULT);
    return u8.subarray(ptr, ptr + len);
  }
  function strAt(ptr: number, len: number): string {
    try {
      return decoder.decode(bytesAt(ptr >>> 0, len >>> 0));
    } catch (e) {
      if (e instanceof Errno) throw e;
      throw new Errno(E.INVAL); // not UTF-8
    }
  }

  const fds: (Fd | undefined)[] = [];
  const base = { host: '', rel: [], grant: null, preopen: '', writable: false, nodeFd: -1, pos: 0, append: false, dirents: null };
  fds[0] = { ...base, kind: 'stdin' };
  fds[1] = { ...base, kind: 'stdout' };
  fds[2] = { ...base, kind: 'stderr' };
  for (const g of opts.preopens) {
    let hostReal: string;
    try {
      hostReal = fs.realpathSync(g.host);
      if (!fs.statSync(hostReal).isDirectory()) throw new Error('not a directory');
    } catch (err) {
      throw new Error(`cannot grant directory ${g.host}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (err as Error).message}`);
    }
    const guest = g.guest || '/';
    const grant = { hostReal, writable: g.writable };
    fds.push({ ...base, kind: 'dir', host: hostReal, rel: [], grant, preopen: guest, writable: g.writable });
  }

  function fdOf(fd: number): Fd {
    const f = fds[fd];
    if (!f) throw new Errno(E.BADF);
    return f;
  }
  function fileFd(fd: number): Fd {
    const f = fdOf(fd);
    if (f.kind === 'dir') throw new Errno(E.ISDIR);
    if (f.kind !== 'file') throw new Errno(E.SPIPE);
    return f;
  }

  /** Guest path relative to a dir fd -> host path that is guaranteed to lie in the grant (symlinks included). */
  function resolve(dirfd: number, ptr: number, len: number, forCreate: boolean): { host: string; real: string; rel: string[]; grant: PreopenGrant } {
    const dir = fdOf(dirfd);
    if (dir.kind !== 'dir' || !dir.grant) throw new Errno(dir.kind === 'file' ? E.NOTDIR : E.BADF);
    const p = strAt(ptr, len);
    if (p.includes('\0')) throw new Errno(E.INVAL);
    if (p.startsWith('/')) throw new Errno(E.NOTCAPABLE);
    const rel = [...dir.rel];
    for (const c of p.split('/')) {
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (rel.length === 0) throw new Errno(E.NOTCAPABLE);
        rel.pop();
      } else rel.push(c);
    }
    const host = nodePath.join(dir.grant.hostReal, ...rel);
    // Guests cannot create symlinks, so any symlink is the host's; follow it only if it stays inside.
    let real: string;
    try {
      real = fs.realpathSync(host);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !forCreate) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          // A dangling symlink pointing outside must not reveal more than "no such file".
          throw new Errno(E.NOENT);
        }
        throw err;
      }
      const parent = fs.realpathSync(nodePath.dirname(host));
      if (!isInside(parent, dir.grant.hostReal)) throw new Errno(E.NOTCAPABLE);
      try {
        if (fs.lstatSync(host).isSymbolicLink()) throw new Errno(E.NOTCAPABLE); // dangling link: creating would write through it
      } catch (e) {
        if (e instanceof Errno) throw e;
      }
      return { host, real: nodePath.join(parent, nodePath.basename(host)), rel, grant: dir.grant };
    }
    if (!isInside(real, dir.grant.hostReal)) throw new Errno(E.NOTCAPABLE);
    return { host, real, rel, grant: dir.grant };
  }

  function writeFilestat(ptr: number, st: fs.BigIntStats): void {
    const v = mem();
    const type = st.isDirectory() ? FILETYPE.DIR : st.isFile() ? FILETYPE.FILE : st.isSymbolicLink() ? FILETYPE.SYMLINK
      : st.isCharacterDevice() ? FILETYPE.CHAR : FILETYPE.UNKNOWN;
    v.setBigUint64(ptr, st.dev, true);
    v.setBigUint64(ptr + 8, st.ino, true);
    v.setUint8(ptr + 16, type);
    v.setBigUint64(ptr + 24, st.nlink, true);
    v.setBigUint64(ptr + 32, st.size, true);
    v.setBigUint64(ptr + 40, st.atimeNs, true);
    v.setBigUint64(ptr + 48, st.mtimeNs, true);
    v.setBigUint64(ptr + 56, st.ctimeNs, true);
  }

  function emit(stream: 'stdout' | 'stderr', data: Uint8Array): void {
    if (outLen[stream] + data.length > max) {
      const room = max - outLen[stream];
      if (room > 0) out[stream].push(data.slice(0, room));
      outLen[stream] = max;
      throw new OutputLimitExceeded(stream, max);
    }
    out[stream].push(data.slice());
    outLen[stream] += data.length;
  }

  function iovs(ptr: number, n: number): [number, number][] {
    const v = mem();
    const list: [number, number][] = [];
    for (let i = 0; i < n; i++) {
      const p = v.getUint32(ptr + i * 8, true);
      const l = v.getUint32(ptr + i * 8 + 4, true);
      if (p + l > u8.length) throw new Errno(E.FAULT);
      list.push([p, l]);
    }
    return list;
  }

  function readInto(f: Fd, list: [number, number][], at: number | null): number {
    let total = 0;
    if (f.kind === 'stdin') {
      for (const [p, l] of list) {
        const n = Math.min(l, stdin.length - stdinPos);
        if (n <= 0) break;
        u8.set(stdin.subarray(stdinPos, stdinPos + n), p);
        stdinPos += n;
        total += n;
      }
      return total;
    }
    if (f.kind === 'dir') throw new Errno(E.ISDIR);
    if (f.kind !== 'file') throw new Errno(E.BADF);
    let pos = at ?? f.pos;
    for (const [p, l] of list) {
      const n = fs.readSync(f.nodeFd, u8, p, l, pos);
      total += n;
      pos += n;
      if (n < l) break;
    }
    if (at === null) f.pos = pos;
    return total;
  }

  function writeFrom(f: Fd, list: [number, number][], at: number | null): number {
    let total = 0;
    if (f.kind === 'stdout' || f.kind === 'stderr') {
      for (const [p, l] of list) {
        if (l === 0) continue;
        emit(f.kind, u8.subarray(p, p + l));
        total += l;
      }
      return total;
    }
    if (f.kind === 'dir') throw new Errno(E.ISDIR);
    if (f.kind !== 'file' || !f.writable) throw new Errno(E.BADF);
    let pos = at ?? (f.append ? fs.fstatSync(f.nodeFd).size : f.pos);
    for (const [p, l] of list) {
      const n = fs.writeSync(f.nodeFd, u8, p, l, pos);
      total += n;
      pos += n;
    }
    if (at === null) f.pos = pos;
    return total;
  }

  function needWritable(grant: PreopenGrant): void {
    if (!grant.writable) throw new Errno(E.ROFS);
  }

  function now(id: number): bigint {
    switch (id) {
      case 0: return epochBaseNs + (process.hrtime.bigint() - hrBase);
      case 1: case 2: case 3: return process.hrtime.bigint();
      default: throw new Errno(E.INVAL);
    }
  }

  const raw: Record<string, (...a: any[]) => number> = {
    args_sizes_get(countPtr: number, sizePtr: number) {
      return putSizes(argv, countPtr >>> 0, sizePtr >>> 0);
    },
    args_get(ptrs: number, bufPtr: number) {
      return putStrings(argv, ptrs >>> 0, bufPtr >>> 0);
    },
    environ_sizes_get(countPtr: number, sizePtr: number) {
      return putSizes(envv, countPtr >>> 0, sizePtr >>> 0);
    },
    environ_get(ptrs: number, bufPtr: number) {
      return putStrings(envv, ptrs >>> 0, bufPtr >>> 0);
    },
    clock_res_get(id: number, resPtr: number) {
      now(id);
      mem().setBigUint64(resPtr >>> 0, id === 0 ? 1000n : 1n, true);
      return 0;
    },
    clock_time_get(id: number, _precision: bigint, timePtr: number) {
      mem().setBigUint64(timePtr >>> 0, now(id), true);
      return 0;
    },
    random_get(ptr: number, len: number) {
      randomFillSync(bytesAt(ptr >>> 0, len >>> 0));
      return 0;
    },
    proc_exit(code: number): number {
      throw new ProcExit(code >>> 0);
    },
    proc_raise() { return E.NOSYS; },
    sched_yield() { return 0; },
    fd_write(fd: number, iovsPtr: number, n: number, nwrittenPtr: number) {
      const f = fdOf(fd);
      const list = iovs(iovsPtr >>> 0, n >>> 0);
      const total = writeFrom(f, list, null);
      mem().setUint32(nwrittenPtr >>> 0, total, true);
      return 0;
    },
    fd_pwrite(fd: number, iovsPtr: number, n: number, offset: bigint, nwrittenPtr: number) {
      const f = fileFd(fd);
      const total = writeFrom(f, iovs(iovsPtr >>> 0, n >>> 0), Number(offset));
      mem().setUint32(nwrittenPtr >>> 0, total, true);
      return 0;
    },
    fd_read(fd: number, iovsPtr: number, n: number, nreadPtr: number) {
      const f = fdOf(fd);
      const total = readInto(f, iovs(iovsPtr >>> 0, n >>> 0), null);
      mem().setUint32(nreadPtr >>> 0, total, true);
      return 0;
    },
    fd_pread(fd: number, iovsPtr: number, n: number, offset: bigint, nreadPtr: number) {
      const f = fileFd(fd);
      const total = readInto(f, iovs(iovsPtr >>> 0, n >>> 0), Number(offset));
      mem().setUint32(nreadPtr >>> 0, total, true);
      return 0;
    },
    fd_seek(fd: number, offset: bigint, whence: number, newPtr: number) {
      const f = fileFd(fd);
      const baseAt = whence === 0 ? 0 : whence === 1 ? f.pos : whence === 2 ? fs.fstatSync(f.nodeFd).size : NaN;
      const pos = baseAt + Number(offset);
      if (!Number.isFinite(pos) || pos < 0) return E.INVAL;
      f.pos = pos;
      mem().setBigUint64(newPtr >>> 0, BigInt(pos), true);
      return 0;
    },
    fd_tell(fd: number, ptr: number) {
      const f = fileFd(fd);
      mem().setBigUint64(ptr >>> 0, BigInt(f.pos), true);
      return 0;
    },
    fd_close(fd: number) {
      const f = fdOf(fd);
      if (f.kind === 'file') fs.closeSync(f.nodeFd);
      fds[fd] = undefined;
      return 0;
    },
    fd_sync(fd: number) { fileFd(fd); return 0; },
    fd_datasync(fd: number) { fileFd(fd); return 0; },
    fd_advise(fd: number) { fileFd(fd); return 0; },
    fd_allocate(fd: number) { fileFd(fd); return E.NOTSUP; },
    fd_fdstat_get(fd: number, ptr: number) {
      const f = fdOf(fd);
      const v = mem();
      ptr >>>= 0;
      const type = f.kind === 'dir' ? FILETYPE.DIR : f.kind === 'file' ? FILETYPE.FILE : FILETYPE.UNKNOWN;
      v.setUint8(ptr, type);
      v.setUint16(ptr + 2, f.append ? FDFLAG_APPEND : 0, true);
      const rights = f.kind === 'stdin' ? 0b10n : f.kind === 'stdout' || f.kind === 'stderr' ? RIGHT_FD_WRITE : ALL_RIGHTS;
      v.setBigUint64(ptr + 8, rights, true);
      v.setBigUint64(ptr + 16, f.kind === 'dir' ? ALL_RIGHTS : 0n, true);
      return 0;
    },
    fd_fdstat_set_flags(fd: number) { fdOf(fd); return E.NOTSUP; },
    fd_fdstat_set_rights(fd: number) { fdOf(fd); return E.NOTSUP; },
    fd_filestat_get(fd: number, ptr: number) {
      const f = fdOf(fd);
      ptr >>>= 0;
      if (f.kind === 'file') writeFilestat(ptr, fs.fstatSync(f.nodeFd, { bigint: true }));
      else if (f.kind === 'dir') writeFilestat(ptr, fs.statSync(f.host, { bigint: true }));
      else {
        bytesAt(ptr, 64).fill(0);
        mem().setUint8(ptr + 16, FILETYPE.UNKNOWN);
      }
      return 0;
    },
    fd_filestat_set_size(fd: number, size: bigint) {
      const f = fileFd(fd);
      if (!f.writable) return E.BADF;
      fs.ftruncateSync(f.nodeFd, Number(size));
      return 0;
    },
    fd_filestat_set_times(fd: number) { fdOf(fd); return E.NOSYS; },
    fd_renumber() { return E.NOSYS; },
    fd_prestat_get(fd: number, ptr: number) {
      const f = fdOf(fd);
      if (!f.preopen) return E.BADF;
      const v = mem();
      v.setUint8(ptr >>> 0, 0);
      v.setUint32((ptr >>> 0) + 4, encoder.encode(f.preopen).length, true);
      return 0;
    },
    fd_prestat_dir_name(fd: number, ptr: number, len: number) {
      const f = fdOf(fd);
      if (!f.preopen) return E.BADF;
      const name = encoder.encode(f.preopen);
      if ((len >>> 0) < name.length) return E.NAMETOOLONG;
      bytesAt(ptr >>> 0, name.length).set(name);
      return 0;
    },
    fd_readdir(fd: number, bufPtr: number, bufLen: number, cookie: bigint, usedPtr: number) {
      const f = fdOf(fd);
      if (f.kind !== 'dir') return E.NOTDIR;
      if (cookie === 0n || !f.dirents) {
        const st = fs.statSync(f.host, { bigint: true });
        f.dirents = [{ name: '.', type: FILETYPE.DIR, ino: st.ino }, { name: '..', type: FILETYPE.DIR, ino: 0n }];
        for (const d of fs.readdirSync(f.host, { withFileTypes: true })) {
          const type = d.isDirectory() ? FILETYPE.DIR : d.isFile() ? FILETYPE.FILE : d.isSymbolicLink() ? FILETYPE.SYMLINK : FILETYPE.UNKNOWN;
          f.dirents.push({ name: d.name, type, ino: 0n });
        }
      }
      bufPtr >>>= 0;
      bufLen >>>= 0;
      const target = bytesAt(bufPtr, bufLen);
      let used = 0;
      for (let i = Number(cookie); i < f.dirents.length && used < bufLen; i++) {
        const d = f.dirents[i]!;
        const name = encoder.encode(d.name);
        const entry = new Uint8Array(24 + name.length);
        const ev = new DataView(entry.buffer);
        ev.setBigUint64(0, BigInt(i + 1), true);
        ev.setBigUint64(8, d.ino, true);
        ev.setUint32(16, name.length, true);
        ev.setUint8(20, d.type);
        entry.set(name, 24);
        const n = Math.min(entry.length, bufLen - used); // a cut entry tells libc to call again with a bigger buffer
        target.set(entry.subarray(0, n), used);
        used += n;
      }
      mem().setUint32(usedPtr >>> 0, used, true);
      return 0;
    },
    path_open(dirfd: number, _dirflags: number, pathPtr: number, pathLen: number, oflags: number,
      rightsBase: bigint, _rightsInh: bigint, fdflags: number, fdPtr: number) {
      const wantWrite = (rightsBase & RIGHT_FD_WRITE) !== 0n || (oflags & (O_CREAT | O_TRUNC)) !== 0 || (fdflags & FDFLAG_APPEND) !== 0;
      const { real: host, rel, grant } = resolve(dirfd, pathPtr, pathLen, (oflags & O_CREAT) !== 0);
      if (wantWrite) needWritable(grant);
      let st: fs.Stats | null = null;
      try {
        st = fs.statSync(host);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      if (st && (oflags & O_CREAT) && (oflags & O_EXCL)) return E.EXIST;
      if (!st && !(oflags & O_CREAT)) return E.NOENT;
      let fdObj: Fd;
      if (st?.isDirectory()) {
        if ((rightsBase & RIGHT_FD_WRITE) !== 0n || (oflags & O_TRUNC)) return E.ISDIR;
        fdObj = { ...base, kind: 'dir', host, rel, grant, writable: grant.writable };
      } else {
        if (oflags & O_DIRECTORY) return E.NOTDIR;
        if (st && !st.isFile()) return E.ACCES; // devices, FIFOs and sockets stay out of reach
        const c = fs.constants;
        let flags = wantWrite ? c.O_RDWR : c.O_RDONLY;
        if (oflags & O_CREAT) flags |= c.O_CREAT;
        if (oflags & O_EXCL) flags |= c.O_EXCL;
        if (oflags & O_TRUNC) flags |= c.O_TRUNC;
        const nodeFd = fs.openSync(host, flags | c.O_NOFOLLOW, 0o644);
        fdObj = { ...base, kind: 'file', host, rel, grant, writable: wantWrite, nodeFd, append: (fdflags & FDFLAG_APPEND) !== 0 };
      }
      let n = 3;
      while (fds[n]) n++;
      fds[n] = fdObj;
      mem().setUint32(fdPtr >>> 0, n, true);
      return 0;
    },
    path_filestat_get(dirfd: number, flags: number, pathPtr: number, pathLen: number, ptr: number) {
      const { host } = resolve(dirfd, pathPtr, pathLen, false);
      writeFilestat(ptr >>> 0, flags & 1 ? fs.statSync(host, { bigint: true }) : fs.lstatSync(host, { bigint: true }));
      return 0;
    },
    path_filestat_set_times() { return E.NOSYS; },
    path_create_directory(dirfd: number, pathPtr: number, pathLen: number) {
      const { host, grant } = resolve(dirfd, pathPtr, pathLen, true);
      needWritable(grant);
      fs.mkdirSync(host);
      return 0;
    },
    path_remove_directory(dirfd: number, pathPtr: number, pathLen: number) {
      const { host, rel, grant } = resolve(dirfd, pathPtr, pathLen, false);
      needWritable(grant);
      if (rel.length === 0) return E.BUSY;
      fs.rmdirSync(host);
      return 0;
    },
    path_unlink_file(dirfd: number, pathPtr: number, pathLen: number) {
      const { host, grant } = resolve(dirfd, pathPtr, pathLen, false);
      needWritable(grant);
      if (fs.lstatSync(host).isDirectory()) return E.ISDIR;
      fs.unlinkSync(host);
      return 0;
    },
    path_rename(fd: number, oldPtr: number, oldLen: number, newFd: number, newPtr: number, newLen: number) {
      const from = resolve(fd, oldPtr, oldLen, false);
      const to = resolve(newFd, newPtr, newLen, true);
      needWritable(from.grant);
      needWritable(to.grant);
      if (from.rel.length === 0) return E.BUSY;
      fs.renameSync(from.host, to.host);
      return 0;
    },
    // Links would let a guest point outside its grant; none are made.
    path_link() { return E.NOTSUP; },
    path_symlink() { return E.NOTSUP; },
    path_readlink() { return E.NOTSUP; },
    poll_oneoff(inPtr: number, outPtr: number, nsubs: number, neventsPtr: number) {
      inPtr >>>= 0; outPtr >>>= 0; nsubs >>>= 0;
      if (nsubs === 0) return E.INVAL;
      const v = mem();
      const ready: { userdata: bigint; error: number; type: number; nbytes: bigint }[] = [];
      let minWait: bigint | null = null;
      const clocks: { userdata: bigint; deadline: bigint }[] = [];
      for (let i = 0; i < nsubs; i++) {
        const s = inPtr + i * 48;
        const userdata = v.getBigUint64(s, true);
        const tag = v.getUint8(s + 8);
        if (tag === 0) {
          const id = v.getUint32(s + 16, true);
          const timeout = v.getBigUint64(s + 24, true);
          const abs = (v.getUint16(s + 40, true) & 1) !== 0;
          let t: bigint;
          try { t = now(id); } catch { ready.push({ userdata, error: E.INVAL, type: 0, nbytes: 0n }); continue; }
          const wait = abs ? timeout - t : timeout;
          clocks.push({ userdata, deadline: process.hrtime.bigint() + (wait > 0n ? wait : 0n) });
          if (minWait === null || wait < minWait) minWait = wait;
        } else if (tag === 1 || tag === 2) {
          const f = fds[v.getUint32(s + 16, true)];
          if (!f) ready.push({ userdata, error: E.BADF, type: tag, nbytes: 0n });
          else {
            const nbytes = tag === 1 && f.kind === 'stdin' ? BigInt(stdin.length - stdinPos) : 0n;
            ready.push({ userdata, error: 0, type: tag, nbytes });
          }
        } else ready.push({ userdata, error: E.INVAL, type: tag, nbytes: 0n });
      }
      if (ready.length === 0 && minWait !== null && minWait > 0n) {
        // Sleep in slices so a thread termination by the watchdog is honoured promptly.
        const until = process.hrtime.bigint() + minWait;
        for (let left = minWait; left > 0n; left = until - process.hrtime.bigint()) {
          Atomics.wait(sleepCell, 0, 0, Math.min(50, Math.max(1, Number(left / 1_000_000n))));
        }
      }
      if (ready.length === 0) {
        const t = process.hrtime.bigint();
        for (const c of clocks) if (c.deadline <= t) ready.push({ userdata: c.userdata, error: 0, type: 0, nbytes: 0n });
      }
      for (let i = 0; i < ready.length; i++) {
        const e = ready[i]!;
        const o = outPtr + i * 32;
        bytesAt(o, 32).fill(0);
        v.setBigUint64(o, e.userdata, true);
        v.setUint16(o + 8, e.error, true);
        v.setUint8(o + 10, e.type);
        v.setBigUint64(o + 16, e.nbytes, true);
      }
      v.setUint32(neventsPtr >>> 0, ready.length, true);
      return 0;
    },
    sock_accept() { return E.NOSYS; },
    sock_recv() { return E.NOSYS; },
    sock_send() { return E.NOSYS; },
    sock_shutdown() { return E.NOSYS; },
  };

  function putSizes(items: Uint8Array[], countPtr: number, sizePtr: number): number {
    const v = mem();
    v.setUint32(countPtr, items.length, true);
    v.setUint32(sizePtr, items.reduce((n, a) => n + a.length, 0), true);
    return 0;
  }

  function putStrings(items: Uint8Array[], ptrs: number, bufPtr: number): number {
    const v = mem();
    let o = bufPtr;
    for (let i = 0; i < items.length; i++) {
      v.setUint32(ptrs + i * 4, o, true);
      bytesAt(o, items[i]!.length).set(items[i]!);
      o += items[i]!.length;
    }
    return 0;
  }

  // Wrappers are made on first lookup: instantiation asks only for what the module imports, and building
  // all ~45 per event was half the cost of running a trivial guest. The Proxy still answers spread/keys.
  const wrapped: Record<string, Function> = Object.create(null);
  const lookup = (name: string): Function | undefined => {
    let w = wrapped[name];
    if (w) return w;
    const f = Object.prototype.hasOwnProperty.call(raw, name) ? raw[name] : undefined;
    if (!f) return undefined;
    w = wrapped[name] = (a: any, b: any, c: any, d: any, e: any, g: any, h: any, i: any, j: any) => {
      try {
        return f(a, b, c, d, e, g, h, i, j);
      } catch (err) {
        if (err instanceof ProcExit || err instanceof OutputLimitExceeded) throw err;
        return errnoOf(err);
      }
    };
    return w;
  };
  const imports = new Proxy(wrapped, {
    get: (_t, name) => (typeof name === 'string' ? lookup(name) : undefined),
    has: (_t, name) => typeof name === 'string' && Object.prototype.hasOwnProperty.call(raw, name),
    ownKeys: () => Object.keys(raw),
    getOwnPropertyDescriptor: (_t, name) =>
      typeof name === 'string' && Object.prototype.hasOwnProperty.call(raw, name)
        ? { value: lookup(name), writable: true, enumerable: true, configurable: true }
        : undefined,
  });

  let stdoutCache: Uint8Array | null = null;
  let stderrCache: Uint8Array | null = null;
  return {
    imports: { wasi_snapshot_preview1: imports },
    bind(m: WebAssembly.Memory) {
      memory = m;
    },
    stdout() {
      if (!stdoutCache || stdoutCache.length !== outLen.stdout) stdoutCache = concat(out.stdout, outLen.stdout);
      return stdoutCache;
    },
    stderr() {
      if (!stderrCache || stderrCache.length !== outLen.stderr) stderrCache = concat(out.stderr, outLen.stderr);
      return stderrCache;
    },
    dispose() {
      for (let i = 3; i < fds.length; i++) {
        const f = fds[i];
        if (f?.kind === 'file') {
          try { fs.closeSync(f.nodeFd); } catch { /* already closed */ }
        }
        fds[i] = undefined;
      }
    },
  };
}
