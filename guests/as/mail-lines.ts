// mail-lines: the demo's handler. Reads the mail event JSON on stdin
//   {messageId, from, to, subject, date, text, attachments: [{filename, contentType, size, content (base64), charset?}]}
// and writes one NDJSON row {"file": filename, "line": n, "text": line} per line of each text attachment
// (.txt .csv .log, or a text/* content type). Lines count from 1 and end at LF, CRLF or a lone CR (old Mac
// files); empty lines are rows too, so line numbers match the file; a UTF-8 BOM is dropped. The smtp source
// has already converted a declared charset to UTF-8; bytes that are still not valid UTF-8 become U+FFFD so
// every row is valid JSON. Other attachments are skipped with a note on stderr. Invalid input JSON: a message
// on stderr and exit code 2.
//
// Streams (decision 133): stdin is read in 64 KiB pieces and an attachment's content goes JSON string ->
// base64 -> lines -> rows without being held, so memory is the same for a 1 KiB and a 25 MiB mail. Only an
// attachment whose content comes before its filename and content type (the host never writes that order)
// is held until the type is known. Invalid base64 in the middle of a streamed attachment ends that attachment
// there, with a note (its earlier rows are already written).
import { exit, fd_read, writeBytes, writeString } from "./wasi";

// ---- output buffer, flushed to stdout in 64 KiB pieces ----
// Static buffers (memory.data) and no allocation per row: the stub runtime never frees, so anything
// allocated per line would grow memory with the attachment.
const OUT_CAP: i32 = 65536;
const out = memory.data(OUT_CAP, 16);
let outLen: i32 = 0;

function flush(): void {
  if (outLen > 0 && !writeBytes(1, out, outLen)) exit(1);
  outLen = 0;
}

@inline function put(b: u8): void {
  if (outLen == OUT_CAP) flush();
  store<u8>(out + outLen++, b);
}

function putAscii(s: string): void {
  for (let i = 0; i < s.length; i++) put(<u8>s.charCodeAt(i));
}

const digits = memory.data(12);

function putInt(n: i32): void {
  let k = 0;
  do {
    store<u8>(digits + k++, <u8>(0x30 + n % 10));
    n /= 10;
  } while (n > 0);
  while (k > 0) put(load<u8>(digits + --k));
}

const HEX = "0123456789abcdef";

// ---- stdin, read in pieces ----

const IN_CAP: i32 = 65536;
const inBuf = memory.data(IN_CAP, 16);
let inLen: i32 = 0;
let inPos: i32 = 0;
let inBase: i32 = 0; // stdin offset of inBuf[0], for error messages
let eof = false;
const iov = memory.data(16, 8);

function fill(): bool {
  if (eof) return false;
  inBase += inLen;
  inPos = 0;
  inLen = 0;
  store<u32>(iov, <u32>inBuf);
  store<u32>(iov, <u32>IN_CAP, 4);
  if (fd_read(0, iov, 1, iov + 8) != 0) {
    flush();
    writeString(2, "mail-lines: cannot read stdin\n");
    exit(1);
  }
  inLen = <i32>load<u32>(iov, 8);
  if (inLen == 0) eof = true;
  return inLen > 0;
}

/** The next input byte without consuming it, or -1 at the end. */
@inline function peekRaw(): i32 {
  if (inPos == inLen && !fill()) return -1;
  return <i32>load<u8>(inBuf + inPos);
}

/** Consumes and returns the next input byte, or -1 at the end. */
@inline function nextRaw(): i32 {
  if (inPos == inLen && !fill()) return -1;
  return <i32>load<u8>(inBuf + inPos++);
}

function pos(): i32 {
  return inBase + inPos;
}

// ---- input JSON ----

function fail(what: string): void {
  flush();
  writeString(2, "mail-lines: invalid mail JSON at byte " + pos().toString() + ": " + what + "\n");
  exit(2);
}

function skipWs(): void {
  while (true) {
    const c = peekRaw();
    if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) return;
    inPos++;
  }
}

function peek(): i32 {
  skipWs();
  return peekRaw();
}

function expect(c: i32, what: string): void {
  if (peek() != c) fail("expected " + what);
  inPos++;
}

function hex4(): i32 {
  let v = 0;
  for (let k = 0; k < 4; k++) {
    const c = nextRaw();
    let d: i32;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
    else { fail(c < 0 ? "short \\u escape" : "bad \\u escape"); d = 0; }
    v = (v << 4) | d;
  }
  return v;
}

/**
 * Reads the next character of a JSON string body (after the opening quote) as one code point; -1 at the
 * closing quote. `\\uD83D\\uDE00` pairs become one code point, a lone surrogate U+FFFD. Bytes >= 0x80 are
 * returned one by one as they are (negative values are reserved), so UTF-8 passes through unchanged.
 */
function stringChar(): i32 {
  const c = nextRaw();
  if (c < 0) { fail("unterminated string"); return -1; }
  if (c == 0x22) return -1;
  if (c != 0x5c) return c;
  const e = nextRaw();
  if (e == 0x6e) return 0x0a;
  if (e == 0x72) return 0x0d;
  if (e == 0x74) return 0x09;
  if (e == 0x62) return 0x08;
  if (e == 0x66) return 0x0c;
  if (e == 0x22 || e == 0x5c || e == 0x2f) return e;
  if (e != 0x75) { fail(e < 0 ? "unterminated escape" : "bad escape"); return -1; }
  let cp = hex4();
  if (cp >= 0xd800 && cp <= 0xdbff && peekRaw() == 0x5c) {
    inPos++;
    if (nextRaw() != 0x75) { fail("bad escape after a high surrogate"); return -1; }
    const lo = hex4();
    if (lo >= 0xdc00 && lo <= 0xdfff) cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    else cp = 0xfffd; // the pair is broken: both halves are lost, as with any lone surrogate
  }
  if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
  return cp | 0x40000000; // marks a decoded escape: encode it as UTF-8
}

// A growable byte buffer for the small strings (keys, filename, content type, held content).
class Bytes {
  buf: Uint8Array = new Uint8Array(64);
  len: i32 = 0;
  push(b: i32): void {
    if (this.len == this.buf.length) {
      const bigger = new Uint8Array(this.buf.length * 2);
      memory.copy(bigger.dataStart, this.buf.dataStart, this.len);
      this.buf = bigger;
    }
    unchecked(this.buf[this.len++] = <u8>b);
  }
  pushCodePoint(ch: i32): void {
    if ((ch & 0x40000000) == 0) { this.push(ch); return; }
    const cp = ch & 0x3fffffff;
    if (cp < 0x80) this.push(cp);
    else if (cp < 0x800) { this.push(0xc0 | (cp >> 6)); this.push(0x80 | (cp & 63)); }
    else if (cp < 0x10000) { this.push(0xe0 | (cp >> 12)); this.push(0x80 | ((cp >> 6) & 63)); this.push(0x80 | (cp & 63)); }
    else {
      this.push(0xf0 | (cp >> 18)); this.push(0x80 | ((cp >> 12) & 63));
      this.push(0x80 | ((cp >> 6) & 63)); this.push(0x80 | (cp & 63));
    }
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

/** Parses a JSON string into its UTF-8 bytes. */
function parseString(): Uint8Array {
  expect(0x22, "a string");
  const b = new Bytes();
  while (true) {
    const ch = stringChar();
    if (ch < 0) break;
    b.pushCodePoint(ch);
  }
  return b.bytes();
}

function skipString(): void {
  inPos++; // opening quote
  while (true) {
    const c = nextRaw();
    if (c < 0) { fail("unterminated string"); return; }
    if (c == 0x5c) nextRaw();
    else if (c == 0x22) return;
  }
}

/** Skips any JSON value without recursion (a hostile nesting depth cannot exhaust the stack). */
function skipValue(): void {
  const c = peek();
  if (c == 0x22) { skipString(); return; }
  if (c == 0x7b || c == 0x5b) {
    let depth = 0;
    while (true) {
      const d = peekRaw();
      if (d < 0) break;
      if (d == 0x22) { skipString(); continue; }
      inPos++;
      if (d == 0x7b || d == 0x5b) depth++;
      else if (d == 0x7d || d == 0x5d) {
        depth--;
        if (depth == 0) return;
      }
    }
    fail("unterminated object or array");
    return;
  }
  const start = pos();
  while (true) {
    const d = peekRaw();
    if (d < 0 || d == 0x2c || d == 0x7d || d == 0x5d || d == 0x20 || d == 0x0a || d == 0x0d || d == 0x09) break;
    inPos++;
  }
  if (pos() == start) fail("expected a value");
}

function isNull(): bool {
  if (peek() == 0x6e) { skipValue(); return true; }
  return false;
}

function keyIs(key: Uint8Array, name: string): bool {
  if (key.length != name.length) return false;
  for (let i = 0; i < key.length; i++) if (<i32>unchecked(key[i]) != name.charCodeAt(i)) return false;
  return true;
}

// ---- attachments ----

function lower(c: u8): u8 {
  return c >= 0x41 && c <= 0x5a ? c + 32 : c;
}

function endsWithCI(s: Uint8Array, suffix: string): bool {
  const n = suffix.length;
  if (s.length < n) return false;
  for (let i = 0; i < n; i++) if (<i32>lower(s[s.length - n + i]) != suffix.charCodeAt(i)) return false;
  return true;
}

function startsWithCI(s: Uint8Array, prefix: string): bool {
  const n = prefix.length;
  if (s.length < n) return false;
  for (let i = 0; i < n; i++) if (<i32>lower(s[i]) != prefix.charCodeAt(i)) return false;
  return true;
}

function isText(filename: Uint8Array, contentType: Uint8Array): bool {
  return endsWithCI(filename, ".txt") || endsWithCI(filename, ".csv") || endsWithCI(filename, ".log") ||
    startsWithCI(contentType, "text/");
}

function b64(c: u8): i32 {
  if (c >= 0x41 && c <= 0x5a) return c - 0x41;
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 26;
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 52;
  if (c == 0x2b || c == 0x2d) return 62; // + and the URL-safe -
  if (c == 0x2f || c == 0x5f) return 63; // / and the URL-safe _
  return -1;
}

// ---- one attachment's bytes -> rows, a byte at a time ----

let file: Uint8Array = new Uint8Array(0);
let lineNo: i32 = 1;
let lineOpen = false;
let afterCR = false;
let bomSeen: i32 = 0; // bytes of a leading BOM matched so far; -1 once past the start
const BOM: StaticArray<u8> = [0xef, 0xbb, 0xbf];
// UTF-8 sequence in progress
const seq = new Uint8Array(4);
let seqLen: i32 = 0;
let seqNeed: i32 = 0;
let seqLo: i32 = 0x80;
let seqHi: i32 = 0xbf;
// base64 state
let acc: u32 = 0;
let bits: u32 = 0;
let b64Done = false;
let b64Bad = false;

function startAttachment(filename: Uint8Array): void {
  file = filename;
  lineNo = 1;
  lineOpen = false;
  afterCR = false;
  bomSeen = 0;
  seqLen = 0;
  acc = 0;
  bits = 0;
  b64Done = false;
  b64Bad = false;
}

function putFileName(): void {
  put(0x22);
  // the name is short: validate it as one piece with the same state machine as the content
  for (let i = 0; i < file.length; i++) textByte(<i32>unchecked(file[i]));
  flushSeq();
  put(0x22);
}

function openLine(): void {
  if (lineOpen) return;
  putAscii("{\"file\":");
  putFileName();
  putAscii(",\"line\":");
  putInt(lineNo);
  putAscii(",\"text\":\"");
  lineOpen = true;
}

function endLine(): void {
  flushSeq();
  openLine();
  put(0x22); put(0x7d); put(0x0a);
  lineOpen = false;
  lineNo++;
}

/** A byte that is not valid UTF-8 where it stands: U+FFFD. */
function putReplacement(): void {
  put(0xef); put(0xbf); put(0xbd);
}

/** Ends an unfinished UTF-8 sequence: each of its bytes becomes U+FFFD, as if each stood alone. */
function flushSeq(): void {
  for (let k = 0; k < seqLen; k++) putReplacement();
  seqLen = 0;
}

/** One byte of text inside a JSON string: escaped if ASCII, validated as UTF-8 otherwise. */
function textByte(c: i32): void {
  if (seqLen > 0) {
    const lo = seqLen == 1 ? seqLo : 0x80;
    const hi = seqLen == 1 ? seqHi : 0xbf;
    if (c >= lo && c <= hi) {
      unchecked(seq[seqLen++] = <u8>c);
      if (seqLen == seqNeed) {
        for (let k = 0; k < seqLen; k++) put(unchecked(seq[k]));
        seqLen = 0;
      }
      return;
    }
    flushSeq(); // then c starts afresh
  }
  if (c < 0x80) {
    if (c == 0x22) { put(0x5c); put(0x22); }
    else if (c == 0x5c) { put(0x5c); put(0x5c); }
    else if (c == 0x0a) { put(0x5c); put(0x6e); }
    else if (c == 0x0d) { put(0x5c); put(0x72); }
    else if (c == 0x09) { put(0x5c); put(0x74); }
    else if (c == 0x08) { put(0x5c); put(0x62); }
    else if (c == 0x0c) { put(0x5c); put(0x66); }
    else if (c < 0x20) {
      putAscii("\\u00");
      put(<u8>HEX.charCodeAt(c >> 4));
      put(<u8>HEX.charCodeAt(c & 15));
    } else put(<u8>c);
    return;
  }
  seqLo = 0x80;
  seqHi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) seqNeed = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    seqNeed = 3;
    if (c == 0xe0) seqLo = 0xa0;
    if (c == 0xed) seqHi = 0x9f; // no UTF-16 surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    seqNeed = 4;
    if (c == 0xf0) seqLo = 0x90;
    if (c == 0xf4) seqHi = 0x8f;
  } else { putReplacement(); return; }
  unchecked(seq[0] = <u8>c);
  seqLen = 1;
}

/** One decoded byte of the attachment; printable ASCII inside a line goes straight out. */
@inline function dataByte(c: i32): void {
  if (lineOpen && c >= 0x20 && c < 0x7f && c != 0x22 && c != 0x5c && seqLen == 0) put(<u8>c);
  else dataByteSlow(c);
}

function dataByteSlow(c: i32): void {
  if (bomSeen >= 0) {
    if (c == <i32>unchecked(BOM[bomSeen])) {
      bomSeen++;
      if (bomSeen == 3) bomSeen = -1; // dropped
      return;
    }
    const held = bomSeen;
    bomSeen = -1;
    for (let k = 0; k < held; k++) dataByte(<i32>unchecked(BOM[k]));
  }
  if (c == 0x0a) {
    if (afterCR) { afterCR = false; return; } // the LF of a CRLF
    endLine();
    return;
  }
  afterCR = false;
  if (c == 0x0d) { endLine(); afterCR = true; return; }
  openLine();
  textByte(c);
}

function endAttachment(): void {
  if (bomSeen > 0) { // a file shorter than a BOM that starts like one
    const held = bomSeen;
    bomSeen = -1;
    for (let k = 0; k < held; k++) dataByte(<i32>unchecked(BOM[k]));
  }
  if (lineOpen) endLine();
}

/** One base64 character of the content (whitespace ignored, decoding stops at the first '='). */
function base64Char(c: i32): void {
  if (b64Done || b64Bad) return;
  if (c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09) return;
  if (c == 0x3d) { b64Done = true; return; }
  const v = c < 0x80 ? b64(<u8>c) : -1;
  if (v < 0) { b64Bad = true; return; }
  acc = (acc << 6) | <u32>v;
  bits += 6;
  if (bits >= 8) {
    bits -= 8;
    dataByte(<i32>((acc >> bits) & 0xff));
    acc &= (1 << bits) - 1;
  }
}

function note(filename: Uint8Array, contentType: Uint8Array, why: string): void {
  writeString(2, "mail-lines: skipped attachment " + String.UTF8.decodeUnsafe(filename.dataStart, filename.length) +
    " (" + (contentType.length > 0 ? String.UTF8.decodeUnsafe(contentType.dataStart, contentType.length) : "no content type") +
    "): " + why + "\n");
}

function badBase64Note(filename: Uint8Array, contentType: Uint8Array): void {
  if (lineNo == 1) note(filename, contentType, "content is not valid base64");
  else note(filename, contentType, "content is not valid base64 after line " + (lineNo - 1).toString() + "; the lines before it were written");
}

/** base64 value of each byte; -1 whitespace, -2 '=', -3 not base64. */
const B64 = memory.data<i8>([
  -3,-3,-3,-3,-3,-3,-3,-3,-3,-1,-1,-3,-3,-1,-3,-3, -3,-3,-3,-3,-3,-3,-3,-3,-3,-3,-3,-3,-3,-3,-3,-3,
  -1,-3,-3,-3,-3,-3,-3,-3,-3,-3,-3,62,-3,62,-3,63, 52,53,54,55,56,57,58,59,60,61,-3,-3,-3,-2,-3,-3,
  -3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9,10,11,12,13,14, 15,16,17,18,19,20,21,22,23,24,25,-3,-3,-3,-3,63,
  -3,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40, 41,42,43,44,45,46,47,48,49,50,51,-3,-3,-3,-3,-3,
]);

/**
 * Decodes the buffered part of the content string (at most one stdin piece); true once its closing
 * quote is consumed. A loop that runs for a whole 25 MiB attachment inside one call would stay in
 * V8's baseline tier (no on-stack replacement for wasm); one call per piece lets it tier up.
 */
function pumpContent(): bool {
  if (inPos == inLen && !fill()) fail("unterminated string");
  let i = inPos;
  const n = inLen;
  let a = acc, b = bits;
  while (i < n) {
    const c = <i32>load<u8>(inBuf + i);
    if (c == 0x22 || c == 0x5c || c >= 0x80) break;
    i++;
    if (b64Done || b64Bad) continue;
    const v = <i32>load<i8>(B64 + c);
    if (v >= 0) {
      a = (a << 6) | <u32>v;
      b += 6;
      if (b >= 8) {
        b -= 8;
        dataByte(<i32>((a >> b) & 0xff));
        a &= (1 << b) - 1;
      }
    } else if (v == -2) b64Done = true;
    else if (v == -3) b64Bad = true;
  }
  acc = a;
  bits = b;
  inPos = i;
  if (i == n) return false;
  // a quote, an escape or a byte >= 0x80: the general path
  const ch = stringChar();
  if (ch < 0) return true;
  base64Char((ch & 0x40000000) != 0 ? ((ch & 0x3fffffff) < 0x80 ? ch & 0x7f : 0xff) : ch);
  return false;
}

/** Streams the content string at the input position through base64 and the line splitter. */
function streamContent(filename: Uint8Array, contentType: Uint8Array): void {
  expect(0x22, "a string");
  startAttachment(filename);
  while (!pumpContent()) {}
  endAttachment();
  if (b64Bad) badBase64Note(filename, contentType);
}

function parseAttachment(): void {
  expect(0x7b, "an attachment object");
  let filename = new Uint8Array(0);
  let contentType = new Uint8Array(0);
  let haveName = false, haveType = false, haveContent = false, streamed = false;
  let held: Uint8Array | null = null;
  if (peek() == 0x7d) { inPos++; }
  else {
    while (true) {
      const key = parseString();
      expect(0x3a, "':'");
      if (keyIs(key, "filename")) { haveName = true; if (!isNull()) filename = parseString(); }
      else if (keyIs(key, "contentType")) { haveType = true; if (!isNull()) contentType = parseString(); }
      else if (keyIs(key, "content")) {
        if (isNull()) {}
        else if (peek() != 0x22) fail("expected a string");
        else if (isText(filename, contentType)) { haveContent = true; streamed = true; streamContent(filename, contentType); }
        else if (haveName && haveType) { haveContent = true; skipString(); }
        else { haveContent = true; held = parseString(); } // the type comes later: hold it until then
      }
      else skipValue();
      const c = peek();
      inPos++;
      if (c == 0x7d) break;
      if (c != 0x2c) { inPos--; fail("expected ',' or '}' in an attachment"); }
    }
  }
  if (streamed) return;
  if (!isText(filename, contentType)) { note(filename, contentType, "not a text file"); return; }
  if (!haveContent || held === null) { note(filename, contentType, "no content"); return; }
  const h = held!;
  startAttachment(filename);
  for (let i = 0; i < h.length; i++) base64Char(<i32>unchecked(h[i]));
  endAttachment();
  if (b64Bad) badBase64Note(filename, contentType);
}

function parseAttachments(): void {
  expect(0x5b, "an array of attachments");
  if (peek() == 0x5d) { inPos++; return; }
  while (true) {
    parseAttachment();
    const c = peek();
    inPos++;
    if (c == 0x5d) return;
    if (c != 0x2c) { inPos--; fail("expected ',' or ']' after an attachment"); }
  }
}

expect(0x7b, "a JSON object (the mail event)");
if (peek() == 0x7d) inPos++;
else {
  while (true) {
    const key = parseString();
    expect(0x3a, "':'");
    if (keyIs(key, "attachments")) { if (!isNull()) parseAttachments(); }
    else skipValue();
    const c = peek();
    inPos++;
    if (c == 0x7d) break;
    if (c != 0x2c) { inPos--; fail("expected ',' or '}'"); }
  }
}
if (peek() != -1) fail("unexpected data after the mail object");
flush();
