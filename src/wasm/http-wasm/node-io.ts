/** Between Node's http objects and the request/response model the guests see. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { headerMapFrom, headerObject, hopByHop, type HttpRequestModel, type HttpResponseModel } from './model.js';

/** Reads the whole request (body included). Resolves null when the body is larger than maxBody. */
export async function readRequestModel(req: IncomingMessage, maxBody: number): Promise<HttpRequestModel | null> {
  const headers = headerMapFrom(req.headersDistinct);
  const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
  let body: Uint8Array = new Uint8Array(0);
  if (hasBody) {
    const declared = Number(req.headers['content-length']);
    if (declared > maxBody) {
      req.resume();
      return null;
    }
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const chunk of req) {
      n += (chunk as Buffer).length;
      if (n > maxBody) {
        req.resume();
        return null;
      }
      chunks.push(chunk as Buffer);
    }
    body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  } else {
    req.resume();
  }
  const addr = req.socket.remoteAddress ?? '';
  return {
    method: req.method ?? 'GET',
    uri: req.url || '/',
    protocol: `HTTP/${req.httpVersion}`,
    sourceAddr: `${addr.includes(':') ? `[${addr}]` : addr}:${req.socket.remotePort ?? 0}`,
    headers,
    trailers: hasBody ? headerMapFrom(req.trailersDistinct) : new Map(),
    body,
  };
}

const noBodyStatus = (s: number): boolean => s < 200 || s === 204 || s === 304;

/** Sends a response model: a buffered body gets its own content-length, a stream is piped as it comes. */
export async function writeResponseModel(res: ServerResponse, resp: HttpResponseModel): Promise<void> {
  const skip = new Set(hopByHop);
  const buffered = resp.body instanceof Uint8Array;
  const withTrailers = buffered && resp.trailers.size > 0;
  if (buffered || withTrailers) skip.add('content-length');
  const head = headerObject(resp.headers, skip);
  if (withTrailers) head['trailer'] = [...resp.trailers.keys()].join(', ');
  else if (buffered && !noBodyStatus(resp.status)) head['content-length'] = String((resp.body as Uint8Array).length);
  try {
    res.writeHead(resp.status, head);
  } catch (err) {
    if (!(resp.body instanceof Uint8Array)) resp.body.destroy();
    writeViolation(res, err);
    return;
  }
  if (resp.body instanceof Uint8Array) {
    if (withTrailers) {
      res.write(resp.body);
      res.addTrailers(headerObject(resp.trailers));
      res.end();
    } else {
      res.end(noBodyStatus(resp.status) ? undefined : resp.body);
    }
    return;
  }
  try {
    await pipeline(resp.body, res);
  } catch {
    res.destroy(); // the upstream broke mid-body: the client must not take a short body for a whole one
  }
}

/**
 * A guest broke the ABI (already logged) or the host failed: 500, or a cut connection once headers went out.
 * An error carrying an HTTP status (HttpWasmUnavailable: 503/504) answers with that status and its message.
 */
export function writeViolation(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const e = err as { guest?: string; status?: number; message?: string } | null;
  if (e && (e.status === 503 || e.status === 504)) {
    res.writeHead(e.status, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '1' });
    res.end(`${e.message}\n`);
    return;
  }
  const guest = e?.guest;
  res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(guest ? `handler ${guest} failed; see the server log\n` : 'internal error; see the server log\n');
}

/** Node's (req, res) in front of a guest's run(): the request read up to maxBody (413 past it), then the response or the violation. */
export function nodeHandler<N>(run: (model: HttpRequestModel, next?: N) => Promise<HttpResponseModel>, maxBody: number) {
  return async (req: IncomingMessage, res: ServerResponse, next?: N): Promise<void> => {
    const model = await readRequestModel(req, maxBody);
    if (!model) {
      res.writeHead(413, { 'content-type': 'text/plain' }).end(`request body over ${maxBody} bytes\n`);
      return;
    }
    let resp: HttpResponseModel;
    try {
      resp = await run(model, next);
    } catch (err) {
      writeViolation(res, err);
      return;
    }
    await writeResponseModel(res, resp);
  };
}

/** An upstream body buffered for a guest that asked for it, up to max bytes. */
export async function collect(body: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    n += (chunk as Buffer).length;
    if (n > max) {
      body.destroy();
      throw new Error(`response body over ${max} bytes cannot be buffered`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
