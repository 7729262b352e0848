// Minimal WASI preview1 bindings (nothing beyond AssemblyScript itself).
// Build flags (package.json): --runtime stub --exportStart _start --use abort=src/wasi/wasiAbort,
// so the module imports only wasi_snapshot_preview1.

// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_read")
export declare function fd_read(fd: u32, iovs: usize, iovsLen: usize, nread: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_write")
export declare function fd_write(fd: u32, iovs: usize, iovsLen: usize, nwritten: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "args_sizes_get")
export declare function args_sizes_get(count: usize, size: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "args_get")
export declare function args_get(argv: usize, buf: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "environ_sizes_get")
export declare function environ_sizes_get(count: usize, size: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "environ_get")
export declare function environ_get(environ: usize, buf: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "proc_exit")
export declare function proc_exit(code: u32): void;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "path_open")
export declare function path_open(dirfd: u32, dirflags: u32, path: usize, pathLen: usize, oflags: u32,
  rightsBase: u64, rightsInheriting: u64, fdflags: u32, fdOut: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_prestat_get")
export declare function fd_prestat_get(fd: u32, buf: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_prestat_dir_name")
export declare function fd_prestat_dir_name(fd: u32, path: usize, len: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_close")
export declare function fd_close(fd: u32): u16;

export const RIGHT_FD_READ: u64 = 1 << 1;
export const RIGHT_FD_WRITE: u64 = 1 << 6;
export const OFLAG_CREAT: u32 = 1;

const scratch = memory.data(32, 8);

/** Reads a whole stream (stdin = 0) into memory. Returns null on a read error. */
export function readAll(fd: u32): Uint8Array | null {
  // start small: every byte allocated is a fresh page the OS must fault in, per event
  let buf = new Uint8Array(4096);
  let len = 0;
  while (true) {
    if (len == buf.length) {
      const bigger = new Uint8Array(buf.length * 2);
      memory.copy(bigger.dataStart, buf.dataStart, len);
      buf = bigger;
    }
    store<u32>(scratch, <u32>(buf.dataStart + len));
    store<u32>(scratch, <u32>(buf.length - len), 4);
    if (fd_read(fd, scratch, 1, scratch + 8) != 0) return null;
    const n = load<u32>(scratch, 8);
    if (n == 0) break;
    len += n;
  }
  return buf.subarray(0, len);
}

/** Writes all bytes, looping over short writes. False when the host refused. */
export function writeBytes(fd: u32, ptr: usize, len: usize): bool {
  while (len > 0) {
    store<u32>(scratch, <u32>ptr);
    store<u32>(scratch, <u32>len, 4);
    if (fd_write(fd, scratch, 1, scratch + 8) != 0) return false;
    const n = load<u32>(scratch, 8);
    ptr += n;
    len -= n;
  }
  return true;
}

export function writeString(fd: u32, s: string): bool {
  const b = String.UTF8.encode(s);
  return writeBytes(fd, changetype<usize>(b), b.byteLength);
}

// (a flag, not function values: putting imports into a table costs a wrapper per instance)
function strings(env: bool): string[] {
  const out = new Array<string>();
  if ((env ? environ_sizes_get(scratch, scratch + 4) : args_sizes_get(scratch, scratch + 4)) != 0) return out;
  const count = load<u32>(scratch);
  const size = load<u32>(scratch, 4);
  const ptrs = new ArrayBuffer(<i32>count * 4);
  const buf = new ArrayBuffer(<i32>size);
  const p0 = changetype<usize>(ptrs), b0 = changetype<usize>(buf);
  if ((env ? environ_get(p0, b0) : args_get(p0, b0)) != 0) return out;
  for (let i: u32 = 0; i < count; i++) {
    const p = load<u32>(p0 + i * 4);
    let e = p;
    while (load<u8>(e) != 0) e++;
    out.push(String.UTF8.decodeUnsafe(p, e - p));
  }
  return out;
}

export function args(): string[] {
  return strings(false);
}

export function environ(): string[] {
  return strings(true);
}

export function exit(code: u32): void {
  proc_exit(code);
}

/** Replaces AssemblyScript's env.abort so guests import only WASI: say why on stderr, then trap. */
export function wasiAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  writeString(2, "abort: " + (message !== null ? message : "") + " at " + (fileName !== null ? fileName : "?") + ":" +
    line.toString() + ":" + column.toString() + "\n");
  unreachable();
}
