/** Shared by the http-wasm tests: guest builds, a capturing logger, a test upstream and an HTTP client. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { repoRoot } from '../helpers/cli.js';
import { watBytes as watTextBytes } from '../runtime/wat.js';
import { compileModule } from '../../src/wasm/compile.js';
import type { HttpWasmLogger } from '../../src/wasm/http-wasm/index.js';

const guestDir = path.join(repoRoot, 'guests/http');
const buildDir = path.join(repoRoot, 'guests/build/http');

/** Compiles guests/http/<name>.wat with wabt (in process, fast enough for every test run). */
export async function watBytes(name: string): Promise<Uint8Array> {
  return watTextBytes(fs.readFileSync(path.join(guestDir, `${name}.wat`), 'utf8'));
}

export async function wat(name: string): Promise<WebAssembly.Module> {
  return compileModule(await watBytes(name)).module;
}

/** guests/http/as/probe.ts, built by scripts/build-guests.mjs; built here when missing or stale. */
export async function probeBytes(): Promise<Uint8Array> {
  const src = path.join(guestDir, 'as/probe.ts');
  const out = path.join(buildDir, 'probe.wasm');
  const stale = !fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(src).mtimeMs;
  if (stale) {
    fs.mkdirSync(buildDir, { recursive: true });
    const asc = await import('assemblyscript/asc');
    const tmp = `${out}.${process.pid}.tmp`;
    const { error, stderr } = await asc.main([src, '-o', tmp, '--use', 'abort=', '--exportStart', '_initialize', '-O2']);
    if (error) throw new Error(`asc failed: ${error.message}\n${stderr.toString()}`);
    fs.renameSync(tmp, out);
  }
  return fs.readFileSync(out);
}

export async function probe(): Promise<WebAssembly.Module> {
  return compileModule(await probeBytes()).module;
}

export interface LogEntry { level: string; obj: Record<string, unknown>; msg: string }

const order = ['debug', 'info', 'warn', 'error'];
/** Records every line; levels below `min` are reported disabled (as pino's isLevelEnabled would). */
export function captureLog(min = 'debug'): HttpWasmLogger & { entries: LogEntry[]; text(): string } {
  const entries: LogEntry[] = [];
  const at = (level: string) => (obj: object, msg?: string) => {
    if (order.indexOf(level) >= order.indexOf(min)) entries.push({ level, obj: obj as Record<string, unknown>, msg: msg ?? '' });
  };
  return {
    entries,
    debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'),
    isLevelEnabled: (level: string) => order.indexOf(level) >= order.indexOf(min),
    text: () => entries.map((e) => `${e.level} ${e.msg}`).join('\n'),
  };
}

export interface Seen { method: string; url: string; headers: http.IncomingHttpHeaders; distinct: NodeJS.Dict<string[]>; body: string; trailers: NodeJS.Dict<string> }

/** An upstream that records what it got and answers 200 "upstream-body" with x-upstream headers. */
export async function startUpstream(): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, distinct: req.headersDistinct, body: Buffer.concat(chunks).toString(), trailers: req.trailers });
    res.setHeader('x-upstream', 'yes');
    res.setHeader('x-upstream-multi', ['one', 'two']);
    res.setHeader('content-type', 'text/plain');
    res.end('upstream-body');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
}

export interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

export function request(
  url: string,
  opts: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string; trailers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.trailers) {
      req.write(opts.body ?? '');
      req.addTrailers(opts.trailers);
      req.end();
    } else {
      req.end(opts.body);
    }
  });
}

/** A loopback port nothing listens on (bound, then closed). */
export async function deadPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Polls `url` until `done` settles (a hung handler's request); every poll must answer 200. Returns how many answered. */
export async function answersThroughout(url: string, done: Promise<unknown>): Promise<number> {
  let finished = false;
  void done.finally(() => (finished = true));
  let answered = 0;
  while (!finished) {
    const r = await request(url);
    assert.equal(r.status, 200, `${url} answered ${r.status} while a handler hung`);
    answered++;
    await new Promise((r) => setTimeout(r, 50));
  }
  return answered;
}
