/**
 * wasi:http/outgoing-handler behind `grants.outboundHosts`, Spin's `allowed_outbound_hosts` shape:
 * "https://api.example.com", "http://127.0.0.1:8080", "https://*.example.com". Scheme and host must
 * match, the port is the one written or the scheme's default, and "*." matches any subdomain (not the
 * bare domain). A request to anything else answers error-code HTTP-request-denied, as wasmtime and Spin
 * do; an allowed one really goes out (decision 221).
 *
 * Guests run to completion without an event loop, so the request is made synchronously: a helper thread
 * (one per guest thread, started at the first allowed request) does it with node:http/https, and this
 * thread waits on a SharedArrayBuffer cell in 50 ms slices (so the watchdog's terminate is honoured),
 * then takes the answer with receiveMessageOnPort. The request is sent when the guest first waits for
 * the response (future-incoming-response subscribe/get), so a body written after `handle` is included.
 */
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { HostFuncs, Pollable } from './io.js';

export interface OutboundHost { scheme: 'http' | 'https'; host: string; wildcard: boolean; port: number }

const defaultPort = { http: 80, https: 443 } as const;
const shape = 'scheme://host[:port], e.g. "https://api.example.com", "http://127.0.0.1:8080" or "https://*.example.com"';

/** Parses one allow-list entry; throws a message naming the accepted shape. */
export function parseOutboundHost(entry: string): OutboundHost {
  const m = /^(https?):\/\/(\*\.)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(\d{1,5}))?\/?$/.exec(entry.trim());
  if (!m) throw new Error(`${JSON.stringify(entry)} is not an outbound host: use ${shape}`);
  const scheme = m[1] as 'http' | 'https';
  const port = m[4] !== undefined ? Number(m[4]) : defaultPort[scheme];
  if (port < 1 || port > 65535) throw new Error(`${JSON.stringify(entry)}: port ${port} is out of range`);
  return { scheme, host: m[3]!.toLowerCase(), wildcard: m[2] !== undefined, port };
}

/** The host and port of an authority ("example.com", "127.0.0.1:8080", "[::1]:80"), or null when malformed. */
export function splitAuthority(authority: string, scheme: 'http' | 'https'): { host: string; port: number } | null {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:@/\s[\]]+)(?::(\d{1,5}))?$/.exec(authority);
  if (!m) return null;
  const port = m[2] !== undefined ? Number(m[2]) : defaultPort[scheme];
  if (port < 1 || port > 65535) return null;
  return { host: m[1]!.toLowerCase().replace(/\.$/, ''), port };
}

export function outboundAllowed(allow: readonly OutboundHost[], scheme: 'http' | 'https', host: string, port: number): boolean {
  return allow.some((a) => a.scheme === scheme && a.port === port && (a.wildcard ? host.endsWith(`.${a.host}`) : host === a.host));
}

interface Fields { entries: [string, Uint8Array][]; immutable: boolean }
interface OutgoingRequest {
  method: { tag: string; val?: string };
  path: string | null;
  scheme: { tag: string; val?: string } | null;
  authority: string | null;
  headers: Fields;
  body: { chunks: Uint8Array[]; len: number; finished: boolean } | null;
}

/** What the helper thread is asked and answers. */
interface WireRequest { scheme: 'http' | 'https'; host: string; port: number; method: string; path: string; headers: [string, string][]; body: Uint8Array; timeoutMs: number; maxBody: number }
type WireAnswer = { status: number; headers: string[]; body: Uint8Array } | { error: { tag: string; val?: unknown } };

// Plain JS, run with eval (no loader needed on the helper thread).
const helperSource = `
const { parentPort } = require('node:worker_threads');
const libs = { http: require('node:http'), https: require('node:https') };
const codeOf = (e) => {
  switch (e && e.code) {
    case 'ECONNREFUSED': return { tag: 'connection-refused' };
    case 'ECONNRESET': case 'EPIPE': return { tag: 'connection-terminated' };
    case 'ETIMEDOUT': return { tag: 'connection-timeout' };
    case 'ENOTFOUND': case 'EAI_AGAIN': return { tag: 'DNS-error', val: { rcode: null, 'info-code': null } };
    case 'EHOSTUNREACH': case 'ENETUNREACH': return { tag: 'destination-unavailable' };
    case 'BODY': return { tag: 'HTTP-response-body-size', val: null };
    default:
      if (e && typeof e.code === 'string' && e.code.startsWith('ERR_TLS') || /certificate|SSL|TLS/i.test(String(e && e.message))) return { tag: 'TLS-certificate-error' };
      return { tag: 'internal-error', val: String((e && e.message) || e) };
  }
};
parentPort.on('message', ({ cell, port, req }) => {
  let settled = false;
  const done = (m) => {
    if (settled) return;
    settled = true;
    port.postMessage(m);
    port.close();
    Atomics.store(cell, 0, 1);
    Atomics.notify(cell, 0);
  };
  const headers = {};
  for (const [k, v] of req.headers) (headers[k] ??= []).push(v);
  let out;
  try {
    out = libs[req.scheme].request({ host: req.host.replace(/^\\[|\\]$/g, ''), port: req.port, method: req.method, path: req.path, headers, timeout: req.timeoutMs, agent: false }, (res) => {
      const chunks = [];
      let n = 0;
      res.on('data', (c) => {
        n += c.length;
        if (n > req.maxBody) { res.destroy(); done({ error: codeOf({ code: 'BODY' }) }); return; }
        chunks.push(c);
      });
      res.on('end', () => done({ status: res.statusCode, headers: res.rawHeaders, body: new Uint8Array(Buffer.concat(chunks)) }));
      res.on('error', (e) => done({ error: codeOf(e) }));
    });
  } catch (e) {
    done({ error: { tag: 'HTTP-request-URI-invalid' } });
    return;
  }
  out.on('timeout', () => out.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
  out.on('error', (e) => done({ error: codeOf(e) }));
  out.end(req.body.length > 0 ? Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength) : undefined);
});
`;

let helper: Worker | null = null;

function send(req: WireRequest): WireAnswer {
  if (!helper) {
    // No loader flags (tsx under tests): the helper is plain JS and should start at once.
    helper = new Worker(helperSource, { eval: true, execArgv: [] });
    helper.unref();
    helper.on('error', () => (helper = null));
    helper.on('exit', () => (helper = null));
  }
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  helper.postMessage({ cell, port: port2, req }, [port2]);
  // The helper has its own timeout; this bound only keeps a lost helper from holding the guest forever.
  const deadline = Date.now() + req.timeoutMs + 5_000;
  while (Atomics.load(cell, 0) === 0 && Date.now() < deadline) Atomics.wait(cell, 0, 0, 50);
  const got = receiveMessageOnPort(port1);
  port1.close();
  return got ? (got.message as WireAnswer) : { error: { tag: 'internal-error', val: 'the outbound HTTP helper thread did not answer' } };
}

// Connection-level fields are the host's, and Host comes from the checked authority (wasmtime drops the same).
const forbiddenHeaders = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'te', 'trailer', 'content-length']);
const ok = (val?: unknown) => ({ tag: 'ok', val });
const err = (val?: unknown) => ({ tag: 'err', val });

interface Future { req: OutgoingRequest; target: Omit<WireRequest, 'headers' | 'body' | 'timeoutMs' | 'maxBody'>; answer: WireAnswer | null; taken: boolean }

/** Host functions for wasi:http/outgoing-handler and the incoming-response side of wasi:http/types. */
export function outgoingFuncs(allowList: readonly string[], o: { timeoutMs: number; maxBodyBytes: number }): HostFuncs {
  const allow = allowList.map(parseOutboundHost);
  const T = 'wasi:http/types#';
  const perform = (f: Future): WireAnswer => {
    if (f.answer) return f.answer;
    const b = f.req.body;
    const body = new Uint8Array(b?.len ?? 0);
    let at = 0;
    for (const c of b?.chunks ?? []) { body.set(c, at); at += c.length; }
    const headers = f.req.headers.entries
      .filter(([k]) => !forbiddenHeaders.has(k))
      .map(([k, v]): [string, string] => [k, Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1')]);
    f.answer = send({ ...f.target, headers, body, timeoutMs: o.timeoutMs, maxBody: o.maxBodyBytes });
    return f.answer;
  };
  return {
    'wasi:http/outgoing-handler#handle': (req: OutgoingRequest) => {
      const s = req.scheme?.tag ?? 'HTTPS';
      if (s !== 'HTTP' && s !== 'HTTPS') return err({ tag: 'HTTP-request-denied' });
      const scheme = s === 'HTTP' ? 'http' : 'https';
      if (!req.authority) return err({ tag: 'HTTP-request-URI-invalid' });
      const at = splitAuthority(req.authority, scheme);
      if (!at) return err({ tag: 'HTTP-request-URI-invalid' });
      if (!outboundAllowed(allow, scheme, at.host, at.port)) return err({ tag: 'HTTP-request-denied' });
      const method = req.method.tag === 'other' ? req.method.val! : req.method.tag.toUpperCase();
      const future: Future = { req, target: { scheme, host: at.host, port: at.port, method, path: req.path ?? '/' }, answer: null, taken: false };
      return ok(future);
    },
    // Ready means answered: the request goes out (synchronously) the first time the guest waits for it.
    [`${T}[method]future-incoming-response.subscribe`]: (f: Future): Pollable => ({ ready: () => (perform(f), true) }),
    [`${T}[method]future-incoming-response.get`]: (f: Future) => {
      if (f.taken) return err();
      f.taken = true;
      const a = perform(f);
      if ('error' in a) return ok(err(a.error));
      const entries: [string, Uint8Array][] = [];
      for (let i = 0; i + 1 < a.headers.length; i += 2) entries.push([a.headers[i]!.toLowerCase(), new Uint8Array(Buffer.from(a.headers[i + 1]!, 'latin1'))]);
      return ok(ok({ status: a.status, headers: { entries, immutable: true }, body: a.body, consumed: false }));
    },
    [`${T}[method]incoming-response.status`]: (r: { status: number }) => r.status,
    [`${T}[method]incoming-response.headers`]: (r: { headers: Fields }) => r.headers,
    [`${T}[method]incoming-response.consume`]: (r: { body: Uint8Array; consumed: boolean }) => {
      if (r.consumed) return err();
      r.consumed = true;
      return ok({ bytes: r.body });
    },
    [`${T}[method]request-options.connect-timeout`]: () => null,
    [`${T}[method]request-options.set-connect-timeout`]: () => ok(),
    [`${T}[method]request-options.first-byte-timeout`]: () => null,
    [`${T}[method]request-options.set-first-byte-timeout`]: () => ok(),
    [`${T}[method]request-options.between-bytes-timeout`]: () => null,
    [`${T}[method]request-options.set-between-bytes-timeout`]: () => ok(),
  };
}
