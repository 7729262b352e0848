import { isIPv4 } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeadLetter } from '../sources/dead-letters.js';
import { parseHostPort, type HostPort } from '../core/address.js';

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/** Reads a request body up to `max` bytes; a larger one is refused with 413 before it is buffered. */
export async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) throw new HttpError(413, `request body of ${declared} bytes exceeds the limit of ${max} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw new HttpError(413, `request body exceeds the limit of ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Integer query parameter within [min, max], or the default; anything else is a 400 naming it. */
export function intParam(url: URL, name: string, def: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, `query parameter ${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return n;
}

/** Only literal loopback addresses: a hostname such as "127.example.com" is not. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIPv4(host) && host.startsWith('127.'));
}

/**
 * "127.0.0.1:8080", ":8080", "8080" or "[::1]:8080" -> host and port (127.0.0.1 when none is given).
 * `what` names the setting in the message, e.g. "--listen".
 */
export function parseListen(listen: string, what = 'listen address'): HostPort {
  const a = parseHostPort(listen, { hostOptional: true });
  if (!a) throw new Error(`invalid ${what} ${JSON.stringify(listen)}: use host:port, e.g. 127.0.0.1:8080`);
  return a;
}

/** A dead letter as JSON (API and `dlq list --json`): the body base64, since events carry bytes. */
export function publicDeadLetter(d: DeadLetter) {
  return { ...d, event: { ...d.event, body: Buffer.from(d.event.body).toString('base64'), bodyEncoding: 'base64' } };
}

/** decodeURIComponent for a path segment; a malformed %-escape is the client's error (400), not ours. */
export function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new HttpError(400, `malformed %-encoding in the URL path: ${JSON.stringify(s.slice(0, 80))}`);
  }
}

/** The host name of a Host header or an Origin's host ("[::1]:8080" -> "::1"), lower-cased. */
function hostName(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') < 0 ? undefined : h.indexOf(']'));
  const i = h.lastIndexOf(':');
  return i < 0 ? h : h.slice(0, i);
}

/**
 * Why a request to a loopback-bound server is refused, or null. A web page the user visits can
 * make the browser send requests to 127.0.0.1 (CSRF) or, after re-pointing its own name at
 * 127.0.0.1, read the answers (DNS rebinding): the first carries a foreign Origin, the second a
 * foreign Host. Requests without an Origin (curl, the CLI, same-origin GETs) pass.
 */
export function foreignRequest(req: IncomingMessage, loopback: boolean): string | null {
  const host = req.headers.host;
  if (loopback && host !== undefined && !isLoopback(hostName(host))) {
    return `Host ${JSON.stringify(host)} is not a loopback address: this server answers only requests addressed to localhost, 127.0.0.1 or [::1] (DNS rebinding)`;
  }
  const origin = req.headers.origin;
  if (origin === undefined) return null;
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return `Origin ${JSON.stringify(origin)} is not a URL`;
  }
  if (host === undefined || o.host.toLowerCase() !== host.trim().toLowerCase()) {
    return `Origin ${origin} is not this server (${host ?? 'no Host'}): cross-site requests are refused (CSRF)`;
  }
  return null;
}

/** Compares a presented secret with the expected one in constant time. */
export function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The value of cookie `name`, if the request carries it. */
export function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) {
      const v = part.slice(i + 1).trim();
      try {
        return decodeURIComponent(v);
      } catch {
        return v;
      }
    }
  }
  return undefined;
}
