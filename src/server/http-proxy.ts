/**
 * http-wasm guests served over HTTP, in two modes:
 * - middleware: a chain of guests in front of an upstream service (Dapr's appHttpPipeline); `next` of the
 *   last guest forwards to the upstream over a keep-alive connection pool;
 * - handler: no upstream, the guests answer themselves (the default answer is an empty 200).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  chainGuests, createHttpWasmGuest, headerMapFrom, headerObject, hopByHop, HttpWasmUnavailable, HttpWasmViolation, readRequestModel,
  writeResponseModel, writeViolation,
  type HttpRequestModel, type HttpResponseModel, type HttpWasmGuest, type HttpWasmLogger, type InstanceMode, type NextFn,
} from '../wasm/http-wasm/index.js';
import { defaultLimits, type Limits } from '../wasm/limits.js';
import { createHttpWasmPool, type HttpWasmPool } from '../runtime/http-wasm-pool.js';
import type { ThreadBudget } from '../runtime/budget.js';

export interface UpstreamOptions {
  /** Per upstream request, from sending to response headers (default 30 s). */
  timeoutMs?: number;
  /** Keep-alive sockets to the upstream at most (default 256). */
  maxSockets?: number;
}

export interface Upstream { next: NextFn; close(): void }

/** A NextFn that sends the (rewritten) request to `base` and resolves with its response, body still streaming. */
export function forwardTo(base: string, opts: UpstreamOptions = {}): Upstream {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new Error(`invalid upstream ${JSON.stringify(base)}: use a URL such as http://127.0.0.1:3000`);
  }
  if (url.protocol !== 'http:') throw new Error(`invalid upstream ${base}: only http:// is supported`);
  const basePath = url.pathname.replace(/\/$/, '');
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 256 });
  const timeoutMs = opts.timeoutMs ?? 30_000;

  const next: NextFn = (req: HttpRequestModel) =>
    new Promise<HttpResponseModel>((resolve, reject) => {
      const headers = headerObject(req.headers, hopByHop);
      const withTrailers = req.trailers.size > 0;
      delete headers['content-length'];
      if (withTrailers) headers['trailer'] = [...req.trailers.keys()].join(', ');
      else if (req.body.length > 0 || !['GET', 'HEAD', 'DELETE', 'OPTIONS'].includes(req.method)) headers['content-length'] = String(req.body.length);
      const out = http.request({
        agent, host: url.hostname, port: url.port || 80, method: req.method, path: basePath + req.uri, headers,
      });
      const timer = setTimeout(() => out.destroy(new Error(`upstream ${base} did not answer within ${timeoutMs} ms`)), timeoutMs);
      out.on('response', (res) => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 502, headers: headerMapFrom(res.headersDistinct), trailers: new Map(), body: res });
      });
      out.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      if (withTrailers) {
        out.write(req.body);
        out.addTrailers(headerObject(req.trailers));
        out.end();
      } else {
        out.end(req.body.length > 0 ? req.body : undefined);
      }
    });
  return { next, close: () => agent.destroy() };
}

export interface HttpWasmListenerOptions {
  guests: HttpWasmGuest[];
  /** The last step: an upstream's NextFn; omitted = handler mode. */
  last?: NextFn;
  log: HttpWasmLogger;
  limits?: Partial<Limits>;
  /** Removed from the URI before the guests see it, e.g. "/v1/components/hello" when mounted under a route. */
  stripPrefix?: string;
}

/** A Node request handler running the chain; the lead's server can mount it under a route. */
export function createHttpWasmListener(opts: HttpWasmListenerOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const maxBody = opts.limits?.maxStdinBytes ?? defaultLimits.maxStdinBytes;
  const chain = chainGuests(opts.guests, opts.last);
  return async (req, res) => {
    let model: HttpRequestModel | null;
    try {
      model = await readRequestModel(req, maxBody);
    } catch {
      res.destroy(); // the client went away mid-body
      return;
    }
    if (!model) {
      res.writeHead(413, { 'content-type': 'text/plain' }).end(`request body over ${maxBody} bytes\n`);
      return;
    }
    if (opts.stripPrefix && model.uri.startsWith(opts.stripPrefix)) {
      const rest = model.uri.slice(opts.stripPrefix.length);
      model.uri = rest.startsWith('/') ? rest : `/${rest}`;
    }
    let resp: HttpResponseModel;
    try {
      resp = await chain(model);
    } catch (err) {
      if (err instanceof HttpWasmViolation || err instanceof HttpWasmUnavailable) {
        /* already logged: by the guest that broke the ABI, or by the pool whose watchdog fired */
      } else if (opts.guests.length === 0) {
        // plain proxy without guests: the upstream failed
        opts.log.warn({ err: (err as Error).message }, 'http-proxy: upstream failed');
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway\n');
        return;
      } else {
        opts.log.error({ err: (err as Error).message }, 'http-proxy: request failed');
      }
      writeViolation(res, err);
      return;
    }
    await writeResponseModel(res, resp);
  };
}

export interface HttpProxyGuest {
  /** Shown in logs; defaults to guest-N. */
  name?: string;
  module: WebAssembly.Module;
  /** get_config bytes. */
  config?: Uint8Array;
}

export interface HttpProxyOptions {
  /** Run in this order: the first sees the request first and the response last. */
  middleware: HttpProxyGuest[];
  /** http://host:port[/base]; omitted = handler mode (the guests answer). */
  upstream?: string;
  /** Default 127.0.0.1, port 0 (any free port). */
  host?: string;
  port?: number;
  log: HttpWasmLogger;
  limits?: Partial<Limits>;
  instances?: InstanceMode;
  upstreamOptions?: UpstreamOptions;
  /**
   * Worker threads per guest (default 2), where limits.timeout holds (decision 121). 0 runs the guests on
   * this event loop instead: a little faster, but a guest that never returns then freezes the process.
   */
  threads?: number;
  /** Host-wide thread budget the guests' phases take slots from (decision 122). */
  budget?: ThreadBudget;
}

export interface HttpProxy {
  url: string;
  guests: HttpWasmGuest[];
  close(): Promise<void>;
}

/** Starts the proxy (middleware mode) or the handler server (no upstream). */
export async function startHttpProxy(opts: HttpProxyOptions): Promise<HttpProxy> {
  if (opts.middleware.length === 0 && !opts.upstream) throw new Error('http-proxy needs --middleware, --upstream or both');
  const threads = opts.threads ?? 2;
  const guests = opts.middleware.map((g, i) => {
    const common = { name: g.name ?? `guest-${i}`, config: g.config, log: opts.log, limits: opts.limits, instances: opts.instances };
    return threads === 0 ? createHttpWasmGuest(g.module, common) : createHttpWasmPool({ ...common, module: g.module, threads, ...(opts.budget ? { budget: opts.budget } : {}) });
  });
  await Promise.all(guests.map((g) => ('ready' in g ? (g as HttpWasmPool).ready() : undefined)));
  const upstream = opts.upstream ? forwardTo(opts.upstream, opts.upstreamOptions) : null;
  const listener = createHttpWasmListener({ guests, last: upstream?.next, log: opts.log, limits: opts.limits });
  const server = http.createServer((req, res) => {
    listener(req, res).catch((err: unknown) => {
      opts.log.error({ err: (err as Error).message }, 'http-proxy: unexpected failure');
      writeViolation(res, err);
    });
  });
  server.keepAliveTimeout = 65_000;
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    guests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        upstream?.close();
        for (const g of guests) g.close();
      }).then(() => Promise.all(guests.map((g) => ('closeAsync' in g ? (g as HttpWasmPool).closeAsync() : undefined))).then(() => undefined)),
  };
}
