import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { acceptHttpEvent, HttpIngressError } from '../sources/http.js';
import { triggerPlugin, triggers } from '../sources/index.js';
import type { RunningApp } from '../app/app.js';
import { createHttpWasmPool, type HttpWasmPool } from '../runtime/http-wasm-pool.js';
import { createHttpWasmListener } from './http-proxy.js';
import { cookie, decodeSegment, foreignRequest, HttpError, intParam, isLoopback, parseListen, publicDeadLetter, readBody, sameSecret, sendJson } from './http-util.js';

export interface ServerOptions {
  /** host:port; loopback unless told otherwise. */
  listen: string;
  log: Logger;
  /**
   * Bearer token; bound beyond loopback every route but /healthz and /metrics needs it, and the
   * server refuses to start without one unless `insecureNoAuth` (decision 135).
   */
  token?: string;
  /** Beyond loopback without a token: serve everything to anyone (logged as a warning). */
  insecureNoAuth?: boolean;
  /** How long close() lets requests in flight finish before it drops their connections. */
  closeGraceMs?: number;
}

export interface RunningServer {
  url: string;
  /** Requests being answered now (server-sent event streams included). */
  requestsInFlight(): number;
  close(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
// Same depth from src/server and dist/server.
const dashboardDir = path.resolve(here, '../../dashboard');
const require = createRequire(import.meta.url);
const uplotDir = path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));

const staticFiles: Record<string, { file: string; type: string }> = {
  '/': { file: path.join(dashboardDir, 'index.html'), type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: path.join(dashboardDir, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard.css': { file: path.join(dashboardDir, 'dashboard.css'), type: 'text/css; charset=utf-8' },
  '/vendor/uPlot.iife.min.js': { file: path.join(uplotDir, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/vendor/uPlot.min.css': { file: path.join(uplotDir, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

const maxEventBody = 10 * 1024 * 1024;

/** The HTTP API, /metrics, the server-sent event stream and the dashboard. */
export async function startServer(app: RunningApp, opts: ServerOptions): Promise<RunningServer> {
  const { host, port } = parseListen(opts.listen);
  const loopback = isLoopback(host);
  const log = opts.log.child({ part: 'server' });
  const streams = new Set<ServerResponse>();

  const component = (name: string) => {
    const c = app.components.get(name);
    if (!c) throw new HttpError(404, `no component named ${JSON.stringify(name)} (components: ${[...app.components.keys()].join(', ')})`);
    return c;
  };

  if (!loopback && !opts.token && !opts.insecureNoAuth) {
    throw new Error(
      `refusing to listen on ${opts.listen} without a token: beyond loopback every route but /healthz and /metrics needs one. ` +
        'Set the environment variable named by server.tokenEnv (FEATHERWEIGHT_TOKEN by default), listen on 127.0.0.1, or pass --insecure-no-auth to serve the API and its data to anyone who can reach it',
    );
  }
  if (!loopback && !opts.token) log.warn({ listen: opts.listen }, 'listening beyond loopback WITHOUT authentication (--insecure-no-auth): anyone who can reach this address can read rows and dead letters and post events');
  const tokenCookie = 'fw_token';

  /** Beyond loopback with a token: the bearer header, or the cookie the dashboard got from /?token=. */
  const authorize = (req: IncomingMessage) => {
    if (loopback || !opts.token) return;
    const auth = req.headers.authorization;
    const bearer = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    if (sameSecret(bearer, opts.token) || sameSecret(cookie(req, tokenCookie), opts.token)) return;
    throw new HttpError(401, 'missing or wrong bearer token (Authorization: Bearer <token>; the dashboard: open /?token=<token> once)');
  };

  // http-wasm components, and components exporting wasi:http/incoming-handler, answer under
  // /v1/components/<name>/http/... (the guest sees the rest).
  const handlers = new Map<string, ReturnType<typeof createHttpWasmListener>>();
  // On worker threads of the app's budget, so limits.timeout holds and a hung guest cannot stall the API (decision 121).
  const guests: HttpWasmPool[] = [];
  for (const [name, h] of app.httpHandlers) {
    const guest = createHttpWasmPool({
      ...(h.component ? { component: h.component, grants: h.spec.grants } : { module: h.module }),
      name,
      budget: app.budget,
      log: log.child({ component: name }),
      limits: h.spec.limits,
      ...(h.spec.config !== undefined ? { config: new TextEncoder().encode(h.spec.config) } : {}),
    });
    guests.push(guest);
    handlers.set(name, createHttpWasmListener({ guests: [guest], log: log.child({ component: name }), limits: h.spec.limits, stripPrefix: `/v1/components/${name}/http` }));
  }
  await Promise.all(guests.map((g) => g.ready()));

  const routes: Array<[string, RegExp, (req: IncomingMessage, res: ServerResponse, m: RegExpExecArray, url: URL) => Promise<void> | void]> = [
    ['GET', /^\/healthz$/, (_q, res) => sendJson(res, 200, { status: 'ok', app: app.manifest.name })],
    ['GET', /^\/metrics$/, async (_q, res) => {
      const text = await app.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': app.metrics.registry.contentType });
      res.end(text);
    }],
    ['GET', /^\/v1\/components$/, (_q, res) => sendJson(res, 200, { components: [...app.components.values()].map((c) => c.state()) })],
    ['GET', /^\/v1\/handlers$/, (_q, res) => sendJson(res, 200, { handlers: [...app.httpHandlers.values()].map((h) => ({ name: h.spec.name, abi: h.spec.abi, path: `/v1/components/${h.spec.name}/http/` })) })],
    ['GET', /^\/v1\/components\/([^/]+)$/, (_q, res, m) => sendJson(res, 200, component(decodeSegment(m[1]!)).state())],
    ['GET', /^\/v1\/components\/([^/]+)\/rows$/, async (_q, res, m, url) => {
      const c = component(decodeSegment(m[1]!));
      if (!c.sink.rows) throw new HttpError(501, `sink ${c.sink.type} of component ${c.spec.name} cannot be read back`);
      const limit = intParam(url, 'limit', 50, 1, 1000);
      const offset = intParam(url, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
      const filter = url.searchParams.get('filter') ?? undefined;
      const { total, rows } = await c.sink.rows({ limit, offset, ...(filter ? { filter } : {}) });
      sendJson(res, 200, { total, limit, offset, rows });
    }],
    ['POST', /^\/v1\/components\/([^/]+)\/events$/, async (req, res, m) => {
      const c = component(decodeSegment(m[1]!));
      if (!triggerPlugin(c.spec.trigger.type)?.posts) {
        const posting = Object.values(triggers).filter((t) => t.posts).map((t) => t.type);
        throw new HttpError(409, `component ${c.spec.name} is fed by its ${c.spec.trigger.type} trigger; events can be posted only to ${posting.join(' or ')} triggers`);
      }
      // The component's own http maxBody decides, larger or smaller than the default for embedded triggers.
      const body = await readBody(req, (c.source as { maxBody?: number }).maxBody ?? maxEventBody);
      try {
        const { id } = await acceptHttpEvent(c.source as Parameters<typeof acceptHttpEvent>[0], { body, headers: req.headers, ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}) });
        sendJson(res, 202, { id });
      } catch (err) {
        if (err instanceof HttpIngressError) throw new HttpError(err.status, err.message);
        throw err;
      }
    }],
    ['GET', /^\/v1\/dlq$/, (_q, res, _m, url) => {
      const comp = url.searchParams.get('component') ?? undefined;
      const limit = intParam(url, 'limit', 100, 1, 1000);
      sendJson(res, 200, { deadLetters: app.deadLetters.list({ ...(comp ? { component: comp } : {}), limit }).map(publicDeadLetter) });
    }],
    ['POST', /^\/v1\/dlq\/([^/]+)\/retry$/, async (_req, res, m) => {
      const id = decodeSegment(m[1]!);
      if (!app.deadLetters.get(id)) throw new HttpError(404, `no dead letter with id ${id}`);
      await app.retryDeadLetter(id);
      sendJson(res, 200, { retried: id });
    }],
    ['DELETE', /^\/v1\/dlq\/([^/]+)$/, (_req, res, m) => {
      const id = decodeSegment(m[1]!);
      if (!app.deadLetters.get(id)) throw new HttpError(404, `no dead letter with id ${id}`);
      app.deadLetters.remove(id);
      res.writeHead(204).end();
    }],
    ['GET', /^\/v1\/stream$/, (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(`retry: 1000\nevent: history\ndata: ${JSON.stringify(app.history())}\n\n`);
      const off = app.onSample((s) => res.write(`event: sample\ndata: ${JSON.stringify(s)}\n\n`));
      streams.add(res);
      req.on('close', () => {
        off();
        streams.delete(res);
      });
    }],
  ];

  /** Requests being answered; close() waits for them (an accepted event gets its 202). */
  const inFlight = new Set<ServerResponse>();
  let closing = false;
  const open = new Set(['/healthz', '/metrics']);

  const server = createServer(async (req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return sendJson(res, 400, { error: `malformed request target ${JSON.stringify(String(req.url).slice(0, 80))}` });
    }
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    if (closing) res.shouldKeepAlive = false;
    try {
      const foreign = foreignRequest(req, loopback);
      // http-wasm handlers may be called cross-origin on purpose (CORS is theirs); the Host check still holds
      const isHandler = /^\/v1\/components\/[^/]+\/http(?:\/|$)/.test(url.pathname);
      if (foreign && !(isHandler && !foreign.startsWith('Host'))) throw new HttpError(403, foreign);
      if (!open.has(url.pathname)) {
        // the dashboard off loopback: /?token=<token> once sets a cookie the page's fetch and EventSource then carry
        const given = url.pathname === '/' && req.method === 'GET' ? url.searchParams.get('token') : null;
        if (given !== null && opts.token && sameSecret(given, opts.token)) {
          res.writeHead(303, { location: '/', 'set-cookie': `${tokenCookie}=${encodeURIComponent(opts.token)}; HttpOnly; SameSite=Strict; Path=/`, 'cache-control': 'no-store' });
          res.end();
          return;
        }
        authorize(req);
      }
      const file = req.method === 'GET' ? staticFiles[url.pathname] : undefined;
      if (file) {
        const data = await readFile(file.file);
        res.writeHead(200, { 'content-type': file.type, 'content-length': data.length, 'cache-control': 'no-cache' });
        res.end(data);
        return;
      }
      const handlerMatch = /^\/v1\/components\/([^/]+)\/http(?:\/|$)/.exec(url.pathname);
      const handler = handlerMatch ? handlers.get(decodeSegment(handlerMatch[1]!)) : undefined;
      if (handler) {
        await handler(req, res);
        return;
      }
      let pathMatched = false;
      for (const [method, re, handler] of routes) {
        const m = re.exec(url.pathname);
        if (!m) continue;
        pathMatched = true;
        if (method !== req.method) continue;
        await handler(req, res, m, url);
        return;
      }
      throw pathMatched ? new HttpError(405, `${req.method} is not allowed on ${url.pathname}`) : new HttpError(404, `no route for ${req.method} ${url.pathname}`);
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      if (status === 500) log.error({ err: (err as Error).message, url: url.pathname }, 'request failed');
      if (!res.headersSent) sendJson(res, status, { error: (err as Error).message });
      else res.end();
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  log.info({ url }, 'serving API, /metrics and the dashboard');
  return {
    url,
    requestsInFlight: () => inFlight.size,
    /**
     * Stops accepting, then lets the requests in flight finish (up to closeGraceMs, 10 s by
     * default) before dropping what is left: an event the source committed gets its 202.
     */
    async close() {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of streams) s.end();
      server.closeIdleConnections();
      const grace = opts.closeGraceMs ?? 10_000;
      const deadline = Date.now() + grace;
      while (inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      if (inFlight.size > 0) log.warn({ requests: inFlight.size, graceMs: grace }, 'closing with requests still in flight');
      server.closeAllConnections();
      await closed;
      await Promise.all(guests.map((g) => g.closeAsync()));
    },
  };
}
