/**
 * wasi:filesystem 0.2 over the component's `grants.dirs` only, with the preview1 shim's rules
 * (src/wasm/wasi.ts): paths are relative to a granted directory and never leave it (no absolute paths,
 * no ".." above the grant, a symlink is followed only when its target stays inside, a dangling symlink
 * is never written through), files open with O_NOFOLLOW, devices/FIFOs/sockets stay out of reach, a
 * read-only grant refuses every change, and links are neither made nor read.
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import type { DirGrant } from '../../limits.js';
import { grantedDirectory } from '../../wasi/path.js';
import { StreamFailed, type HostFuncs, type InputStream, type IoError, type OutputStream } from './io.js';

interface Grant { hostReal: string; writable: boolean }

export interface Descriptor {
  kind: 'dir' | 'file';
  /** Real host path. */
  host: string;
  /** Path components below the grant root. */
  rel: string[];
  grant: Grant;
  /** Node fd of an open file, else -1. */
  fd: number;
  read: boolean;
  write: boolean;
  drop?(): void;
}

/** An error-code from a host call, carried by a throw inside a call. */
class FsError {
  constructor(readonly code: string) {}
}

const nodeCodes: Record<string, string> = {
  ENOENT: 'no-entry', EEXIST: 'exist', ENOTDIR: 'not-directory', EISDIR: 'is-directory', EACCES: 'access',
  EPERM: 'not-permitted', ENOTEMPTY: 'not-empty', EBADF: 'bad-descriptor', EINVAL: 'invalid', ENOSPC: 'insufficient-space',
  EROFS: 'read-only', ELOOP: 'loop', ENAMETOOLONG: 'name-too-long', EBUSY: 'busy', EXDEV: 'cross-device', EMLINK: 'too-many-links',
  EFBIG: 'file-too-large', EDQUOT: 'quota',
};

function codeOf(err: unknown): string {
  if (err instanceof FsError) return err.code;
  const c = (err as NodeJS.ErrnoException | null)?.code;
  return (c && nodeCodes[c]) || 'io';
}

function result<T>(f: () => T): { tag: 'ok'; val: T } | { tag: 'err'; val: string } {
  try {
    return { tag: 'ok', val: f() };
  } catch (err) {
    if (err instanceof WebAssembly.RuntimeError || err instanceof TypeError) throw err;
    return { tag: 'err', val: codeOf(err) };
  }
}

function isInside(real: string, root: string): boolean {
  return real === root || real.startsWith(root.endsWith(nodePath.sep) ? root : root + nodePath.sep);
}

function typeOf(st: fs.Stats | fs.Dirent): string {
  return st.isDirectory() ? 'directory' : st.isFile() ? 'regular-file' : st.isSymbolicLink() ? 'symbolic-link'
    : st.isCharacterDevice() ? 'character-device' : st.isBlockDevice() ? 'block-device' : st.isFIFO() ? 'fifo' : st.isSocket() ? 'socket' : 'unknown';
}

function datetime(ns: bigint): { seconds: bigint; nanoseconds: number } {
  return { seconds: ns / 1_000_000_000n, nanoseconds: Number(ns % 1_000_000_000n) };
}

function statRecord(st: fs.BigIntStats): Record<string, unknown> {
  return {
    type: typeOf(st as unknown as fs.Stats),
    'link-count': st.nlink,
    size: st.size,
    'data-access-timestamp': datetime(st.atimeNs),
    'data-modification-timestamp': datetime(st.mtimeNs),
    'status-change-timestamp': datetime(st.ctimeNs),
  };
}

const OPEN_CREATE = 1, OPEN_DIRECTORY = 2, OPEN_EXCLUSIVE = 4, OPEN_TRUNCATE = 8;
const FLAG_READ = 1, FLAG_WRITE = 2, FLAG_MUTATE_DIR = 32;
const SYMLINK_FOLLOW = 1;

export function filesystemFuncs(grants: DirGrant[]): { funcs: HostFuncs; dispose(): void } {
  const open = new Set<Descriptor>();
  const preopens: [Descriptor, string][] = grants.map((g) => {
    const hostReal = grantedDirectory(g.host);
    const grant = { hostReal, writable: g.writable };
    return [{ kind: 'dir', host: hostReal, rel: [], grant, fd: -1, read: true, write: g.writable }, g.guest || '/'];
  });

  function dirOf(d: Descriptor): Descriptor {
    if (d.kind !== 'dir') throw new FsError('not-directory');
    return d;
  }

  function needWritable(g: Grant): void {
    if (!g.writable) throw new FsError('read-only');
  }

  /** Guest path below a directory descriptor -> host path guaranteed inside the grant (symlinks included). */
  function resolve(d: Descriptor, p: string, forCreate: boolean, follow = true): { host: string; real: string; rel: string[]; grant: Grant } {
    const dir = dirOf(d);
    if (p.includes('\0')) throw new FsError('invalid');
    if (p.startsWith('/')) throw new FsError('not-permitted');
    const rel = [...dir.rel];
    for (const c of p.split('/')) {
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (rel.length === 0) throw new FsError('not-permitted');
        rel.pop();
      } else rel.push(c);
    }
    const host = nodePath.join(dir.grant.hostReal, ...rel);
    let real: string;
    try {
      real = follow ? fs.realpathSync(host) : nodePath.join(fs.realpathSync(nodePath.dirname(host)), nodePath.basename(host));
      if (!follow) fs.lstatSync(real);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (!forCreate) throw new FsError('no-entry'); // a dangling link pointing outside reveals no more than this
      const parent = fs.realpathSync(nodePath.dirname(host));
      if (!isInside(parent, dir.grant.hostReal)) throw new FsError('not-permitted');
      try {
        if (fs.lstatSync(host).isSymbolicLink()) throw new FsError('not-permitted'); // would write through a dangling link
      } catch (e) {
        if (e instanceof FsError) throw e;
      }
      return { host, real: nodePath.join(parent, nodePath.basename(host)), rel, grant: dir.grant };
    }
    if (!isInside(real, dir.grant.hostReal)) throw new FsError('not-permitted');
    return { host, real, rel, grant: dir.grant };
  }

  function fileOf(d: Descriptor): Descriptor {
    if (d.kind !== 'file') throw new FsError('is-directory');
    return d;
  }

  function fileInput(d: Descriptor, offset: bigint): InputStream {
    let pos = Number(offset);
    return {
      read(n) {
        if (!d.read) throw new StreamFailed({ message: 'descriptor is not open for reading', fsCode: 'bad-descriptor' });
        const buf = new Uint8Array(Math.min(n, 1 << 20));
        let got: number;
        try {
          got = fs.readSync(d.fd, buf, 0, buf.length, pos);
        } catch (err) {
          throw new StreamFailed({ message: (err as Error).message, fsCode: codeOf(err) });
        }
        if (got === 0 && n > 0) return null;
        pos += got;
        return buf.subarray(0, got);
      },
    };
  }

  function fileOutput(d: Descriptor, offset: bigint | null): OutputStream {
    let pos = offset === null ? -1 : Number(offset);
    return {
      write(b) {
        if (!d.write) throw new StreamFailed({ message: 'descriptor is not open for writing', fsCode: 'bad-descriptor' });
        try {
          const at = pos < 0 ? fs.fstatSync(d.fd).size : pos;
          const n = fs.writeSync(d.fd, b, 0, b.length, at);
          if (pos >= 0) pos += n;
        } catch (err) {
          throw new StreamFailed({ message: (err as Error).message, fsCode: codeOf(err) });
        }
      },
    };
  }

  function stat(d: Descriptor): fs.BigIntStats {
    return d.kind === 'file' ? fs.fstatSync(d.fd, { bigint: true }) : fs.statSync(d.host, { bigint: true });
  }

  function closeDesc(d: Descriptor): void {
    if (d.fd >= 0) {
      try { fs.closeSync(d.fd); } catch { /* already closed */ }
      d.fd = -1;
    }
    open.delete(d);
  }

  const T = 'wasi:filesystem/types#';
  const funcs: HostFuncs = {
    'wasi:filesystem/preopens#get-directories': () => preopens,
    [`${T}[method]descriptor.read-via-stream`]: (d: Descriptor, off: bigint) => result(() => fileInput(fileOf(d), off)),
    [`${T}[method]descriptor.write-via-stream`]: (d: Descriptor, off: bigint) => result(() => {
      if (!fileOf(d).write) throw new FsError(d.grant.writable ? 'bad-descriptor' : 'read-only');
      return fileOutput(d, off);
    }),
    [`${T}[method]descriptor.append-via-stream`]: (d: Descriptor) => result(() => {
      if (!fileOf(d).write) throw new FsError(d.grant.writable ? 'bad-descriptor' : 'read-only');
      return fileOutput(d, null);
    }),
    [`${T}[method]descriptor.advise`]: () => ({ tag: 'ok' }),
    [`${T}[method]descriptor.sync-data`]: () => ({ tag: 'ok' }),
    [`${T}[method]descriptor.sync`]: () => ({ tag: 'ok' }),
    [`${T}[method]descriptor.get-flags`]: (d: Descriptor) => result(() =>
      (d.read ? FLAG_READ : 0) | (d.write ? FLAG_WRITE : 0) | (d.kind === 'dir' && d.grant.writable ? FLAG_MUTATE_DIR : 0)),
    [`${T}[method]descriptor.get-type`]: (d: Descriptor) => result(() => (d.kind === 'dir' ? 'directory' : typeOf(fs.fstatSync(d.fd)))),
    [`${T}[method]descriptor.set-size`]: (d: Descriptor, size: bigint) => result(() => {
      if (!fileOf(d).write) throw new FsError(d.grant.writable ? 'bad-descriptor' : 'read-only');
      fs.ftruncateSync(d.fd, Number(size));
    }),
    [`${T}[method]descriptor.set-times`]: () => ({ tag: 'err', val: 'unsupported' }),
    [`${T}[method]descriptor.set-times-at`]: () => ({ tag: 'err', val: 'unsupported' }),
    [`${T}[method]descriptor.read`]: (d: Descriptor, len: bigint, off: bigint) => result(() => {
      if (!fileOf(d).read) throw new FsError('bad-descriptor');
      const buf = new Uint8Array(Math.min(Number(len), 1 << 24));
      const n = fs.readSync(d.fd, buf, 0, buf.length, Number(off));
      return [buf.subarray(0, n), n === 0 && buf.length > 0];
    }),
    [`${T}[method]descriptor.write`]: (d: Descriptor, b: Uint8Array, off: bigint) => result(() => {
      if (!fileOf(d).write) throw new FsError(d.grant.writable ? 'bad-descriptor' : 'read-only');
      return BigInt(fs.writeSync(d.fd, b, 0, b.length, Number(off)));
    }),
    [`${T}[method]descriptor.read-directory`]: (d: Descriptor) => result(() => {
      const entries = fs.readdirSync(dirOf(d).host, { withFileTypes: true }).map((e) => ({ type: typeOf(e), name: e.name }));
      let i = 0;
      return { next: () => (i < entries.length ? entries[i++]! : null) };
    }),
    [`${T}[method]directory-entry-stream.read-directory-entry`]: (s: { next(): unknown }) => ({ tag: 'ok', val: s.next() }),
    [`${T}[method]descriptor.create-directory-at`]: (d: Descriptor, p: string) => result(() => {
      const r = resolve(d, p, true);
      needWritable(r.grant);
      fs.mkdirSync(r.real);
    }),
    [`${T}[method]descriptor.stat`]: (d: Descriptor) => result(() => statRecord(stat(d))),
    [`${T}[method]descriptor.stat-at`]: (d: Descriptor, pf: number, p: string) => result(() => {
      const follow = (pf & SYMLINK_FOLLOW) !== 0;
      const r = resolve(d, p, false, follow);
      return statRecord(follow ? fs.statSync(r.real, { bigint: true }) : fs.lstatSync(r.real, { bigint: true }));
    }),
    // Links would let a guest point outside its grant; none are made or read (as in the preview1 shim).
    [`${T}[method]descriptor.link-at`]: () => ({ tag: 'err', val: 'unsupported' }),
    [`${T}[method]descriptor.symlink-at`]: () => ({ tag: 'err', val: 'unsupported' }),
    [`${T}[method]descriptor.readlink-at`]: () => ({ tag: 'err', val: 'unsupported' }),
    [`${T}[method]descriptor.open-at`]: (d: Descriptor, _pf: number, p: string, of: number, df: number) => result(() => {
      const wantWrite = (df & FLAG_WRITE) !== 0 || (of & (OPEN_CREATE | OPEN_TRUNCATE)) !== 0;
      const r = resolve(d, p, (of & OPEN_CREATE) !== 0);
      if (wantWrite || (df & FLAG_MUTATE_DIR) !== 0) needWritable(r.grant);
      let st: fs.Stats | null = null;
      try {
        st = fs.statSync(r.real);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      if (st && (of & OPEN_CREATE) && (of & OPEN_EXCLUSIVE)) throw new FsError('exist');
      if (!st && !(of & OPEN_CREATE)) throw new FsError('no-entry');
      if (st?.isDirectory()) {
        if ((df & FLAG_WRITE) || (of & OPEN_TRUNCATE)) throw new FsError('is-directory');
        return { kind: 'dir', host: r.real, rel: r.rel, grant: r.grant, fd: -1, read: true, write: r.grant.writable } satisfies Descriptor;
      }
      if (of & OPEN_DIRECTORY) throw new FsError('not-directory');
      if (st && !st.isFile()) throw new FsError('access'); // devices, FIFOs and sockets stay out of reach
      const c = fs.constants;
      let flags = wantWrite ? ((df & FLAG_READ) ? c.O_RDWR : c.O_WRONLY) : c.O_RDONLY;
      if (of & OPEN_CREATE) flags |= c.O_CREAT;
      if (of & OPEN_EXCLUSIVE) flags |= c.O_EXCL;
      if (of & OPEN_TRUNCATE) flags |= c.O_TRUNC;
      const fd = fs.openSync(r.real, flags | c.O_NOFOLLOW, 0o644);
      const desc: Descriptor = { kind: 'file', host: r.real, rel: r.rel, grant: r.grant, fd, read: !wantWrite || (df & FLAG_READ) !== 0, write: wantWrite, drop: () => closeDesc(desc) };
      open.add(desc);
      return desc;
    }),
    [`${T}[method]descriptor.remove-directory-at`]: (d: Descriptor, p: string) => result(() => {
      const r = resolve(d, p, false, false);
      needWritable(r.grant);
      if (r.rel.length === 0) throw new FsError('busy');
      fs.rmdirSync(r.real);
    }),
    [`${T}[method]descriptor.rename-at`]: (d: Descriptor, from: string, to: Descriptor, dest: string) => result(() => {
      const a = resolve(d, from, false, false);
      const b = resolve(to, dest, true, false);
      needWritable(a.grant);
      needWritable(b.grant);
      if (a.rel.length === 0) throw new FsError('busy');
      fs.renameSync(a.real, b.real);
    }),
    [`${T}[method]descriptor.unlink-file-at`]: (d: Descriptor, p: string) => result(() => {
      const r = resolve(d, p, false, false);
      needWritable(r.grant);
      if (fs.lstatSync(r.real).isDirectory()) throw new FsError('is-directory');
      fs.unlinkSync(r.real);
    }),
    [`${T}[method]descriptor.is-same-object`]: (a: Descriptor, b: Descriptor) => {
      try {
        const x = stat(a);
        const y = stat(b);
        return x.dev === y.dev && x.ino === y.ino;
      } catch {
        return false;
      }
    },
    [`${T}[method]descriptor.metadata-hash`]: (d: Descriptor) => result(() => {
      const st = stat(d);
      return { lower: st.ino, upper: st.dev };
    }),
    [`${T}[method]descriptor.metadata-hash-at`]: (d: Descriptor, pf: number, p: string) => result(() => {
      const r = resolve(d, p, false, (pf & SYMLINK_FOLLOW) !== 0);
      const st = fs.lstatSync(r.real, { bigint: true });
      return { lower: st.ino, upper: st.dev };
    }),
    [`${T}filesystem-error-code`]: (e: IoError) => e.fsCode ?? null,
  };
  return {
    funcs,
    dispose() {
      for (const d of [...open]) closeDesc(d);
    },
  };
}
