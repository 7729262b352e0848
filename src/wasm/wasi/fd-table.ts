/**
 * The guest's fd table: stdio, preopened grants, and what path_open returned. Files hold a host fd;
 * directories are host paths (no host fd), so the host fds one instance holds are bounded by its count
 * of open files, which `limit` caps (decision 100: a guest past it gets MFILE, the host never sees it).
 */
import fs from 'node:fs';
import { E, Errno } from './errno.js';
import { DIR_BASE, DIR_INHERITING, STDIN_RIGHTS, STDOUT_RIGHTS } from './rights.js';

/** Default cap on the fds one instance may hold open (stdio and preopens count too). */
export const DEFAULT_MAX_OPEN_FILES = 1024;

export interface Grant {
  /** Real host path of the granted directory (symlinks resolved). */
  hostReal: string;
  /** The host path as granted (absolute), for host symlinks written against it. */
  hostGiven: string;
  writable: boolean;
}

export interface Fd {
  kind: 'stdin' | 'stdout' | 'stderr' | 'dir' | 'file';
  /** Host path (dir and file): every component below the grant is a real directory or the file itself. */
  host: string;
  /** Path components below the grant root (dir). */
  rel: string[];
  grant: Grant | null;
  /** Name shown to the guest for a preopen, else ''. */
  preopen: string;
  base: bigint;
  inheriting: bigint;
  /** WASI fdflags (APPEND, DSYNC, NONBLOCK, RSYNC, SYNC) as opened or set. */
  flags: number;
  nodeFd: number;
  pos: number;
  dirents: { name: string; type: number; ino: bigint }[] | null;
}

const noRel: string[] = [];

export function makeFd(kind: Fd['kind'], over: Partial<Fd>): Fd {
  // One literal shape for every fd (no spreads): this runs three times per instance, on the hot path.
  return {
    kind, host: over.host ?? '', rel: over.rel ?? noRel, grant: over.grant ?? null, preopen: over.preopen ?? '',
    base: over.base ?? 0n, inheriting: over.inheriting ?? 0n, flags: over.flags ?? 0, nodeFd: over.nodeFd ?? -1,
    pos: over.pos ?? 0, dirents: over.dirents ?? null,
  };
}

export class FdTable {
  private fds: (Fd | undefined)[] = [];
  private open = 0;

  constructor(readonly limit: number) {
    this.set(0, makeFd('stdin', { base: STDIN_RIGHTS }));
    this.set(1, makeFd('stdout', { base: STDOUT_RIGHTS }));
    this.set(2, makeFd('stderr', { base: STDOUT_RIGHTS }));
  }

  private set(n: number, f: Fd | undefined): void {
    if (this.fds[n] && !f) this.open--;
    else if (!this.fds[n] && f) this.open++;
    this.fds[n] = f;
  }

  addPreopen(grant: Grant, guest: string): void {
    this.set(this.fds.length, makeFd('dir', { host: grant.hostReal, grant, preopen: guest, base: DIR_BASE, inheriting: DIR_INHERITING }));
  }

  get(n: number): Fd {
    const f = this.fds[n];
    if (!f) throw new Errno(E.BADF);
    return f;
  }

  peek(n: number): Fd | undefined {
    return this.fds[n];
  }

  /** Throws MFILE when one more fd would pass the limit; call it before any side effect of an open. */
  reserve(): void {
    if (this.open >= this.limit) throw new Errno(E.MFILE);
  }

  /** The lowest free number (>= 3, as POSIX hands out the lowest). */
  add(f: Fd): number {
    this.reserve();
    let n = 3;
    while (this.fds[n]) n++;
    this.set(n, f);
    return n;
  }

  close(n: number): void {
    const f = this.get(n);
    if (f.kind === 'file') fs.closeSync(f.nodeFd);
    this.set(n, undefined);
  }

  /** dup2 semantics: `to` is closed first, then `from` moves there. */
  renumber(from: number, to: number): void {
    const f = this.get(from);
    this.get(to);
    if (from === to) return;
    this.close(to);
    this.set(to, f);
    this.set(from, undefined);
  }

  /** Closes every host fd the guest left open. */
  dispose(): void {
    for (let i = 0; i < this.fds.length; i++) {
      const f = this.fds[i];
      if (f?.kind === 'file') {
        try { fs.closeSync(f.nodeFd); } catch { /* already closed */ }
      }
      this.fds[i] = undefined;
    }
    this.open = 0;
  }
}
