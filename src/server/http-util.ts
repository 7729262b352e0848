import { isIPv4 } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeadLetter } from '../sources/dead-letters.js';

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
export function parseListen(listen: string, what = 'listen address'): { host: string; port: number } {
  // The host and its colon go together: "127.0.0.18080" is a typo, not host 127.0.0.1808 port 0.
  const m = /^(?:(?:\[([^\]]+)\]|([^:]*)):)?(\d+)$/.exec(listen.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`invalid ${what} ${JSON.stringify(listen)}: use host:port, e.g. 127.0.0.1:8080`);
  }
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/** A dead letter as JSON (API and `dlq list --json`): the body base64, since events carry bytes. */
export function publicDeadLetter(d: DeadLetter) {
  return { ...d, event: { ...d.event, body: Buffer.from(d.event.body).toString('base64'), bodyEncoding: 'base64' } };
}
