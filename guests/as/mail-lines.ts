// mail-lines: the demo's handler. Reads the mail event JSON on stdin
//   {messageId, from, to, subject, date, text, attachments: [{filename, contentType, size, content (base64)}]}
// and writes one NDJSON row {"file": filename, "line": n, "text": line} per line of each text attachment
// (.txt .csv .log, or a text/* content type). Lines count from 1; a trailing \r (CRLF) is stripped; empty
// lines are rows too, so line numbers match the file; a UTF-8 BOM is dropped. Bytes that are not valid UTF-8
// become U+FFFD so every row is valid JSON. Other attachments are skipped with a note on stderr.
// Invalid input JSON: a message on stderr and exit code 2.
//
// Works on bytes throughout (no UTF-16 strings for the payload), so memory stays a small multiple of the mail.
import { exit, readAll, writeBytes, writeString } from "./wasi";

let src: Uint8Array = new Uint8Array(0);
let pos: i32 = 0;

// ---- output buffer, flushed to stdout in 16 KiB pieces ----
let out = new Uint8Array(16384);
let outLen: i32 = 0;

function flush(): void {
  if (outLen > 0 && !writeBytes(1, out.dataStart, outLen)) exit(1);
  outLen = 0;
}

@inline function put(b: u8): void {
  if (outLen == out.length) flush();
  unchecked(out[outLen++] = b);
}

function putAscii(s: string): void {
  for (let i = 0; i < s.length; i++) put(<u8>s.charCodeAt(i));
}

function putInt(n: i32): void {
  putAscii(n.toString());
}

const HEX = "0123456789abcdef";

/** Writes bytes [start, end) of buf as a JSON string, replacing invalid UTF-8 with U+FFFD. */
function putJsonString(buf: Uint8Array, start: i32, end: i32): void {
  put(0x22);
  let i = start;
  while (i < end) {
    const c = unchecked(buf[i]);
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
      } else put(c);
      i++;
      continue;
    }
    const n = utf8Len(buf, i, end);
    if (n == 0) {
      put(0xef); put(0xbf); put(0xbd);
      i++;
    } else {
      for (let k = 0; k < n; k++) put(unchecked(buf[i + k]));
      i += n;
    }
  }
  put(0x22);
}

/** Length of the valid UTF-8 sequence starting at i (lead byte >= 0x80), or 0 if invalid. */
function utf8Len(buf: Uint8Array, i: i32, end: i32): i32 {
  const c = unchecked(buf[i]);
  let n: i32, lo: u8 = 0x80, hi: u8 = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) n = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f; // no UTF-16 surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else return 0;
  if (i + n > end) return 0;
  const c1 = unchecked(buf[i + 1]);
  if (c1 < lo || c1 > hi) return 0;
  for (let k = 2; k < n; k++) {
    const ck = unchecked(buf[i + k]);
    if (ck < 0x80 || ck > 0xbf) return 0;
  }
  return n;
}

// ---- input JSON (bytes) ----

function fail(what: string): void {
  flush();
  writeString(2, "mail-lines: invalid mail JSON at byte " + pos.toString() + ": " + what + "\n");
  exit(2);
}

function skipWs(): void {
  while (pos < src.length) {
    const c = unchecked(src[pos]);
    if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) return;
    pos++;
  }
}

function peek(): i32 {
  skipWs();
  return pos < src.length ? <i32>unchecked(src[pos]) : -1;
}

function expect(c: i32, what: string): void {
  if (peek() != c) fail("expected " + what);
  pos++;
}

function hex4(): i32 {
  if (pos + 4 > src.length) fail("short \\u escape");
  let v = 0;
  for (let k = 0; k < 4; k++) {
    const c = <i32>unchecked(src[pos++]);
    let d: i32;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
    else { fail("bad \\u escape"); d = 0; }
    v = (v << 4) | d;
  }
  return v;
}

/** Parses a JSON string at pos into its UTF-8 bytes. */
function parseString(): Uint8Array {
  expect(0x22, "a string");
  // Fast path: no escapes, copy the slice as is.
  let j = pos;
  while (j < src.length) {
    const c = unchecked(src[j]);
    if (c == 0x22 || c == 0x5c) break;
    j++;
  }
  if (j < src.length && unchecked(src[j]) == 0x22) {
    const s = src.slice(pos, j);
    pos = j + 1;
    return s;
  }
  const buf = new Uint8Array(src.length - pos);
  let n = 0;
  while (true) {
    if (pos >= src.length) fail("unterminated string");
    const c = unchecked(src[pos++]);
    if (c == 0x22) break;
    if (c != 0x5c) { unchecked(buf[n++] = c); continue; }
    if (pos >= src.length) fail("unterminated escape");
    const e = unchecked(src[pos++]);
    if (e == 0x6e) unchecked(buf[n++] = 0x0a);
    else if (e == 0x72) unchecked(buf[n++] = 0x0d);
    else if (e == 0x74) unchecked(buf[n++] = 0x09);
    else if (e == 0x62) unchecked(buf[n++] = 0x08);
    else if (e == 0x66) unchecked(buf[n++] = 0x0c);
    else if (e == 0x22 || e == 0x5c || e == 0x2f) unchecked(buf[n++] = e);
    else if (e == 0x75) {
      let cp = hex4();
      if (cp >= 0xd800 && cp <= 0xdbff && pos + 6 <= src.length && unchecked(src[pos]) == 0x5c && unchecked(src[pos + 1]) == 0x75) {
        const save = pos;
        pos += 2;
        const lo = hex4();
        if (lo >= 0xdc00 && lo <= 0xdfff) cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        else pos = save;
      }
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd; // lone surrogate
      // a \uXXXX escape takes 6 input bytes and at most 4 output bytes, so buf never overflows
      if (cp < 0x80) unchecked(buf[n++] = <u8>cp);
      else if (cp < 0x800) {
        unchecked(buf[n++] = <u8>(0xc0 | (cp >> 6)));
        unchecked(buf[n++] = <u8>(0x80 | (cp & 63)));
      } else if (cp < 0x10000) {
        unchecked(buf[n++] = <u8>(0xe0 | (cp >> 12)));
        unchecked(buf[n++] = <u8>(0x80 | ((cp >> 6) & 63)));
        unchecked(buf[n++] = <u8>(0x80 | (cp & 63)));
      } else {
        unchecked(buf[n++] = <u8>(0xf0 | (cp >> 18)));
        unchecked(buf[n++] = <u8>(0x80 | ((cp >> 12) & 63)));
        unchecked(buf[n++] = <u8>(0x80 | ((cp >> 6) & 63)));
        unchecked(buf[n++] = <u8>(0x80 | (cp & 63)));
      }
    } else fail("bad escape");
  }
  return buf.subarray(0, n);
}

/** Skips any JSON value without recursion (a hostile nesting depth cannot exhaust the stack). */
function skipValue(): void {
  const c = peek();
  if (c == 0x22) { skipString(); return; }
  if (c == 0x7b || c == 0x5b) {
    let depth = 0;
    while (pos < src.length) {
      const d = unchecked(src[pos]);
      if (d == 0x22) { skipString(); continue; }
      pos++;
      if (d == 0x7b || d == 0x5b) depth++;
      else if (d == 0x7d || d == 0x5d) {
        depth--;
        if (depth == 0) return;
      }
    }
    fail("unterminated object or array");
    return;
  }
  const start = pos;
  while (pos < src.length) {
    const d = unchecked(src[pos]);
    if (d == 0x2c || d == 0x7d || d == 0x5d || d == 0x20 || d == 0x0a || d == 0x0d || d == 0x09) break;
    pos++;
  }
  if (pos == start) fail("expected a value");
}

function skipString(): void {
  pos++; // opening quote
  while (pos < src.length) {
    const c = unchecked(src[pos++]);
    if (c == 0x5c) pos++;
    else if (c == 0x22) return;
  }
  fail("unterminated string");
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

/** Decodes base64 (whitespace ignored, padding optional); null if a byte is not base64. */
function decodeBase64(s: Uint8Array): Uint8Array | null {
  const outBuf = new Uint8Array((s.length / 4) * 3 + 3);
  let n = 0, acc: u32 = 0, bits: u32 = 0;
  for (let i = 0; i < s.length; i++) {
    const c = unchecked(s[i]);
    if (c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09) continue;
    if (c == 0x3d) break;
    const v = b64(c);
    if (v < 0) return null;
    acc = (acc << 6) | <u32>v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      unchecked(outBuf[n++] = <u8>(acc >> bits));
      acc &= (1 << bits) - 1;
    }
  }
  return outBuf.subarray(0, n);
}

function note(filename: Uint8Array, contentType: Uint8Array, why: string): void {
  writeString(2, "mail-lines: skipped attachment " + String.UTF8.decodeUnsafe(filename.dataStart, filename.length) +
    " (" + (contentType.length > 0 ? String.UTF8.decodeUnsafe(contentType.dataStart, contentType.length) : "no content type") +
    "): " + why + "\n");
}

function emitLines(filename: Uint8Array, data: Uint8Array): void {
  let start = 0;
  if (data.length >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf) start = 3;
  let line = 1;
  const len = data.length;
  let i = start;
  while (start < len) {
    while (i < len && unchecked(data[i]) != 0x0a) i++;
    let end = i;
    if (end > start && unchecked(data[end - 1]) == 0x0d) end--;
    putAscii("{\"file\":");
    putJsonString(filename, 0, filename.length);
    putAscii(",\"line\":");
    putInt(line);
    putAscii(",\"text\":");
    putJsonString(data, start, end);
    putAscii("}\n");
    line++;
    i++;
    start = i;
  }
}

function parseAttachment(): void {
  expect(0x7b, "an attachment object");
  let filename = new Uint8Array(0);
  let contentType = new Uint8Array(0);
  let content: Uint8Array | null = null;
  if (peek() == 0x7d) { pos++; }
  else {
    while (true) {
      const key = parseString();
      expect(0x3a, "':'");
      if (keyIs(key, "filename")) { if (!isNull()) filename = parseString(); }
      else if (keyIs(key, "contentType")) { if (!isNull()) contentType = parseString(); }
      else if (keyIs(key, "content")) { if (!isNull()) content = parseString(); }
      else skipValue();
      const c = peek();
      pos++;
      if (c == 0x7d) break;
      if (c != 0x2c) { pos--; fail("expected ',' or '}' in an attachment"); }
    }
  }
  if (!isText(filename, contentType)) { note(filename, contentType, "not a text file"); return; }
  if (content === null) { note(filename, contentType, "no content"); return; }
  const data = decodeBase64(content!);
  if (data === null) { note(filename, contentType, "content is not valid base64"); return; }
  emitLines(filename, data!);
}

function parseAttachments(): void {
  expect(0x5b, "an array of attachments");
  if (peek() == 0x5d) { pos++; return; }
  while (true) {
    parseAttachment();
    const c = peek();
    pos++;
    if (c == 0x5d) return;
    if (c != 0x2c) { pos--; fail("expected ',' or ']' after an attachment"); }
  }
}

const input = readAll(0);
if (input === null) {
  writeString(2, "mail-lines: cannot read stdin\n");
  exit(1);
} else {
  src = input!;
  expect(0x7b, "a JSON object (the mail event)");
  if (peek() == 0x7d) pos++;
  else {
    while (true) {
      const key = parseString();
      expect(0x3a, "':'");
      if (keyIs(key, "attachments")) { if (!isNull()) parseAttachments(); }
      else skipValue();
      const c = peek();
      pos++;
      if (c == 0x7d) break;
      if (c != 0x2c) { pos--; fail("expected ',' or '}'"); }
    }
  }
  if (peek() != -1) fail("unexpected data after the mail object");
  flush();
}
