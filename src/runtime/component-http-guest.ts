// A wasi:http/incoming-handler component behind the same run()/stats() face as an http-wasm guest, so the
// http-wasm worker thread and pool (watchdog, 504, thread budget; decisions 121, 122) serve it unchanged.
// Every request is a fresh instance (runComponentHttp); there is no `next`: a component is the handler.
import { runComponentHttp, type ComponentImage, type HttpRequestIn } from '../wasm/component/index.js';
import { HttpWasmViolation, type HttpRequestModel, type HttpResponseModel, type HttpWasmLogger } from '../wasm/http-wasm/index.js';
import { defaultLimits, type Grants, type Limits } from '../wasm/limits.js';

export interface ComponentHttpGuestOptions {
  name: string;
  log: HttpWasmLogger;
  limits?: Partial<Limits>;
  grants?: Grants;
}

export interface ComponentHttpGuest {
  readonly name: string;
  readonly mode: 'fresh';
  run(req: HttpRequestModel): Promise<HttpResponseModel>;
  stats(): { instancesCreated: number; idle: number };
  close(): void;
}

const MAX_LOGGED_STDERR = 4096;
const dec = new TextDecoder();

export function toRequestIn(req: HttpRequestModel): HttpRequestIn {
  const headers: [string, string][] = [];
  for (const [k, vs] of req.headers) for (const v of vs) headers.push([k, v]);
  const host = req.headers.get('host')?.[0];
  return { method: req.method, pathWithQuery: req.uri, headers, body: req.body, scheme: 'http', ...(host ? { authority: host } : {}) };
}

export function createComponentHttpGuest(image: ComponentImage, opts: ComponentHttpGuestOptions): ComponentHttpGuest {
  const limits: Limits = { ...defaultLimits, ...opts.limits };
  const { name, log } = opts;
  let created = 0;
  return {
    name,
    mode: 'fresh',
    async run(req) {
      created++;
      const r = runComponentHttp(image, toRequestIn(req), limits, opts.grants);
      const stderr = r.stderr.length > 0 ? dec.decode(r.stderr.subarray(0, MAX_LOGGED_STDERR)) : undefined;
      if (!r.ok) {
        const message = `${r.error.kind}: ${r.error.message}`;
        log.error({ guest: name, kind: r.error.kind, violation: r.error.message, method: req.method, uri: req.uri, ...(stderr ? { stderr } : {}) }, `component ${name}: ${message}`);
        throw new HttpWasmViolation(message, name);
      }
      if (stderr) log.warn({ guest: name, stream: 'stderr' }, stderr);
      const headers = new Map<string, string[]>();
      // Field values are bytes; latin1 gives them to Node's writeHead unchanged.
      for (const [k, v] of r.response.headers) {
        const s = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1');
        const list = headers.get(k);
        if (list) list.push(s);
        else headers.set(k, [s]);
      }
      return { status: r.response.status, headers, trailers: new Map(), body: r.response.body };
    },
    stats: () => ({ instancesCreated: created, idle: 0 }),
    close() {},
  };
}
