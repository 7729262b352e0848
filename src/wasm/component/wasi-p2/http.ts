/**
 * wasi:http 0.2 types for components that answer HTTP (wasi:http/incoming-handler, the wasi:http/proxy
 * world Spin and `wasmtime serve` run): the request is in memory, the response body is collected under
 * the output limit. Outgoing requests can be built but wasi:http/outgoing-handler is not provided, so
 * sending one answers HTTP-request-denied (deny.ts).
 */
import { OutputLimitExceeded } from '../../wasi/index.js';
import { bytesInput, readyPollable, type HostFuncs, type OutputStream } from './io.js';

export interface Fields { entries: [string, Uint8Array][]; immutable: boolean }
export interface HttpRequestIn { method: string; pathWithQuery: string; headers: [string, string][]; body: Uint8Array; authority?: string; scheme?: 'http' | 'https' }
export interface HttpResponseOut { status: number; headers: [string, Uint8Array][]; body: Uint8Array }

interface OutgoingBody { chunks: Uint8Array[]; len: number; finished: boolean }
interface OutgoingResponse { status: number; headers: Fields; body: OutgoingBody | null }

const methods = ['get', 'head', 'post', 'put', 'delete', 'connect', 'options', 'trace', 'patch'];
const enc = new TextEncoder();
const ok = (val?: unknown) => ({ tag: 'ok', val });
const err = (val?: unknown) => ({ tag: 'err', val });

function methodOf(m: string): { tag: string; val?: string } {
  const l = m.toLowerCase();
  return methods.includes(l) ? { tag: l } : { tag: 'other', val: m };
}

function fields(entries: [string, Uint8Array][], immutable = false): Fields {
  return { entries, immutable };
}

const validName = (n: string) => /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(n);

export interface HttpState {
  /** What the guest passed to response-outparam.set, once. */
  response: { tag: 'ok'; val: OutgoingResponse } | { tag: 'err'; val: unknown } | null;
  /** The incoming-request resource handed to the guest's handle (set by httpFuncs). */
  request?: unknown;
}

export function httpFuncs(req: HttpRequestIn | null, maxBodyBytes: number, state: HttpState): HostFuncs {
  const T = 'wasi:http/types#';
  const mutate = (f: Fields, then: () => unknown) => (f.immutable ? err({ tag: 'immutable' }) : then());
  const outBody = (): OutgoingBody => ({ chunks: [], len: 0, finished: false });
  const writer = (b: OutgoingBody): OutputStream => ({
    write(data) {
      if (b.len + data.length > maxBodyBytes) throw new OutputLimitExceeded('stdout', maxBodyBytes);
      if (data.length === 0) return;
      b.chunks.push(data);
      b.len += data.length;
    },
  });
  const incoming = req && {
    method: methodOf(req.method),
    path: req.pathWithQuery,
    scheme: req.scheme === 'https' ? { tag: 'HTTPS' } : { tag: 'HTTP' },
    authority: req.authority ?? null,
    headers: fields(req.headers.map(([k, v]) => [k.toLowerCase(), enc.encode(v)]), true),
    body: req.body,
    consumed: false,
  };
  state.request = incoming;
  return {
    [`${T}[constructor]fields`]: () => fields([]),
    [`${T}[static]fields.from-list`]: (list: [string, Uint8Array][]) =>
      list.every(([k]) => validName(k)) ? ok(fields(list.map(([k, v]) => [k.toLowerCase(), v]))) : err({ tag: 'invalid-syntax' }),
    [`${T}[method]fields.get`]: (f: Fields, n: string) => f.entries.filter(([k]) => k === n.toLowerCase()).map(([, v]) => v),
    [`${T}[method]fields.has`]: (f: Fields, n: string) => f.entries.some(([k]) => k === n.toLowerCase()),
    [`${T}[method]fields.set`]: (f: Fields, n: string, vs: Uint8Array[]) => mutate(f, () => {
      if (!validName(n)) return err({ tag: 'invalid-syntax' });
      f.entries = [...f.entries.filter(([k]) => k !== n.toLowerCase()), ...vs.map((v): [string, Uint8Array] => [n.toLowerCase(), v])];
      return ok();
    }),
    [`${T}[method]fields.delete`]: (f: Fields, n: string) => mutate(f, () => {
      f.entries = f.entries.filter(([k]) => k !== n.toLowerCase());
      return ok();
    }),
    [`${T}[method]fields.append`]: (f: Fields, n: string, v: Uint8Array) => mutate(f, () => {
      if (!validName(n)) return err({ tag: 'invalid-syntax' });
      f.entries.push([n.toLowerCase(), v]);
      return ok();
    }),
    [`${T}[method]fields.entries`]: (f: Fields) => f.entries.map(([k, v]) => [k, v]),
    [`${T}[method]fields.clone`]: (f: Fields) => fields([...f.entries]),

    [`${T}[method]incoming-request.method`]: (r: NonNullable<typeof incoming>) => r.method,
    [`${T}[method]incoming-request.path-with-query`]: (r: NonNullable<typeof incoming>) => r.path,
    [`${T}[method]incoming-request.scheme`]: (r: NonNullable<typeof incoming>) => r.scheme,
    [`${T}[method]incoming-request.authority`]: (r: NonNullable<typeof incoming>) => r.authority,
    [`${T}[method]incoming-request.headers`]: (r: NonNullable<typeof incoming>) => r.headers,
    [`${T}[method]incoming-request.consume`]: (r: NonNullable<typeof incoming>) => {
      if (r.consumed) return err();
      r.consumed = true;
      return ok({ bytes: r.body });
    },
    [`${T}[method]incoming-body.stream`]: (b: { bytes: Uint8Array; streamed?: boolean }) => {
      if (b.streamed) return err();
      b.streamed = true;
      return ok(bytesInput(b.bytes));
    },
    [`${T}[static]incoming-body.finish`]: () => ({ done: true }),
    [`${T}[method]future-trailers.subscribe`]: () => readyPollable,
    [`${T}[method]future-trailers.get`]: () => ({ tag: 'ok', val: { tag: 'ok', val: null } }),

    [`${T}[constructor]outgoing-response`]: (h: Fields): OutgoingResponse => ({ status: 200, headers: { ...h, immutable: true }, body: null }),
    [`${T}[method]outgoing-response.status-code`]: (r: OutgoingResponse) => r.status,
    [`${T}[method]outgoing-response.set-status-code`]: (r: OutgoingResponse, s: number) => (s >= 100 && s <= 999 ? ((r.status = s), ok()) : err()),
    [`${T}[method]outgoing-response.headers`]: (r: OutgoingResponse) => r.headers,
    [`${T}[method]outgoing-response.body`]: (r: OutgoingResponse) => (r.body ? err() : ok((r.body = outBody()))),
    [`${T}[method]outgoing-body.write`]: (b: OutgoingBody) => ok(writer(b)),
    [`${T}[static]outgoing-body.finish`]: (b: OutgoingBody) => {
      b.finished = true;
      return ok();
    },
    [`${T}[static]response-outparam.set`]: (_o: unknown, r: HttpState['response']) => {
      if (state.response) throw new WebAssembly.RuntimeError('response-outparam.set called twice');
      state.response = r;
    },

    // Requests can be built (a guest may try to send one); sending is denied by the missing outgoing-handler.
    [`${T}[constructor]outgoing-request`]: (h: Fields) => ({ method: { tag: 'get' }, path: null, scheme: null, authority: null, headers: { ...h, immutable: true }, body: null }),
    [`${T}[method]outgoing-request.body`]: (r: { body: OutgoingBody | null }) => (r.body ? err() : ok((r.body = outBody()))),
    [`${T}[method]outgoing-request.method`]: (r: { method: unknown }) => r.method,
    [`${T}[method]outgoing-request.set-method`]: (r: { method: unknown }, m: unknown) => ((r.method = m), ok()),
    [`${T}[method]outgoing-request.path-with-query`]: (r: { path: unknown }) => r.path,
    [`${T}[method]outgoing-request.set-path-with-query`]: (r: { path: unknown }, p: unknown) => ((r.path = p), ok()),
    [`${T}[method]outgoing-request.scheme`]: (r: { scheme: unknown }) => r.scheme,
    [`${T}[method]outgoing-request.set-scheme`]: (r: { scheme: unknown }, s: unknown) => ((r.scheme = s), ok()),
    [`${T}[method]outgoing-request.authority`]: (r: { authority: unknown }) => r.authority,
    [`${T}[method]outgoing-request.set-authority`]: (r: { authority: unknown }, a: unknown) => ((r.authority = a), ok()),
    [`${T}[method]outgoing-request.headers`]: (r: { headers: Fields }) => r.headers,
    [`${T}[constructor]request-options`]: () => ({}),
    [`${T}http-error-code`]: () => null,
  };
}

/** The response the guest set, with its body; null when it set none. */
export function responseOf(state: HttpState): HttpResponseOut | { error: unknown } | null {
  const r = state.response;
  if (!r) return null;
  if (r.tag === 'err') return { error: r.val };
  const b = r.val.body;
  const body = new Uint8Array(b?.len ?? 0);
  let at = 0;
  for (const c of b?.chunks ?? []) { body.set(c, at); at += c.length; }
  return { status: r.val.status, headers: r.val.headers.entries, body };
}
