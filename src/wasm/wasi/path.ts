/**
 * The sandbox boundary: a guest path relative to a directory fd becomes a host path inside that fd's
 * grant, or an errno. Audit this file on its own; nothing else in the shim turns guest paths into host
 * paths (decision 100).
 *
 * The walk is done here, one component at a time with lstat, as the kernel would do it: ".." pops a
 * component and may never climb above the directory fd the path starts from (each directory fd is its
 * own capability, as in wasmtime); a symlink (guest-made or host-made) is expanded here and
 * its target walked the same way (a relative target from the link's directory; an absolute one only if
 * it names a place inside the grant); 40 expansions is LOOP. So every directory in the returned host
 * path is a real directory inside the grant, and the kernel is never asked to follow a link; the last
 * component is a symlink only when the caller asked not to follow it, and callers open with O_NOFOLLOW.
 * What remains is a race: another instance sharing a writable grant could swap a checked directory for
 * a symlink between this walk and the call that uses its result. For opened files confirmInside asks
 * the kernel where the fd really is, so contents outside are never read or written; mkdir, unlink,
 * rename and link keep the race (decision 100).
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import { E, Errno } from './errno.js';
import type { Fd, Grant } from './fd-table.js';
import type { GuestMemory } from './memory.js';

/** Linux's PATH_MAX: a longer guest path is NAMETOOLONG before its bytes are even read. */
export const PATH_MAX = 4096;
const MAX_LINKS = 40;

export interface Resolved {
  grant: Grant;
  /** Components below the grant root of the object the path names. */
  rel: string[];
  host: string;
  /** lstat of that object; null when only its last component is missing (the caller may create it). */
  st: fs.BigIntStats | null;
  /** The path ended in "/" (or "." / ".."): it must name a directory. */
  dirOnly: boolean;
}

/** Reads a guest path: NAMETOOLONG past PATH_MAX, FAULT out of bounds, ILSEQ if not UTF-8, INVAL with a NUL. */
export function readPath(mem: GuestMemory, ptr: number, len: number): string {
  if (len > PATH_MAX) throw new Errno(E.NAMETOOLONG);
  const p = mem.str(ptr, len);
  if (p.includes('\0')) throw new Errno(E.INVAL);
  return p;
}

/** The directory fd a path call starts from: NOTDIR for a file, BADF for stdio. */
export function dirFd(f: Fd): Fd & { grant: Grant } {
  if (f.kind !== 'dir' || !f.grant) throw new Errno(f.kind === 'file' ? E.NOTDIR : E.BADF);
  return f as Fd & { grant: Grant };
}

function isInside(p: string, root: string): boolean {
  return p === root || p.startsWith(root.endsWith(nodePath.sep) ? root : root + nodePath.sep);
}

function split(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

/** An absolute (host-made) link target as components below the grant root, or NOTCAPABLE. */
function absoluteTarget(grant: Grant, target: string): string[] {
  const t = nodePath.resolve(target);
  for (const root of [grant.hostReal, grant.hostGiven]) {
    if (isInside(t, root)) return split(nodePath.relative(root, t));
  }
  try {
    const real = fs.realpathSync(t);
    if (isInside(real, grant.hostReal)) return split(nodePath.relative(grant.hostReal, real));
  } catch {
    // dangling or unreadable: it is outside as far as the guest may know
  }
  throw new Errno(E.NOTCAPABLE);
}

/** Whether `p`, read without following links, climbs above its start when that start is `depth` deep. */
export function climbsOut(p: string, depth: number): boolean {
  for (const c of p.split('/')) {
    if (c === '..') {
      if (--depth < 0) return true;
    } else if (c !== '' && c !== '.') depth++;
  }
  return false;
}

/**
 * Resolves `p` below directory fd `dir`. `follow`: expand a symlink in the last component (a trailing
 * slash always does). Missing intermediate components are NOENT, non-directories NOTDIR.
 */
export function resolve(dir: Fd & { grant: Grant }, p: string, follow: boolean): Resolved {
  const grant = dir.grant;
  if (p === '') throw new Errno(E.NOENT);
  if (p.startsWith('/')) throw new Errno(E.NOTCAPABLE);
  // Each directory fd is its own capability: nothing may climb above it, not even through missing names.
  if (climbsOut(p, 0)) throw new Errno(E.NOTCAPABLE);
  const floor = dir.rel.length;
  const lastRaw = p.slice(p.lastIndexOf('/') + 1);
  const dirOnly = p.endsWith('/') || lastRaw === '.' || lastRaw === '..';
  const todo = p.split('/').filter((c) => c !== '' && c !== '.');
  const rel = [...dir.rel];
  let links = 0;
  let mustDir = dirOnly;
  while (todo.length > 0) {
    const c = todo.shift()!;
    const last = todo.length === 0;
    if (c === '..') {
      if (rel.length <= floor) throw new Errno(E.NOTCAPABLE);
      rel.pop();
      continue;
    }
    const host = nodePath.join(grant.hostReal, ...rel, c);
    let st: fs.BigIntStats;
    try {
      st = fs.lstatSync(host, { bigint: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && last) return { grant, rel: [...rel, c], host, st: null, dirOnly: mustDir };
      throw err;
    }
    if (st.isSymbolicLink() && (!last || follow || mustDir)) {
      if (++links > MAX_LINKS) throw new Errno(E.LOOP);
      const target = fs.readlinkSync(host);
      if (target.startsWith('/')) {
        const comps = absoluteTarget(grant, target);
        if (comps.length < floor || dir.rel.some((c, i) => comps[i] !== c)) throw new Errno(E.NOTCAPABLE);
        rel.length = 0;
        todo.unshift(...comps);
      } else {
        todo.unshift(...target.split('/').filter((x) => x !== '' && x !== '.'));
      }
      if (last && target.endsWith('/')) mustDir = true;
      if (todo.length === 0) break; // the link named its own directory ("." or "")
      continue;
    }
    if (!last && !st.isDirectory()) throw new Errno(E.NOTDIR);
    rel.push(c);
    if (last) {
      if (mustDir && !st.isDirectory() && !st.isSymbolicLink()) throw new Errno(E.NOTDIR);
      return { grant, rel, host, st, dirOnly: mustDir };
    }
  }
  // The path ended at a directory reached by "..", "." or a link to one.
  const host = nodePath.join(grant.hostReal, ...rel);
  return { grant, rel, host, st: fs.lstatSync(host, { bigint: true }), dirOnly: true };
}

const procFd = process.platform === 'linux';

/**
 * Closes the walk-then-open race for file contents (decision 100): what was opened must still be inside
 * the grant, asked of the kernel through /proc/self/fd (Linux; elsewhere the walk alone stands).
 */
export function confirmInside(nodeFd: number, grant: Grant): void {
  if (!procFd) return;
  let real: string;
  try {
    real = fs.readlinkSync(`/proc/self/fd/${nodeFd}`);
  } catch {
    return; // no /proc (a container without it): the walk alone stands
  }
  if (isInside(real, grant.hostReal)) return;
  fs.closeSync(nodeFd);
  throw new Errno(E.NOTCAPABLE);
}

/** A granted host directory's real path (links resolved once, at grant time); an error a person can act on otherwise. */
export function grantedDirectory(host: string): string {
  try {
    const real = fs.realpathSync(host);
    if (!fs.statSync(real).isDirectory()) throw new Error('not a directory');
    return real;
  } catch (err) {
    throw new Error(`cannot grant directory ${host}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (err as Error).message}`);
  }
}
