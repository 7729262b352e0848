/**
 * Rights per fd kind, as wasmtime reports them (decision 100): a directory has the path rights in its
 * base and everything in its inheriting rights, but never FD_READ/FD_WRITE/FD_SEEK/FD_FILESTAT_SET_SIZE
 * in its base; a file has the file rights, with FD_READ and FD_WRITE only if it was opened with them.
 * The rights a guest asks for in path_open narrow only reading and writing; fd_fdstat_set_rights may
 * drop rights (never add), and a dropped inheriting right stays dropped for every fd opened below.
 */
import { E, Errno } from './errno.js';

const bit = (n: number): bigint => 1n << BigInt(n);
export const R = {
  FD_DATASYNC: bit(0), FD_READ: bit(1), FD_SEEK: bit(2), FD_FDSTAT_SET_FLAGS: bit(3), FD_SYNC: bit(4),
  FD_TELL: bit(5), FD_WRITE: bit(6), FD_ADVISE: bit(7), FD_ALLOCATE: bit(8), PATH_CREATE_DIRECTORY: bit(9),
  PATH_CREATE_FILE: bit(10), PATH_LINK_SOURCE: bit(11), PATH_LINK_TARGET: bit(12), PATH_OPEN: bit(13),
  FD_READDIR: bit(14), PATH_READLINK: bit(15), PATH_RENAME_SOURCE: bit(16), PATH_RENAME_TARGET: bit(17),
  PATH_FILESTAT_GET: bit(18), PATH_FILESTAT_SET_SIZE: bit(19), PATH_FILESTAT_SET_TIMES: bit(20),
  FD_FILESTAT_GET: bit(21), FD_FILESTAT_SET_SIZE: bit(22), FD_FILESTAT_SET_TIMES: bit(23), PATH_SYMLINK: bit(24),
  PATH_REMOVE_DIRECTORY: bit(25), PATH_UNLINK_FILE: bit(26), POLL_FD_READWRITE: bit(27), SOCK_SHUTDOWN: bit(28),
  SOCK_ACCEPT: bit(29),
} as const;

export const DIR_BASE = R.PATH_CREATE_DIRECTORY | R.PATH_CREATE_FILE | R.PATH_LINK_SOURCE | R.PATH_LINK_TARGET
  | R.PATH_OPEN | R.FD_READDIR | R.PATH_READLINK | R.PATH_RENAME_SOURCE | R.PATH_RENAME_TARGET | R.PATH_SYMLINK
  | R.PATH_REMOVE_DIRECTORY | R.PATH_UNLINK_FILE | R.PATH_FILESTAT_GET | R.PATH_FILESTAT_SET_TIMES
  | R.FD_FILESTAT_GET | R.FD_FILESTAT_SET_TIMES;

export const FILE_BASE = R.FD_DATASYNC | R.FD_READ | R.FD_SEEK | R.FD_FDSTAT_SET_FLAGS | R.FD_SYNC | R.FD_TELL
  | R.FD_WRITE | R.FD_ADVISE | R.FD_ALLOCATE | R.FD_FILESTAT_GET | R.FD_FILESTAT_SET_SIZE
  | R.FD_FILESTAT_SET_TIMES | R.POLL_FD_READWRITE;

/** Rights that only make sense on an fd opened for writing. */
export const WRITE_RIGHTS = R.FD_WRITE | R.FD_ALLOCATE | R.FD_FILESTAT_SET_SIZE | R.FD_DATASYNC;

export const DIR_INHERITING = DIR_BASE | FILE_BASE;
export const STDIN_RIGHTS = R.FD_READ | R.POLL_FD_READWRITE;
export const STDOUT_RIGHTS = R.FD_WRITE | R.POLL_FD_READWRITE;

/** Throws NOTCAPABLE unless `have` holds every bit of `need`. */
export function need(have: bigint, want: bigint): void {
  if ((have & want) !== want) throw new Errno(E.NOTCAPABLE);
}

/** The rights of a file opened below a directory whose inheriting rights are `inheriting`. */
export function fileRights(inheriting: bigint, read: boolean, write: boolean): bigint {
  let r = FILE_BASE & inheriting;
  if (!read) r &= ~R.FD_READ;
  if (!write) r &= ~WRITE_RIGHTS;
  return r;
}
