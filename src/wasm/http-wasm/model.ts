/**
 * The HTTP messages an http-wasm guest sees, decoupled from Node's IncomingMessage/ServerResponse so that a
 * chain of guests can rewrite one request in turn and the last step can be an upstream, a handler or nothing.
 */
import type { Readable } from 'node:stream';

/** Header fields keyed by lower-cased name; values keep their order and case. */
export type HeaderMap = Map<string, string[]>;

export interface HttpRequestModel {
  method: string;
  /** Path plus query, percent-encoded as received ("/" when empty). */
  uri: string;
  /** e.g. "HTTP/1.1". */
  protocol: string;
  /** Client "ip:port" ("[v6]:port" for IPv6). */
  sourceAddr: string;
  headers: HeaderMap;
  trailers: HeaderMap;
  /** Read whole before the guest runs: host functions are synchronous, Node's body stream is not. */
  body: Uint8Array;
}

export interface HttpResponseModel {
  status: number;
  headers: HeaderMap;
  trailers: HeaderMap;
  /** A Buffer once buffered (guest-built or buffer_response), else the upstream's stream. */
  body: Uint8Array | Readable;
}

/** ABI constants of content/http-handler-abi.md. */
export const Feature = { bufferRequest: 1, bufferResponse: 2, trailers: 4 } as const;
export const supportedFeatures = Feature.bufferRequest | Feature.bufferResponse | Feature.trailers;
export const HeaderKind = { request: 0, response: 1, requestTrailers: 2, responseTrailers: 3 } as const;
export const BodyKind = { request: 0, response: 1 } as const;
export const LogLevel = { debug: -1, info: 0, warn: 1, error: 2, none: 3 } as const;

export function emptyResponse(status = 200): HttpResponseModel {
  return { status, headers: new Map(), trailers: new Map(), body: new Uint8Array(0) };
}

export function headerMapFrom(distinct: Record<string, string[] | undefined>): HeaderMap {
  const m: HeaderMap = new Map();
  for (const [k, v] of Object.entries(distinct)) if (v && v.length > 0) m.set(k.toLowerCase(), [...v]);
  return m;
}

/** Flattens for Node's writeHead / http.request (arrays become repeated fields). */
export function headerObject(m: HeaderMap, skip?: ReadonlySet<string>): Record<string, string | string[]> {
  const o: Record<string, string | string[]> = {};
  for (const [k, v] of m) if (!skip?.has(k)) o[k] = v.length === 1 ? v[0]! : v;
  return o;
}

/** Connection-scoped fields a proxy must not forward (RFC 9110 §7.6.1). */
export const hopByHop: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer',
  'transfer-encoding', 'upgrade',
]);

const tokenRe = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field-name and method syntax (RFC 9110 token). */
export function isToken(s: string): boolean {
  return tokenRe.test(s);
}
/** Field values must not smuggle a new line or a NUL into the message. */
export function isFieldValue(s: string): boolean {
  return !/[\r\n\0]/.test(s);
}
/** Origin-form request target: starts with "/", no whitespace or control characters. */
export function isOriginForm(s: string): boolean {
  return s.startsWith('/') && !/[\s\x00-\x1f\x7f]/.test(s);
}
