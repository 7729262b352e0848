/**
 * The fd_* and path_* calls over host files of the granted directories. Paths become host paths only
 * through path.ts; rights are checked per call (rights.ts); every output pointer is checked before the
 * call does anything, so EFAULT never leaves a side effect behind.
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import type { Call, Ctx } from './context.js';
import { E, Errno } from './errno.js';
import { makeFd, type Fd, type Grant } from './fd-table.js';
import { climbsOut, confirmInside, dirFd, readPath, resolve, type Resolved } from './path.js';
import { DIR_BASE, DIR_INHERITING, fileRights, need, R } from './rights.js';
import { readStdin, writeStdio } from './stdio.js';

const FILETYPE = { UNKNOWN: 0, CHAR: 2, DIR: 3, FILE: 4, SYMLINK: 7 } as const;
const O_CREAT = 1, O_DIRECTORY = 2, O_EXCL = 4, O_TRUNC = 8;
const FD_APPEND = 1, FD_DSYNC = 2, FD_NONBLOCK = 4, FD_RSYNC = 8, FD_SYNC = 16;
const FD_FLAGS = FD_APPEND | FD_DSYNC | FD_NONBLOCK | FD_RSYNC | FD_SYNC;
const SYNC_FLAGS = FD_DSYNC | FD_RSYNC | FD_SYNC;
const FST_ATIM = 1, FST_ATIM_NOW = 2, FST_MTIM = 4, FST_MTIM_NOW = 8;
const LOOKUP_FOLLOW = 1;
const encoder = new TextEncoder();

function fileFd(f: Fd): Fd {
  if (f.kind === 'dir') throw new Errno(E.ISDIR);
  if (f.kind !== 'file') throw new Errno(E.SPIPE);
  return f;
}

function needWritable(grant: Grant | null): void {
  if (!grant?.writable) throw new Errno(E.ROFS);
}

function typeOf(st: fs.BigIntStats | fs.Dirent): number {
  return st.isDirectory() ? FILETYPE.DIR : st.isFile() ? FILETYPE.FILE : st.isSymbolicLink() ? FILETYPE.SYMLINK
    : st.isCharacterDevice() ? FILETYPE.CHAR : FILETYPE.UNKNOWN;
}

function writeFilestat(ctx: Ctx, ptr: number, st: fs.BigIntStats): void {
  const v = ctx.mem.dv;
  let atim = st.atimeNs, mtim = st.mtimeNs;
  const set = ctx.times?.get(`${st.dev}:${st.ino}`);
  if (set) {
    if (set.hostA === atim) atim = set.atim;
    if (set.hostM === mtim) mtim = set.mtim;
  }
  v.setBigUint64(ptr, st.dev, true);
  v.setBigUint64(ptr + 8, st.ino, true);
  v.setUint8(ptr + 16, typeOf(st));
  v.setBigUint64(ptr + 24, st.nlink, true);
  v.setBigUint64(ptr + 32, st.size, true);
  v.setBigUint64(ptr + 40, atim, true);
  v.setBigUint64(ptr + 48, mtim, true);
  v.setBigUint64(ptr + 56, st.ctimeNs, true);
}

/** Validates fstflags (INVAL for both a time and NOW), then sets the times through `apply`. */
function setTimes(ctx: Ctx, atim: bigint, mtim: bigint, flags: number, stat: () => fs.BigIntStats,
  apply: (a: number, m: number) => void): number {
  if ((flags & FST_ATIM && flags & FST_ATIM_NOW) || (flags & FST_MTIM && flags & FST_MTIM_NOW) || flags & ~15) return E.INVAL;
  const before = stat();
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const a = flags & FST_ATIM ? atim : flags & FST_ATIM_NOW ? nowNs : before.atimeNs;
  const m = flags & FST_MTIM ? mtim : flags & FST_MTIM_NOW ? nowNs : before.mtimeNs;
  apply(Number(a) / 1e9, Number(m) / 1e9);
  const after = stat();
  ctx.times ??= new Map();
  ctx.times.set(`${after.dev}:${after.ino}`, { atim: a, mtim: m, hostA: after.atimeNs, hostM: after.mtimeNs });
  return 0;
}

function readInto(ctx: Ctx, f: Fd, list: [number, number][], at: number | null): number {
  if (f.kind === 'dir') throw new Errno(E.ISDIR);
  need(f.base, R.FD_READ);
  if (f.kind === 'stdin') return readStdin(ctx, list);
  if (f.kind !== 'file') throw new Errno(E.BADF);
  const u8 = ctx.mem.u8;
  let total = 0;
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

function writeFrom(ctx: Ctx, f: Fd, list: [number, number][], at: number | null): number {
  if (f.kind === 'dir') throw new Errno(E.ISDIR);
  need(f.base, R.FD_WRITE);
  if (f.kind === 'stdout' || f.kind === 'stderr') return writeStdio(ctx, f.kind, list);
  if (f.kind !== 'file') throw new Errno(E.BADF);
  const u8 = ctx.mem.u8;
  let total = 0;
  // APPEND is kept here, not as the host's O_APPEND, so fd_fdstat_set_flags can clear it.
  let pos = at ?? (f.flags & FD_APPEND ? fs.fstatSync(f.nodeFd).size : f.pos);
  for (const [p, l] of list) {
    const n = fs.writeSync(f.nodeFd, u8, p, l, pos);
    total += n;
    pos += n;
  }
  if (at === null) f.pos = pos;
  return total;
}

/** Resolves a path argument of a path_* call below `fd`, after checking the directory's rights. */
function at(ctx: Ctx, fd: number, ptr: number, len: number, follow: boolean, right: bigint): Resolved {
  const dir = dirFd(ctx.fds.get(fd));
  need(dir.base, right);
  return resolve(dir, readPath(ctx.mem, ptr >>> 0, len >>> 0), follow);
}

function loadDirents(f: Fd): NonNullable<Fd['dirents']> {
  const self = fs.lstatSync(f.host, { bigint: true });
  const parentIno = f.rel.length > 0 ? fs.lstatSync(nodePath.dirname(f.host), { bigint: true }).ino : self.ino;
  const list: NonNullable<Fd['dirents']> = [{ name: '.', type: FILETYPE.DIR, ino: self.ino }, { name: '..', type: FILETYPE.DIR, ino: parentIno }];
  for (const d of fs.readdirSync(f.host, { withFileTypes: true })) {
    let ino = 0n;
    try { ino = fs.lstatSync(nodePath.join(f.host, d.name), { bigint: true }).ino; } catch { /* gone since readdir */ }
    list.push({ name: d.name, type: typeOf(d), ino });
  }
  return list;
}

export const fsCalls: Record<string, Call> = {
  fd_write(ctx, fd: number, iovsPtr: number, n: number, nwrittenPtr: number) {
    ctx.mem.check(nwrittenPtr >>> 0, 4);
    const f = ctx.fds.get(fd);
    const total = writeFrom(ctx, f, ctx.mem.iovs(iovsPtr >>> 0, n >>> 0), null);
    ctx.mem.dv.setUint32(nwrittenPtr >>> 0, total, true);
    return 0;
  },
  fd_pwrite(ctx, fd: number, iovsPtr: number, n: number, offset: bigint, nwrittenPtr: number) {
    ctx.mem.check(nwrittenPtr >>> 0, 4);
    const f = fileFd(ctx.fds.get(fd));
    if (offset < 0n) return E.INVAL;
    const total = writeFrom(ctx, f, ctx.mem.iovs(iovsPtr >>> 0, n >>> 0), Number(offset));
    ctx.mem.dv.setUint32(nwrittenPtr >>> 0, total, true);
    return 0;
  },
  fd_read(ctx, fd: number, iovsPtr: number, n: number, nreadPtr: number) {
    ctx.mem.check(nreadPtr >>> 0, 4);
    const f = ctx.fds.get(fd);
    const total = readInto(ctx, f, ctx.mem.iovs(iovsPtr >>> 0, n >>> 0), null);
    ctx.mem.dv.setUint32(nreadPtr >>> 0, total, true);
    return 0;
  },
  fd_pread(ctx, fd: number, iovsPtr: number, n: number, offset: bigint, nreadPtr: number) {
    ctx.mem.check(nreadPtr >>> 0, 4);
    const f = fileFd(ctx.fds.get(fd));
    if (offset < 0n) return E.INVAL;
    const total = readInto(ctx, f, ctx.mem.iovs(iovsPtr >>> 0, n >>> 0), Number(offset));
    ctx.mem.dv.setUint32(nreadPtr >>> 0, total, true);
    return 0;
  },
  fd_seek(ctx, fd: number, offset: bigint, whence: number, newPtr: number) {
    ctx.mem.check(newPtr >>> 0, 8);
    const f = fileFd(ctx.fds.get(fd));
    need(f.base, offset === 0n && whence === 1 ? R.FD_TELL : R.FD_SEEK);
    const baseAt = whence === 0 ? 0 : whence === 1 ? f.pos : whence === 2 ? fs.fstatSync(f.nodeFd).size : NaN;
    const pos = baseAt + Number(offset);
    if (!Number.isSafeInteger(pos) || pos < 0) return E.INVAL;
    f.pos = pos;
    ctx.mem.dv.setBigUint64(newPtr >>> 0, BigInt(pos), true);
    return 0;
  },
  fd_tell(ctx, fd: number, ptr: number) {
    ctx.mem.check(ptr >>> 0, 8);
    const f = fileFd(ctx.fds.get(fd));
    need(f.base, R.FD_TELL);
    ctx.mem.dv.setBigUint64(ptr >>> 0, BigInt(f.pos), true);
    return 0;
  },
  fd_close(ctx, fd: number) {
    ctx.fds.close(fd);
    return 0;
  },
  fd_sync(ctx, fd: number) {
    const f = fileFd(ctx.fds.get(fd));
    need(f.base, R.FD_SYNC);
    fs.fsyncSync(f.nodeFd);
    return 0;
  },
  fd_datasync(ctx, fd: number) {
    const f = fileFd(ctx.fds.get(fd));
    need(f.base, R.FD_DATASYNC);
    fs.fdatasyncSync(f.nodeFd);
    return 0;
  },
  fd_advise(ctx, fd: number, _offset: bigint, _len: bigint, advice: number) {
    const f = fileFd(ctx.fds.get(fd));
    need(f.base, R.FD_ADVISE);
    return advice >= 0 && advice <= 5 ? 0 : E.INVAL; // advice only; Node has no posix_fadvise
  },
  fd_allocate(ctx, fd: number, offset: bigint, len: bigint) {
    const f = fileFd(ctx.fds.get(fd));
    need(f.base, R.FD_ALLOCATE);
    needWritable(f.grant);
    if (offset < 0n || len <= 0n) return E.INVAL;
    const end = offset + len;
    if (end > BigInt(Number.MAX_SAFE_INTEGER)) return E.INVAL;
    if (BigInt(fs.fstatSync(f.nodeFd).size) < end) fs.ftruncateSync(f.nodeFd, Number(end));
    return 0;
  },
  fd_fdstat_get(ctx, fd: number, ptr: number) {
    ptr >>>= 0;
    ctx.mem.check(ptr, 24);
    const f = ctx.fds.get(fd);
    const v = ctx.mem.dv;
    const type = f.kind === 'dir' ? FILETYPE.DIR : f.kind === 'file' ? FILETYPE.FILE : FILETYPE.UNKNOWN;
    ctx.mem.u8.fill(0, ptr, ptr + 24);
    v.setUint8(ptr, type);
    v.setUint16(ptr + 2, f.flags, true);
    v.setBigUint64(ptr + 8, f.base, true);
    v.setBigUint64(ptr + 16, f.inheriting, true);
    return 0;
  },
  fd_fdstat_set_flags(ctx, fd: number, flags: number) {
    const f = ctx.fds.get(fd);
    need(f.base, R.FD_FDSTAT_SET_FLAGS);
    if (flags & ~FD_FLAGS) return E.INVAL;
    // The host fd's O_SYNC/O_DSYNC cannot be changed after open from Node (no fcntl).
    if ((flags & SYNC_FLAGS) !== (f.flags & SYNC_FLAGS)) return E.NOTSUP;
    f.flags = flags;
    return 0;
  },
  fd_fdstat_set_rights(ctx, fd: number, base: bigint, inheriting: bigint) {
    const f = ctx.fds.get(fd);
    if ((base & ~f.base) !== 0n || (inheriting & ~f.inheriting) !== 0n) return E.NOTCAPABLE;
    f.base = base;
    f.inheriting = inheriting;
    return 0;
  },
  fd_filestat_get(ctx, fd: number, ptr: number) {
    ptr >>>= 0;
    ctx.mem.check(ptr, 64);
    const f = ctx.fds.get(fd);
    if (f.kind === 'file' || f.kind === 'dir') need(f.base, R.FD_FILESTAT_GET);
    if (f.kind === 'file') writeFilestat(ctx, ptr, fs.fstatSync(f.nodeFd, { bigint: true }));
    else if (f.kind === 'dir') writeFilestat(ctx, ptr, fs.lstatSync(f.host, { bigint: true })); // never follow, even if swapped
    else {
      ctx.mem.u8.fill(0, ptr, ptr + 64);
      ctx.mem.dv.setUint8(ptr + 16, FILETYPE.UNKNOWN);
    }
    return 0;
  },
  fd_filestat_set_size(ctx, fd: number, size: bigint) {
    const f = fileFd(ctx.fds.get(fd));
    need(f.base, R.FD_FILESTAT_SET_SIZE);
    needWritable(f.grant);
    if (size < 0n || size > BigInt(Number.MAX_SAFE_INTEGER)) return E.INVAL;
    fs.ftruncateSync(f.nodeFd, Number(size));
    return 0;
  },
  fd_filestat_set_times(ctx, fd: number, atim: bigint, mtim: bigint, flags: number) {
    const f = ctx.fds.get(fd);
    if (f.kind !== 'file' && f.kind !== 'dir') return E.BADF;
    need(f.base, R.FD_FILESTAT_SET_TIMES);
    needWritable(f.grant);
    if (f.kind === 'file') {
      return setTimes(ctx, atim, mtim, flags, () => fs.fstatSync(f.nodeFd, { bigint: true }), (a, m) => fs.futimesSync(f.nodeFd, a, m));
    }
    return setTimes(ctx, atim, mtim, flags, () => fs.lstatSync(f.host, { bigint: true }), (a, m) => fs.lutimesSync(f.host, a, m));
  },
  fd_renumber(ctx, from: number, to: number) {
    ctx.fds.renumber(from, to);
    return 0;
  },
  fd_prestat_get(ctx, fd: number, ptr: number) {
    ptr >>>= 0;
    ctx.mem.check(ptr, 8);
    const f = ctx.fds.get(fd);
    if (!f.preopen) return E.BADF;
    ctx.mem.dv.setUint32(ptr, 0, true);
    ctx.mem.dv.setUint32(ptr + 4, encoder.encode(f.preopen).length, true);
    return 0;
  },
  fd_prestat_dir_name(ctx, fd: number, ptr: number, len: number) {
    const f = ctx.fds.get(fd);
    if (!f.preopen) return E.BADF;
    const name = encoder.encode(f.preopen);
    if ((len >>> 0) < name.length) return E.NAMETOOLONG;
    ctx.mem.bytes(ptr >>> 0, name.length).set(name);
    return 0;
  },
  fd_readdir(ctx, fd: number, bufPtr: number, bufLen: number, cookie: bigint, usedPtr: number) {
    bufPtr >>>= 0;
    bufLen >>>= 0;
    const target = ctx.mem.bytes(bufPtr, bufLen);
    ctx.mem.check(usedPtr >>> 0, 4);
    const f = ctx.fds.get(fd);
    if (f.kind !== 'dir') return E.NOTDIR;
    need(f.base, R.FD_READDIR);
    if (cookie === 0n || !f.dirents) f.dirents = loadDirents(f);
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
    ctx.mem.dv.setUint32(usedPtr >>> 0, used, true);
    return 0;
  },
  path_open(ctx, dirfd: number, lookupflags: number, pathPtr: number, pathLen: number, oflags: number,
    rightsBase: bigint, _rightsInh: bigint, fdflags: number, fdPtr: number) {
    ctx.mem.check(fdPtr >>> 0, 4); // before anything is opened (decision 100)
    const dir = dirFd(ctx.fds.get(dirfd));
    need(dir.base, R.PATH_OPEN | (oflags & O_CREAT ? R.PATH_CREATE_FILE : 0n));
    if (fdflags & ~FD_FLAGS) return E.INVAL;
    ctx.fds.reserve();
    const r = resolve(dir, readPath(ctx.mem, pathPtr >>> 0, pathLen >>> 0), (lookupflags & LOOKUP_FOLLOW) !== 0);
    const st = r.st;
    const read = (rightsBase & (R.FD_READ | R.FD_READDIR)) !== 0n;
    const write = (rightsBase & (R.FD_WRITE | R.FD_ALLOCATE | R.FD_FILESTAT_SET_SIZE)) !== 0n;
    if (st?.isSymbolicLink()) return E.LOOP; // asked not to follow (the O_NOFOLLOW error)
    if (st && oflags & O_CREAT && oflags & O_EXCL) return E.EXIST;
    if (!st) {
      if (!(oflags & O_CREAT)) return E.NOENT;
      if (oflags & O_DIRECTORY || r.dirOnly) return E.ISDIR; // as Linux: O_CREAT of "name/" is EISDIR
    }
    let fdObj: Fd;
    if (st?.isDirectory()) {
      if (write || oflags & O_TRUNC) return E.ISDIR;
      fdObj = makeFd('dir', { host: r.host, rel: r.rel, grant: r.grant, base: DIR_BASE & dir.inheriting,
        inheriting: DIR_INHERITING & dir.inheriting, flags: fdflags & FD_NONBLOCK });
    } else {
      if (oflags & O_DIRECTORY) return E.NOTDIR;
      if (st && !st.isFile()) return E.ACCES; // devices, FIFOs and sockets stay out of reach
      if (write || oflags & (O_CREAT | O_TRUNC)) needWritable(r.grant);
      const c = fs.constants;
      let flags = write ? (read ? c.O_RDWR : c.O_WRONLY) : c.O_RDONLY;
      if (oflags & O_CREAT) flags |= c.O_CREAT;
      if (oflags & O_EXCL) flags |= c.O_EXCL;
      if (oflags & O_TRUNC) flags |= c.O_TRUNC;
      if (fdflags & (FD_SYNC | FD_RSYNC)) flags |= c.O_SYNC;
      if (fdflags & FD_DSYNC) flags |= c.O_DSYNC;
      const nodeFd = fs.openSync(r.host, flags | c.O_NOFOLLOW, 0o644);
      confirmInside(nodeFd, r.grant);
      fdObj = makeFd('file', { host: r.host, rel: r.rel, grant: r.grant, base: fileRights(dir.inheriting, read, write),
        flags: fdflags, nodeFd });
    }
    const n = ctx.fds.add(fdObj);
    ctx.mem.dv.setUint32(fdPtr >>> 0, n, true);
    return 0;
  },
  path_filestat_get(ctx, dirfd: number, flags: number, pathPtr: number, pathLen: number, ptr: number) {
    ctx.mem.check(ptr >>> 0, 64);
    const r = at(ctx, dirfd, pathPtr, pathLen, (flags & LOOKUP_FOLLOW) !== 0, R.PATH_FILESTAT_GET);
    if (!r.st) return E.NOENT;
    writeFilestat(ctx, ptr >>> 0, r.st);
    return 0;
  },
  path_filestat_set_times(ctx, dirfd: number, flags: number, pathPtr: number, pathLen: number, atim: bigint, mtim: bigint, fst: number) {
    const r = at(ctx, dirfd, pathPtr, pathLen, (flags & LOOKUP_FOLLOW) !== 0, R.PATH_FILESTAT_SET_TIMES);
    if (!r.st) return E.NOENT;
    needWritable(r.grant);
    // r.host has no link in it but possibly the last component, which lutimes leaves unfollowed.
    return setTimes(ctx, atim, mtim, fst, () => fs.lstatSync(r.host, { bigint: true }), (a, m) => fs.lutimesSync(r.host, a, m));
  },
  path_create_directory(ctx, dirfd: number, pathPtr: number, pathLen: number) {
    const r = at(ctx, dirfd, pathPtr, pathLen, false, R.PATH_CREATE_DIRECTORY);
    needWritable(r.grant);
    if (r.st) return E.EXIST;
    fs.mkdirSync(r.host);
    return 0;
  },
  path_remove_directory(ctx, dirfd: number, pathPtr: number, pathLen: number) {
    const r = at(ctx, dirfd, pathPtr, pathLen, false, R.PATH_REMOVE_DIRECTORY);
    needWritable(r.grant);
    if (!r.st) return E.NOENT;
    if (r.rel.length === 0) return E.BUSY; // the grant itself
    if (!r.st.isDirectory()) return E.NOTDIR;
    fs.rmdirSync(r.host);
    return 0;
  },
  path_unlink_file(ctx, dirfd: number, pathPtr: number, pathLen: number) {
    const r = at(ctx, dirfd, pathPtr, pathLen, false, R.PATH_UNLINK_FILE);
    needWritable(r.grant);
    if (!r.st) return E.NOENT;
    if (r.st.isDirectory()) return E.ISDIR;
    fs.unlinkSync(r.host);
    return 0;
  },
  path_rename(ctx, fd: number, oldPtr: number, oldLen: number, newFd: number, newPtr: number, newLen: number) {
    const from = at(ctx, fd, oldPtr, oldLen, false, R.PATH_RENAME_SOURCE);
    const to = at(ctx, newFd, newPtr, newLen, false, R.PATH_RENAME_TARGET);
    needWritable(from.grant);
    needWritable(to.grant);
    if (!from.st) return E.NOENT;
    if (from.rel.length === 0 || to.rel.length === 0) return E.BUSY;
    if (to.dirOnly && !from.st.isDirectory()) return E.NOTDIR;
    fs.renameSync(from.host, to.host);
    return 0;
  },
  path_symlink(ctx, oldPtr: number, oldLen: number, dirfd: number, newPtr: number, newLen: number) {
    const target = readPath(ctx.mem, oldPtr >>> 0, oldLen >>> 0);
    const r = at(ctx, dirfd, newPtr, newLen, false, R.PATH_SYMLINK);
    needWritable(r.grant);
    if (target === '') return E.NOENT;
    // Links are resolved by path.ts whatever they say; refusing ones that point out anyway keeps
    // host tools that follow links in the granted directory inside it too.
    if (target.startsWith('/') || climbsOut(target, r.rel.length - 1)) return E.NOTCAPABLE;
    if (r.st) return r.dirOnly && !r.st.isDirectory() ? E.NOTDIR : E.EXIST;
    if (r.dirOnly) return E.NOENT;
    fs.symlinkSync(target, r.host);
    return 0;
  },
  path_link(ctx, oldFd: number, oldFlags: number, oldPtr: number, oldLen: number, newFd: number, newPtr: number, newLen: number) {
    const from = at(ctx, oldFd, oldPtr, oldLen, (oldFlags & LOOKUP_FOLLOW) !== 0, R.PATH_LINK_SOURCE);
    const to = at(ctx, newFd, newPtr, newLen, false, R.PATH_LINK_TARGET);
    needWritable(from.grant); // a link is a second name with the same write access: never out of a read-only grant
    needWritable(to.grant);
    if (!from.st) return E.NOENT;
    if (from.st.isDirectory()) return E.PERM;
    if (to.st) return E.EXIST;
    if (to.dirOnly) return E.NOENT;
    if (from.grant !== to.grant) return E.XDEV;
    fs.linkSync(from.host, to.host);
    return 0;
  },
  path_readlink(ctx, dirfd: number, pathPtr: number, pathLen: number, bufPtr: number, bufLen: number, usedPtr: number) {
    const out = ctx.mem.bytes(bufPtr >>> 0, bufLen >>> 0);
    ctx.mem.check(usedPtr >>> 0, 4);
    const r = at(ctx, dirfd, pathPtr, pathLen, false, R.PATH_READLINK);
    if (!r.st) return E.NOENT;
    if (!r.st.isSymbolicLink()) return E.INVAL;
    const target = fs.readlinkSync(r.host, { encoding: 'buffer' });
    const n = Math.min(target.length, out.length);
    out.set(target.subarray(0, n));
    ctx.mem.dv.setUint32(usedPtr >>> 0, n, true);
    return 0;
  },
};
