// An http-wasm guest in AssemblyScript driven by its config: one command per line, "<phase> <op> <args>",
// phase init (at instantiation), req (handle_request) or resp (handle_response). It lets tests exercise
// every host function of the http_handler ABI without a guest per case. Kinds are the ABI's numbers.

@external("http_handler", "enable_features") declare function enable_features(f: u32): u32;
@external("http_handler", "get_config") declare function get_config(buf: usize, limit: u32): u32;
@external("http_handler", "log") declare function log(level: i32, msg: usize, len: u32): void;
@external("http_handler", "log_enabled") declare function log_enabled(level: i32): u32;
@external("http_handler", "get_method") declare function get_method(buf: usize, limit: u32): u32;
@external("http_handler", "set_method") declare function set_method(ptr: usize, len: u32): void;
@external("http_handler", "get_uri") declare function get_uri(buf: usize, limit: u32): u32;
@external("http_handler", "set_uri") declare function set_uri(ptr: usize, len: u32): void;
@external("http_handler", "get_protocol_version") declare function get_protocol_version(buf: usize, limit: u32): u32;
@external("http_handler", "get_source_addr") declare function get_source_addr(buf: usize, limit: u32): u32;
@external("http_handler", "get_header_names") declare function get_header_names(kind: u32, buf: usize, limit: u32): u64;
@external("http_handler", "get_header_values") declare function get_header_values(kind: u32, name: usize, nameLen: u32, buf: usize, limit: u32): u64;
@external("http_handler", "set_header_value") declare function set_header_value(kind: u32, name: usize, nameLen: u32, val: usize, valLen: u32): void;
@external("http_handler", "add_header_value") declare function add_header_value(kind: u32, name: usize, nameLen: u32, val: usize, valLen: u32): void;
@external("http_handler", "remove_header") declare function remove_header(kind: u32, name: usize, nameLen: u32): void;
@external("http_handler", "read_body") declare function read_body(kind: u32, buf: usize, limit: u32): u64;
@external("http_handler", "write_body") declare function write_body(kind: u32, ptr: usize, len: u32): void;
@external("http_handler", "get_status_code") declare function get_status_code(): u32;
@external("http_handler", "set_status_code") declare function set_status_code(code: u32): void;

const SCRATCH_SIZE: u32 = 65536;
const SCRATCH: usize = memory.data(65536);

function decode(ptr: usize, len: u32): string {
  return String.UTF8.decodeUnsafe(ptr, len);
}

/** Asks for the length first (buf_limit 0 writes nothing), then reads: the pattern the spec describes. */
function getter(which: i32): string {
  let n: u32 = 0;
  if (which == 0) n = get_method(SCRATCH, 0);
  else if (which == 1) n = get_uri(SCRATCH, 0);
  else if (which == 2) n = get_protocol_version(SCRATCH, 0);
  else if (which == 3) n = get_source_addr(SCRATCH, 0);
  else n = get_config(SCRATCH, 0);
  if (n == 0) return "";
  if (n > SCRATCH_SIZE) unreachable();
  if (which == 0) get_method(SCRATCH, n);
  else if (which == 1) get_uri(SCRATCH, n);
  else if (which == 2) get_protocol_version(SCRATCH, n);
  else if (which == 3) get_source_addr(SCRATCH, n);
  else get_config(SCRATCH, n);
  return decode(SCRATCH, n);
}

function names(kind: u32): string {
  const cl = get_header_names(kind, SCRATCH, SCRATCH_SIZE);
  return joinList(cl);
}

function values(kind: u32, name: string): string {
  const n = String.UTF8.encode(name);
  const cl = get_header_values(kind, changetype<usize>(n), <u32>n.byteLength, SCRATCH, SCRATCH_SIZE);
  return joinList(cl);
}

function joinList(cl: u64): string {
  const count = <u32>(cl >> 32);
  const len = <u32>cl;
  const parts = new Array<string>();
  let start: u32 = 0;
  for (let i: u32 = 0; i < len; i++) {
    if (load<u8>(SCRATCH + i) == 0) {
      parts.push(decode(SCRATCH + start, i - start));
      start = i + 1;
    }
  }
  return count.toString() + ":" + parts.join(",");
}

function setH(op: string, kind: u32, name: string, value: string): void {
  const n = String.UTF8.encode(name);
  const v = String.UTF8.encode(value);
  if (op == "set") set_header_value(kind, changetype<usize>(n), <u32>n.byteLength, changetype<usize>(v), <u32>v.byteLength);
  else add_header_value(kind, changetype<usize>(n), <u32>n.byteLength, changetype<usize>(v), <u32>v.byteLength);
}

function writeBody(kind: u32, text: string): void {
  const b = String.UTF8.encode(text);
  write_body(kind, changetype<usize>(b), <u32>b.byteLength);
}

/** Reads a body in chunks of `chunk` bytes; returns "<reads>:<text>". */
function readAll(kind: u32, chunk: u32): string {
  let text = "";
  let reads = 0;
  while (true) {
    const el = read_body(kind, SCRATCH, chunk);
    reads++;
    text += decode(SCRATCH, <u32>el);
    if ((el >> 32) != 0) break;
    if (reads > 100000) unreachable();
  }
  return reads.toString() + ":" + text;
}

let nextFlag: u64 = 1;
let reqCtx: u64 = 0;
let ctxSeen: u32 = 0;
let errSeen: u32 = 0;
/** Survives between requests only in a pooled instance: lets tests see instance reuse. */
let requestsSeen: u32 = 0;

/** Everything after the k-th space-separated word (values may contain spaces). */
function tailOf(rest: string, k: i32): string {
  let pos = 0;
  for (let j = 0; j < k; j++) pos = rest.indexOf(" ", pos) + 1;
  return rest.substring(pos);
}

function run(phase: string): void {
  const cfg = getter(4);
  const lines = cfg.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const sp = line.indexOf(" ");
    if (sp < 0 || line.substring(0, sp) != phase) continue;
    const rest = line.substring(sp + 1);
    const a = rest.split(" ");
    const op = a[0];
    if (op == "features") enable_features(<u32>parseInt(a[1]));
    else if (op == "method") { const b = String.UTF8.encode(a[1]); set_method(changetype<usize>(b), <u32>b.byteLength); }
    else if (op == "uri") { const b = String.UTF8.encode(a[1]); set_uri(changetype<usize>(b), <u32>b.byteLength); }
    else if (op == "set" || op == "add") setH(op, <u32>parseInt(a[1]), a[2], tailOf(rest, 3));
    else if (op == "remove") { const b = String.UTF8.encode(a[2]); remove_header(<u32>parseInt(a[1]), changetype<usize>(b), <u32>b.byteLength); }
    else if (op == "status") set_status_code(<u32>parseInt(a[1]));
    else if (op == "write") writeBody(<u32>parseInt(a[1]), tailOf(rest, 2));
    else if (op == "info") {
      const k = <u32>parseInt(a[1]);
      setH("set", k, "x-info-method", getter(0));
      setH("set", k, "x-info-uri", getter(1));
      setH("set", k, "x-info-proto", getter(2));
      setH("set", k, "x-info-source", getter(3));
      setH("set", k, "x-info-config-len", getter(4).length.toString());
      setH("set", k, "x-info-features", enable_features(0).toString());
      setH("set", k, "x-info-requests", requestsSeen.toString());
    }
    else if (op == "names") setH("set", <u32>parseInt(a[2]), a[3], names(<u32>parseInt(a[1])));
    else if (op == "values") setH("set", <u32>parseInt(a[3]), a[4], values(<u32>parseInt(a[1]), a[2]));
    else if (op == "readbody") setH("set", <u32>parseInt(a[3]), a[4], readAll(<u32>parseInt(a[1]), <u32>parseInt(a[2])));
    else if (op == "echo") writeBody(1, readAll(<u32>parseInt(a[1]), <u32>parseInt(a[2])));
    else if (op == "getstatus") setH("set", <u32>parseInt(a[1]), a[2], get_status_code().toString());
    else if (op == "ctxinfo") setH("set", <u32>parseInt(a[1]), a[2], ctxSeen.toString() + "," + errSeen.toString());
    else if (op == "logctx") { const b = String.UTF8.encode("ctx=" + ctxSeen.toString() + " is_error=" + errSeen.toString()); log(0, changetype<usize>(b), <u32>b.byteLength); }
    else if (op == "log") { const b = String.UTF8.encode(tailOf(rest, 2)); log(<i32>parseInt(a[1]), changetype<usize>(b), <u32>b.byteLength); }
    else if (op == "logenabled") {
      let s = "";
      for (let l = -1; l <= 3; l++) s += log_enabled(l).toString();
      setH("set", <u32>parseInt(a[1]), a[2], s);
    }
    else if (op == "next") nextFlag = <u64>parseInt(a[1]);
    else if (op == "ctx") reqCtx = <u64>parseInt(a[1]);
    else if (op == "trap") unreachable();
  }
}

run("init");

export function handle_request(): i64 {
  nextFlag = 1;
  reqCtx = 0;
  requestsSeen++;
  run("req");
  return <i64>((reqCtx << 32) | nextFlag);
}

export function handle_response(ctx: u32, isError: u32): void {
  ctxSeen = ctx;
  errSeen = isError;
  run("resp");
}
