/** WASI preview1 errno values and the mapping from host (Node) errors to them. */

export const E = {
  SUCCESS: 0, ACCES: 2, BADF: 8, BUSY: 10, EXIST: 20, FAULT: 21, ILSEQ: 25, INVAL: 28, IO: 29, ISDIR: 31,
  LOOP: 32, MFILE: 33, NAMETOOLONG: 37, NFILE: 41, NOENT: 44, NOSPC: 51, NOSYS: 52, NOTDIR: 54, NOTEMPTY: 55,
  NOTSOCK: 57, NOTSUP: 58, OVERFLOW: 61, PERM: 63, ROFS: 69, SPIPE: 70, XDEV: 75, NOTCAPABLE: 76,
} as const;

const nodeErrno: Record<string, number> = {
  ENOENT: E.NOENT, EEXIST: E.EXIST, ENOTDIR: E.NOTDIR, EISDIR: E.ISDIR, EACCES: E.ACCES, EPERM: E.PERM,
  ENOTEMPTY: E.NOTEMPTY, EBADF: E.BADF, EINVAL: E.INVAL, ENOSPC: E.NOSPC, EROFS: E.ROFS, ELOOP: E.LOOP,
  ENAMETOOLONG: E.NAMETOOLONG, EBUSY: E.BUSY, EXDEV: E.XDEV, EMFILE: E.MFILE, ENFILE: E.NFILE, EFBIG: E.INVAL,
  EOVERFLOW: E.OVERFLOW, ENOTSUP: E.NOTSUP, EOPNOTSUPP: E.NOTSUP,
};

/** Thrown inside a call to return an errno from deep helpers. */
export class Errno {
  constructor(readonly code: number) {}
}

export function errnoOf(err: unknown): number {
  if (err instanceof Errno) return err.code;
  if (err instanceof RangeError) return E.FAULT; // out-of-bounds pointer from the guest
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return (code && nodeErrno[code]) || E.IO;
}
