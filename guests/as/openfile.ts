// openfile (hostile, and the probe for directory grants). Prints one line per attempt: "<what>: ok" or
// "<what>: errno N".
//   no arguments: tries to open /etc/passwd directly, then through every preopen with "..",
//                 "../../etc/passwd" and the absolute "/etc/passwd".
//   read NAME:    prints the file NAME of the first preopen (exit 1 if it cannot)
//   write NAME:   creates/truncates NAME in the first preopen and writes a line into it (exit 1 if refused)
import {
  args, exit, fd_close, fd_prestat_dir_name, fd_prestat_get, fd_write, path_open, readAll, writeBytes, writeString,
  OFLAG_CREAT, RIGHT_FD_READ, RIGHT_FD_WRITE,
} from "./wasi";

const OFLAG_TRUNC: u32 = 8;
const out = memory.data(16, 8);

function tryOpen(dirfd: u32, path: string, write: bool): i32 {
  const p = String.UTF8.encode(path);
  const rights: u64 = write ? RIGHT_FD_WRITE : RIGHT_FD_READ;
  // lookupflags 1 = SYMLINK_FOLLOW, as wasi-libc's open() passes unless O_NOFOLLOW: links are followed,
  // and must still never lead out of the grant.
  const err = path_open(dirfd, 1, changetype<usize>(p), p.byteLength, write ? OFLAG_CREAT | OFLAG_TRUNC : 0, rights, rights, 0, out);
  if (err != 0) return -<i32>err;
  return <i32>load<u32>(out);
}

function report(what: string, fd: i32): void {
  writeString(1, what + (fd >= 0 ? ": ok" : ": errno " + (-fd).toString()) + "\n");
}

function preopenName(fd: u32): string | null {
  if (fd_prestat_get(fd, out) != 0) return null;
  const len = load<u32>(out, 4);
  const buf = new ArrayBuffer(<i32>len);
  if (fd_prestat_dir_name(fd, changetype<usize>(buf), len) != 0) return null;
  return String.UTF8.decode(buf);
}

const argv = args();
if (argv.length >= 3 && argv[1] == "read") {
  const fd = tryOpen(3, argv[2], false);
  if (fd < 0) { report("read " + argv[2], fd); exit(1); }
  const data = readAll(<u32>fd);
  if (data === null) { writeString(1, "read " + argv[2] + ": read failed\n"); exit(1); }
  else writeBytes(1, data.dataStart, data.length);
  fd_close(<u32>fd);
} else if (argv.length >= 3 && argv[1] == "write") {
  const fd = tryOpen(3, argv[2], true);
  if (fd < 0) { report("write " + argv[2], fd); exit(1); }
  const line = String.UTF8.encode("written by the guest\n");
  store<u32>(out, <u32>changetype<usize>(line));
  store<u32>(out, <u32>line.byteLength, 4);
  const err = fd_write(<u32>fd, out, 1, out + 8);
  report("write " + argv[2], err == 0 ? 0 : -<i32>err);
  fd_close(<u32>fd);
  if (err != 0) exit(1);
} else {
  // fd 3 is the first preopen if there is one; with none it must be EBADF.
  report("open /etc/passwd (fd 3)", tryOpen(3, "/etc/passwd", false));
  for (let fd: u32 = 3; fd < 64; fd++) {
    const name = preopenName(fd);
    if (name === null) break;
    writeString(1, "preopen " + fd.toString() + " " + name! + "\n");
    report("open .. in " + name!, tryOpen(fd, "..", false));
    report("open ../../etc/passwd in " + name!, tryOpen(fd, "../../etc/passwd", false));
    report("open /etc/passwd in " + name!, tryOpen(fd, "/etc/passwd", false));
    report("open a/../../x in " + name!, tryOpen(fd, "a/../../x", false));
  }
}
