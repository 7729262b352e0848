// mail-lines in TypeScript: the demo's handler (guests/as/mail-lines.ts) as a WASI 0.2 component. Reads
// the mail event JSON on stdin
//   {messageId, from, to, subject, date, text, attachments: [{filename, contentType, size, content (base64)}]}
// and writes one NDJSON row {"file": filename, "line": n, "text": line} per line of each text attachment
// (.txt .csv .log, or a text/* content type), exactly as the AssemblyScript handler does: lines count
// from 1 and end at LF, CRLF or a lone CR; empty lines are rows too; a trailing break adds no empty row;
// a leading UTF-8 BOM is dropped; each byte of an invalid UTF-8 sequence becomes U+FFFD; base64 ignores
// whitespace, stops at the first '=', and ends the attachment at the first invalid character. Skipped
// attachments get a note on stderr. Invalid JSON: a message on stderr and a failed exit.
// Unlike the AssemblyScript handler this one holds the whole mail in memory (JSON.parse).
import { getStdin } from 'wasi:cli/stdin@0.2.12';
import { getStdout } from 'wasi:cli/stdout@0.2.12';
import { getStderr } from 'wasi:cli/stderr@0.2.12';

const encoder = new TextEncoder();

function readStdin(): Uint8Array {
  const stdin = getStdin();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let chunk: Uint8Array;
    try {
      chunk = stdin.blockingRead(1n << 20n);
    } catch {
      break; // closed: the end of the event body
    }
    parts.push(chunk);
    total += chunk.length;
  }
  const body = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    body.set(p, at);
    at += p.length;
  }
  return body;
}

function writeTo(stream: { blockingWriteAndFlush(b: Uint8Array): void }, text: string): void {
  const bytes = encoder.encode(text);
  for (let at = 0; at < bytes.length; at += 4096) stream.blockingWriteAndFlush(bytes.subarray(at, at + 4096));
}

/** UTF-8 bytes -> string; each byte of a sequence that is not valid where it stands becomes U+FFFD. */
function decodeUtf8(b: Uint8Array, from: number, to: number): string {
  let s = '';
  let i = from;
  while (i < to) {
    const c = b[i]!;
    if (c < 0x80) { s += String.fromCharCode(c); i++; continue; }
    let need = 0, lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 2;
    else if (c >= 0xe0 && c <= 0xef) { need = 3; if (c === 0xe0) lo = 0xa0; if (c === 0xed) hi = 0x9f; }
    else if (c >= 0xf0 && c <= 0xf4) { need = 4; if (c === 0xf0) lo = 0x90; if (c === 0xf4) hi = 0x8f; }
    else { s += '\ufffd'; i++; continue; }
    let cp = c & (need === 2 ? 0x1f : need === 3 ? 0x0f : 0x07);
    let k = 1;
    for (; k < need && i + k < to; k++) {
      const x = b[i + k]!;
      if (x < (k === 1 ? lo : 0x80) || x > (k === 1 ? hi : 0xbf)) break;
      cp = (cp << 6) | (x & 0x3f);
    }
    if (k === need) { s += String.fromCodePoint(cp); i += need; }
    else { s += '\ufffd'.repeat(k); i += k; } // the unfinished sequence, byte by byte; the next byte starts afresh
  }
  return s;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function b64(c: number): number {
  if (c === 0x2b || c === 0x2d) return 62; // + and the URL-safe -
  if (c === 0x2f || c === 0x5f) return 63; // / and the URL-safe _
  const i = c < 0x80 ? B64.indexOf(String.fromCharCode(c)) : -1;
  return i;
}

/** base64 -> bytes: whitespace ignored, stops at the first '='; bad is set at the first invalid character. */
function decodeBase64(text: string): { bytes: Uint8Array; bad: boolean } {
  const out = new Uint8Array(Math.ceil((text.length * 3) / 4));
  let n = 0, acc = 0, bits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (c === 0x3d) break;
    const v = b64(c);
    if (v < 0) return { bytes: out.subarray(0, n), bad: true };
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return { bytes: out.subarray(0, n), bad: false };
}

const lowerAscii = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

function isText(filename: string, contentType: string): boolean {
  const f = lowerAscii(filename);
  return f.endsWith('.txt') || f.endsWith('.csv') || f.endsWith('.log') || lowerAscii(contentType).startsWith('text/');
}

/** Rows of one attachment's bytes; returns how many lines were written. */
function rows(file: string, b: Uint8Array, out: string[]): number {
  let i = b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
  let line = 1;
  let start = i;
  const emit = (end: number) => out.push(JSON.stringify({ file, line: line++, text: decodeUtf8(b, start, end) }));
  for (; i < b.length; i++) {
    const c = b[i]!;
    if (c !== 0x0a && c !== 0x0d) continue;
    emit(i);
    if (c === 0x0d && b[i + 1] === 0x0a) i++;
    start = i + 1;
  }
  if (start < b.length) emit(b.length);
  return line - 1;
}

interface Attachment { filename?: string | null; contentType?: string | null; content?: unknown }

export const run = {
  run(): void {
    const stderr = getStderr();
    let mail: { attachments?: Attachment[] | null };
    try {
      mail = JSON.parse(new TextDecoder().decode(readStdin())) as typeof mail;
      if (mail === null || typeof mail !== 'object' || Array.isArray(mail)) throw new Error('expected a JSON object (the mail event)');
    } catch (err) {
      writeTo(stderr, `mail-lines: invalid mail JSON: ${(err as Error).message}\n`);
      throw err; // wasi:cli/run returns an error: the event is retried, then dead-lettered
    }
    const out: string[] = [];
    for (const a of mail.attachments ?? []) {
      // The name goes out well-formed, as the AssemblyScript handler writes it (lone surrogates -> U+FFFD).
      const file = new TextDecoder().decode(encoder.encode(a.filename ?? ''));
      const type = a.contentType ?? '';
      const note = (why: string) => writeTo(stderr, `mail-lines: skipped attachment ${file} (${type || 'no content type'}): ${why}\n`);
      if (!isText(file, type)) { note('not a text file'); continue; }
      if (typeof a.content !== 'string') { note('no content'); continue; }
      const { bytes, bad } = decodeBase64(a.content);
      const written = rows(file, bytes, out);
      if (bad) note(written === 0 ? 'content is not valid base64' : `content is not valid base64 after line ${written}; the lines before it were written`);
    }
    if (out.length > 0) writeTo(getStdout(), `${out.join('\n')}\n`);
  },
};
