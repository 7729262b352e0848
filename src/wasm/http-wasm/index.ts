/**
 * The http-wasm handler ABI (http-wasm/http-wasm content/http-handler-abi.md): host module `http_handler`,
 * guest exports `handle_request` () -> i64 ctx_next and `handle_response` (i32 req_ctx, i32 is_error).
 *
 * One guest = one compiled module plus its config. `run` takes a request model, calls handle_request,
 * awaits `next` (the rest of the chain, an upstream or nothing) when the guest asks for it, then calls
 * handle_response. Host functions are synchronous, so the request body is read whole before the guest runs
 * and a response body is visible to the guest only when it is buffered (feature buffer_response).
 *
 * A spec violation (buf_limit 0 on read_body, touching the response after next without buffer_response,
 * a missing export, a trap, ...) throws HttpWasmViolation out of `run` after one log line that names it;
 * the caller answers 500. The instance that misbehaved is dropped, the guest keeps serving.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { GuestError } from '../../core/errors.js';
import { moduleMeta } from '../compile.js';
import { defaultLimits, stderrCap, type Limits } from '../limits.js';
import {
  BodyKind, Feature, HeaderKind, emptyResponse, headerMapFrom, isFieldValue, isOriginForm, isToken, supportedFeatures,
  type HeaderMap, type HttpRequestModel, type HttpResponseModel,
} from './model.js';
import { collect, nodeHandler } from './node-io.js';
import { createWasi, ProcExit, type Wasi } from '../wasi/index.js';
import { importObject, makeMemory } from '../instance.js';

export * from './model.js';
export { collect, nodeHandler, readRequestModel, writeResponseModel, writeViolation } from './node-io.js';

/** pino-compatible subset. */
export interface HttpWasmLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  isLevelEnabled?(level: string): boolean;
}

export type InstanceMode = 'fresh' | 'pooled';

export interface HttpWasmOptions {
  /** Shown in log lines ("guest": name). */
  name?: string;
  /** Bytes returned by get_config (Dapr's guestConfig). */
  config?: Uint8Array;
  log: HttpWasmLogger;
  /** maxMemoryBytes caps linear memory, maxStdinBytes the request body, maxStdoutBytes a buffered response body. */
  limits?: Partial<Limits>;
  /** See docs/decisions/050-http-wasm-instances.md. */
  instances?: InstanceMode;
  /** Pooled mode: idle instances kept at most (more are created under load and dropped after). */
  maxIdle?: number;
  /** Warn at creation about missing exports (default true; a worker thread's copy leaves that to the main thread). */
  warnMissingExports?: boolean;
}

/** What the calling guest needs from next: its response body buffered (feature buffer_response). */
export interface NextHints { bufferResponse?: boolean }

/** The rest of the chain after a guest: the next guest, the upstream, or a handler. Rejects = host failure. */
export type NextFn = (req: HttpRequestModel, hints?: NextHints) => Promise<HttpResponseModel>;

export interface HttpWasmGuest {
  readonly name: string;
  readonly mode: InstanceMode;
  /** One request through this guest; throws HttpWasmViolation (already logged) when the guest breaks the ABI. */
  run(req: HttpRequestModel, next?: NextFn): Promise<HttpResponseModel>;
  /** Node adapter: reads `req`, runs, writes `res` (500 on a violation, 413 on an oversized body). */
  handle(req: IncomingMessage, res: ServerResponse, next?: NextFn): Promise<void>;
  stats(): { instancesCreated: number; idle: number };
  close(): void;
}

export class HttpWasmViolation extends Error {
  constructor(message: string, readonly guest = '') {
    super(message);
    this.name = 'HttpWasmViolation';
  }
}

/**
 * The guest could not answer for a reason of the host's: it ran past limits.timeout (504) or the thread
 * holding its instance was replaced (503). The request gets `status` and `message` as its body.
 */
export class HttpWasmUnavailable extends Error {
  constructor(message: string, readonly status: 503 | 504, readonly guest = '') {
    super(message);
    this.name = 'HttpWasmUnavailable';
  }
}

/** Thrown by host functions: unwinds through the guest's stack to `invoke`. */
class AbiError extends Error {}

interface Instance {
  instance: WebAssembly.Instance;
  memory: WebAssembly.Memory;
  handleRequest: unknown;
  handleResponse: unknown;
}

/** Per-request state of one guest. */
interface Call {
  req: HttpRequestModel;
  /** Before next: the response the guest builds; after next: the one next produced. */
  resp: HttpResponseModel;
  features: number;
  afterNext: boolean;
  reqBodyPos: number;
  /** Request body written in handle_request (the first write replaces the body). */
  reqBodyOut: Buffer[] | null;
  respBodyPos: number;
  /** Response body written in the current phase (the first write in a phase replaces the body). */
  respBodyOut: Buffer[] | null;
}

const httpHandlerFunctions = [
  'enable_features', 'get_config', 'log', 'log_enabled', 'get_method', 'set_method', 'get_uri', 'set_uri',
  'get_protocol_version', 'get_source_addr', 'get_header_names', 'get_header_values', 'set_header_value',
  'add_header_value', 'remove_header', 'read_body', 'write_body', 'get_status_code', 'set_status_code',
] as const;

const levelNames: Record<number, 'debug' | 'info' | 'warn' | 'error'> = { [-1]: 'debug', 0: 'info', 1: 'warn', 2: 'error' };
const U32 = 0xffffffffn;

export function createHttpWasmGuest(module: WebAssembly.Module, opts: HttpWasmOptions): HttpWasmGuest {
  const name = opts.name ?? 'guest';
  const log = opts.log;
  const limits: Limits = { ...defaultLimits, ...opts.limits };
  const mode: InstanceMode = opts.instances ?? 'pooled';
  const maxIdle = opts.maxIdle ?? 64;
  const config = opts.config ?? new Uint8Array(0);

  const imports = WebAssembly.Module.imports(module);
  const exportNames = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  const meta = moduleMeta(module);
  let needsWasi = false;
  for (const imp of imports) {
    if (imp.module === 'http_handler') {
      if (!(httpHandlerFunctions as readonly string[]).includes(imp.name)) {
        throw new GuestError({ kind: 'invalid-module', message: `guest ${name} imports http_handler.${imp.name}, which is not a function of the http-wasm handler ABI` });
      }
    } else if (imp.module === 'wasi_snapshot_preview1') {
      needsWasi = true;
    } else if (!(meta.memory && imp.module === meta.memory.module && imp.name === meta.memory.name)) {
      throw new GuestError({ kind: 'invalid-module', message: `guest ${name} imports ${imp.module}.${imp.name} which the host does not provide (only http_handler and wasi_snapshot_preview1)` });
    }
  }
  for (const exp of ['handle_request', 'handle_response', 'memory']) {
    if (opts.warnMissingExports !== false && !exportNames.has(exp)) log.warn({ guest: name }, `http-wasm guest ${name} does not export ${exp}: requests that need it will get a 500`);
  }

  let baseFeatures = 0;
  let cur: Call | null = null;
  let curMem: WebAssembly.Memory | null = null;
  let created = 0;
  const idle: Instance[] = [];
  const enc = new TextEncoder();
  const utf8 = new TextDecoder();

  // ---- memory helpers (views are made per call: memory.grow detaches old buffers) ----
  function mem(): WebAssembly.Memory {
    if (!curMem) throw new AbiError('the guest has no exported memory');
    return curMem;
  }
  function readBytes(ptr: number, len: number, what: string): Uint8Array {
    ptr >>>= 0; len >>>= 0;
    const buf = mem().buffer;
    if (ptr + len > buf.byteLength) throw new AbiError(`${what} [${ptr}, ${ptr + len}) is outside guest memory (${buf.byteLength} bytes)`);
    return new Uint8Array(buf, ptr, len);
  }
  function readLatin1(ptr: number, len: number, what: string): string {
    return Buffer.from(readBytes(ptr, len, what)).toString('latin1');
  }
  /** The ABI's getter contract: write only when it fits, always return the length. */
  function writeIfFits(buf: number, limit: number, bytes: Uint8Array): number {
    limit >>>= 0;
    if (bytes.length > 0 && bytes.length <= limit) {
      const m = mem().buffer;
      if ((buf >>> 0) + bytes.length > m.byteLength) throw new AbiError(`buffer [${buf >>> 0}, ${(buf >>> 0) + bytes.length}) is outside guest memory`);
      new Uint8Array(m, buf >>> 0, bytes.length).set(bytes);
    }
    return bytes.length;
  }
  function writeNulTerminated(buf: number, limit: number, items: string[]): bigint {
    if (items.length === 0) return 0n;
    const bytes = Buffer.from(items.map((s) => s + '\0').join(''), 'latin1');
    writeIfFits(buf, limit, bytes);
    return (BigInt(items.length) << 32n) | BigInt(bytes.length);
  }

  // ---- request-state guards ----
  function call(fn: string): Call {
    if (!cur) throw new AbiError(`${fn} called outside handle_request/handle_response`);
    return cur;
  }
  function beforeNext(fn: string, what: string): Call {
    const c = call(fn);
    if (c.afterNext) throw new AbiError(`${fn}: cannot change the ${what} after next`);
    return c;
  }
  function responseWritable(fn: string, what: string): Call {
    const c = call(fn);
    if (c.afterNext && !(c.features & Feature.bufferResponse)) {
      throw new AbiError(`${fn}: touching the response ${what} after next needs feature buffer_response`);
    }
    return c;
  }
  function headerTarget(fn: string, kind: number, write: boolean): HeaderMap | null {
    const c = call(fn);
    switch (kind) {
      case HeaderKind.request:
        if (write) beforeNext(fn, 'request headers');
        return c.req.headers;
      case HeaderKind.response:
        if (write) responseWritable(fn, 'headers');
        return c.resp.headers;
      case HeaderKind.requestTrailers:
      case HeaderKind.responseTrailers:
        if (!(c.features & Feature.trailers)) {
          if (write) throw new AbiError(`${fn}: trailers need feature trailers`);
          return null; // the spec: empty get without the feature
        }
        if (write) {
          if (kind === HeaderKind.requestTrailers) beforeNext(fn, 'request trailers');
          else responseWritable(fn, 'trailers');
        }
        return kind === HeaderKind.requestTrailers ? c.req.trailers : c.resp.trailers;
      default:
        throw new AbiError(`${fn}: unknown header_kind ${kind}`);
    }
  }
  function headerName(fn: string, ptr: number, len: number): string {
    if ((len >>> 0) === 0) throw new AbiError(`${fn}: empty header name`);
    const n = readLatin1(ptr, len, 'header name');
    if (!isToken(n)) throw new AbiError(`${fn}: invalid header name ${JSON.stringify(n)}`);
    return n.toLowerCase();
  }
  function headerValue(fn: string, ptr: number, len: number): string {
    const v = readLatin1(ptr, len, 'header value');
    if (!isFieldValue(v)) throw new AbiError(`${fn}: header value contains CR, LF or NUL`);
    return v;
  }
  function bodyBytes(b: Uint8Array | Readable): Uint8Array | null {
    return b instanceof Uint8Array ? b : null;
  }

  const host: Record<(typeof httpHandlerFunctions)[number], (...args: number[]) => number | bigint | void> = {
    enable_features(features) {
      const f = features & supportedFeatures;
      if (cur) {
        if (!cur.afterNext) cur.features |= f;
        return cur.features;
      }
      baseFeatures |= f; // at start-up: every request of this guest
      return baseFeatures;
    },
    get_config(buf, limit) {
      return writeIfFits(buf!, limit!, config);
    },
    log(level, ptr, len) {
      // The spec: a host that cannot log ignores the message rather than trapping.
      try {
        const lvl = levelNames[level!];
        if (!lvl || !enabled(lvl)) return;
        log[lvl]({ guest: name }, utf8.decode(readBytes(ptr!, len!, 'message')));
      } catch { /* ignored by contract */ }
    },
    log_enabled(level) {
      const lvl = levelNames[level!];
      return lvl && enabled(lvl) ? 1 : 0;
    },
    get_method(buf, limit) {
      return writeIfFits(buf!, limit!, Buffer.from(call('get_method').req.method, 'latin1'));
    },
    set_method(ptr, len) {
      const c = beforeNext('set_method', 'method');
      const m = readLatin1(ptr!, len!, 'method');
      if (!isToken(m)) throw new AbiError(`set_method: invalid method ${JSON.stringify(m)}`);
      c.req.method = m;
    },
    get_uri(buf, limit) {
      return writeIfFits(buf!, limit!, Buffer.from(call('get_uri').req.uri || '/', 'latin1'));
    },
    set_uri(ptr, len) {
      const c = beforeNext('set_uri', 'URI');
      const u = (len! >>> 0) === 0 ? '/' : readLatin1(ptr!, len!, 'uri');
      if (!isOriginForm(u)) throw new AbiError(`set_uri: ${JSON.stringify(u)} is not an encoded path starting with "/"`);
      c.req.uri = u; // a URI without "?" drops the old query, as the spec says
    },
    get_protocol_version(buf, limit) {
      return writeIfFits(buf!, limit!, Buffer.from(call('get_protocol_version').req.protocol, 'latin1'));
    },
    get_source_addr(buf, limit) {
      return writeIfFits(buf!, limit!, Buffer.from(call('get_source_addr').req.sourceAddr, 'latin1'));
    },
    get_header_names(kind, buf, limit) {
      const h = headerTarget('get_header_names', kind!, false);
      return h ? writeNulTerminated(buf!, limit!, [...h.keys()]) : 0n;
    },
    get_header_values(kind, namePtr, nameLen, buf, limit) {
      const n = headerName('get_header_values', namePtr!, nameLen!);
      const h = headerTarget('get_header_values', kind!, false);
      return writeNulTerminated(buf!, limit!, h?.get(n) ?? []);
    },
    set_header_value(kind, namePtr, nameLen, valPtr, valLen) {
      const h = headerTarget('set_header_value', kind!, true)!;
      h.set(headerName('set_header_value', namePtr!, nameLen!), [headerValue('set_header_value', valPtr!, valLen!)]);
    },
    add_header_value(kind, namePtr, nameLen, valPtr, valLen) {
      const h = headerTarget('add_header_value', kind!, true)!;
      const n = headerName('add_header_value', namePtr!, nameLen!);
      const v = headerValue('add_header_value', valPtr!, valLen!);
      const old = h.get(n);
      if (old) old.push(v);
      else h.set(n, [v]);
    },
    remove_header(kind, namePtr, nameLen) {
      const h = headerTarget('remove_header', kind!, true)!;
      h.delete(headerName('remove_header', namePtr!, nameLen!));
    },
    read_body(kind, buf, limit) {
      const c = call('read_body');
      if ((limit! >>> 0) === 0) throw new AbiError('read_body with buf_limit 0');
      let src: Uint8Array;
      let pos: number;
      if (kind === BodyKind.request) {
        if (c.afterNext && !(c.features & Feature.bufferRequest)) throw new AbiError('read_body: reading the request body after next needs feature buffer_request');
        src = c.req.body;
        pos = c.reqBodyPos;
      } else if (kind === BodyKind.response) {
        responseWritable('read_body', 'body');
        src = c.respBodyOut ? Buffer.concat(c.respBodyOut) : bodyBytes(c.resp.body) ?? new Uint8Array(0);
        pos = c.respBodyPos;
      } else {
        throw new AbiError(`read_body: unknown body_kind ${kind}`);
      }
      const n = Math.min(limit! >>> 0, src.length - pos);
      if (n > 0) {
        const m = mem().buffer;
        if ((buf! >>> 0) + n > m.byteLength) throw new AbiError('read_body: buffer is outside guest memory');
        new Uint8Array(m, buf! >>> 0, n).set(src.subarray(pos, pos + n));
      }
      if (kind === BodyKind.request) c.reqBodyPos += n;
      else c.respBodyPos += n;
      const eof = pos + n >= src.length ? 1n : 0n;
      return (eof << 32n) | BigInt(n);
    },
    write_body(kind, ptr, len) {
      const c = call('write_body');
      const chunk = Buffer.from(readBytes(ptr!, len!, 'body'));
      if (kind === BodyKind.request) {
        beforeNext('write_body', 'request body');
        (c.reqBodyOut ??= []).push(chunk);
      } else if (kind === BodyKind.response) {
        responseWritable('write_body', 'body');
        (c.respBodyOut ??= []).push(chunk);
      } else {
        throw new AbiError(`write_body: unknown body_kind ${kind}`);
      }
    },
    get_status_code() {
      return call('get_status_code').resp.status;
    },
    set_status_code(code) {
      const c = responseWritable('set_status_code', 'status code');
      if (code! < 100 || code! > 999) throw new AbiError(`set_status_code: ${code} is not an HTTP status code`);
      c.resp.status = code!;
    },
  };

  const levelCache = new Map<string, boolean>();
  function enabled(level: string): boolean {
    let v = levelCache.get(level);
    if (v === undefined) {
      v = log.isLevelEnabled ? log.isLevelEnabled(level) : true;
      levelCache.set(level, v);
    }
    return v;
  }

  const sharedImports: WebAssembly.Imports = { http_handler: host as unknown as WebAssembly.ModuleImports };

  function fail(message: string): HttpWasmViolation {
    return new HttpWasmViolation(message, name);
  }

  function instantiate(): Instance {
    const { memory, error } = makeMemory(meta, limits);
    if (error) throw fail(error.message);
    const importObj: WebAssembly.Imports = { ...importObject(null, meta, memory), ...sharedImports };
    let wasi: Wasi | null = null;
    if (needsWasi) {
      wasi = createWasi({ args: [name], env: {}, stdin: new Uint8Array(0), maxStdoutBytes: limits.maxStdoutBytes, maxStderrBytes: stderrCap(limits), preopens: [] });
      importObj.wasi_snapshot_preview1 = { ...wasi.imports.wasi_snapshot_preview1, fd_write: stdioToLog(wasi.imports.wasi_snapshot_preview1.fd_write) } as WebAssembly.ModuleImports;
    }
    let instance: WebAssembly.Instance;
    const saved = cur;
    cur = null;
    try {
      instance = new WebAssembly.Instance(module, importObj);
      const exportedMem = instance.exports.memory;
      const m = exportedMem instanceof WebAssembly.Memory ? exportedMem : memory;
      if (!m) throw fail('guest does not export memory');
      curMem = m;
      wasi?.bind(m);
      // TinyGo (-target=wasi) sets its handler functions in main, run by _start; reactors use _initialize.
      const init = instance.exports._initialize ?? instance.exports._start;
      if (typeof init === 'function') {
        try {
          (init as () => void)();
        } catch (err) {
          if (!isCleanExit(err)) throw err;
        }
      }
      created++;
      return { instance, memory: m, handleRequest: instance.exports.handle_request, handleResponse: instance.exports.handle_response };
    } catch (err) {
      throw classify(err, 'instantiating');
    } finally {
      cur = saved;
      curMem = null;
    }
  }

  /** The guest's stdout/stderr go to the log, line by line, instead of piling up in memory. */
  function stdioToLog(inner: Function | undefined): Function {
    return (fd: number, iovs: number, iovsLen: number, nwritten: number): number => {
      if (fd !== 1 && fd !== 2) return inner ? (inner(fd, iovs, iovsLen, nwritten) as number) : 8; // EBADF
      const view = new DataView(mem().buffer);
      const parts: Uint8Array[] = [];
      let total = 0;
      for (let i = 0; i < iovsLen; i++) {
        const p = view.getUint32(iovs + i * 8, true);
        const l = view.getUint32(iovs + i * 8 + 4, true);
        parts.push(readBytes(p, l, 'iovec'));
        total += l;
      }
      view.setUint32(nwritten, total, true);
      const text = utf8.decode(Buffer.concat(parts)).replace(/\n$/, '');
      if (text) (fd === 1 ? log.info : log.warn).call(log, { guest: name, stream: fd === 1 ? 'stdout' : 'stderr' }, text);
      return 0;
    };
  }

  function classify(err: unknown, during: string): HttpWasmViolation {
    if (err instanceof HttpWasmViolation) return err;
    if (err instanceof AbiError) return fail(err.message);
    if (err instanceof WebAssembly.RuntimeError) return fail(`guest trapped ${during}: ${err.message}`);
    if (err instanceof RangeError && /call stack/i.test(err.message)) return fail(`guest trapped ${during}: stack overflow`);
    if (err instanceof WebAssembly.LinkError) return fail(`guest cannot be linked: ${err.message}`);
    const code = exitCode(err);
    if (code !== null) return fail(`guest called proc_exit(${code}) ${during}`);
    return fail(`guest failed ${during}: ${err instanceof Error ? err.message : String(err)}`);
  }

  function checkout(): Instance {
    return (mode === 'pooled' && idle.pop()) || instantiate();
  }
  function release(inst: Instance, healthy: boolean): void {
    if (mode === 'pooled' && healthy && idle.length < maxIdle) idle.push(inst);
  }

  /** Calls an export with `c` as the current request; host functions see it through `cur`. */
  function invoke(inst: Instance, c: Call, fn: 'handle_request' | 'handle_response', args: number[]): unknown {
    const f = fn === 'handle_request' ? inst.handleRequest : inst.handleResponse;
    if (typeof f !== 'function') throw fail(`guest does not export ${fn}`);
    cur = c;
    curMem = inst.memory;
    try {
      return (f as (...a: number[]) => unknown)(...args);
    } catch (err) {
      throw classify(err, `in ${fn}`);
    } finally {
      cur = null;
      curMem = null;
      if (inst.memory.buffer.byteLength > limits.maxMemoryBytes) {
        // Only reachable when the module's memory could not be capped by import (see compile.ts).
        // eslint-disable-next-line no-unsafe-finally
        throw fail(`guest memory grew to ${inst.memory.buffer.byteLength} bytes, over the limit of ${limits.maxMemoryBytes}`);
      }
    }
  }

  /** Applies what the guest wrote during a phase: the first write replaced the body. */
  function endPhase(c: Call): void {
    if (c.respBodyOut) {
      c.resp.body = Buffer.concat(c.respBodyOut);
      c.respBodyOut = null;
    }
  }

  function logViolation(v: HttpWasmViolation, req: HttpRequestModel): void {
    log.error({ guest: name, violation: v.message, method: req.method, uri: req.uri }, `http-wasm guest ${name}: ${v.message}`);
  }

  async function run(req: HttpRequestModel, next?: NextFn): Promise<HttpResponseModel> {
    let inst: Instance;
    try {
      inst = checkout();
    } catch (err) {
      const v = classify(err, 'instantiating');
      logViolation(v, req);
      throw v;
    }
    const c: Call = {
      req, resp: emptyResponse(200), features: baseFeatures, afterNext: false,
      reqBodyPos: 0, reqBodyOut: null, respBodyPos: 0, respBodyOut: null,
    };
    let healthy = false;
    try {
      const ctxNext = BigInt.asUintN(64, BigInt(invoke(inst, c, 'handle_request', []) as bigint));
      endPhase(c);
      if ((ctxNext & U32) === 0n) {
        healthy = true;
        return c.resp; // the guest answered (or accepted the default empty 200)
      }
      const reqCtx = Number((ctxNext >> 32n) & U32) | 0;
      // What the next handler sees of the body: what the guest wrote, else all of it when buffered,
      // else what the guest did not consume.
      if (c.reqBodyOut) req.body = Buffer.concat(c.reqBodyOut);
      else if (!(c.features & Feature.bufferRequest) && c.reqBodyPos > 0) req.body = req.body.subarray(c.reqBodyPos);
      c.reqBodyPos = 0;
      c.afterNext = true;
      let isError = 0;
      let inner: HttpWasmViolation | null = null;
      let resp: HttpResponseModel;
      if (!next) {
        resp = c.resp; // handler mode: no next handler, the guest's own response stands
      } else {
        const own = c.resp.headers;
        try {
          resp = await next(req, { bufferResponse: (c.features & Feature.bufferResponse) !== 0 });
          for (const [k, v] of own) if (!resp.headers.has(k)) resp.headers.set(k, v);
        } catch (err) {
          isError = 1;
          if (err instanceof HttpWasmViolation) inner = err;
          else log.warn({ guest: name, err: err instanceof Error ? err.message : String(err) }, 'http-wasm: next handler failed');
          resp = emptyResponse(inner ? 500 : 502);
        }
      }
      if (c.features & Feature.bufferResponse && !(resp.body instanceof Uint8Array)) {
        try {
          const stream = resp.body;
          resp.body = await collect(stream, limits.maxStdoutBytes);
          // An upstream IncomingMessage carries its trailers once read to the end.
          const t = (stream as { trailersDistinct?: Record<string, string[] | undefined> }).trailersDistinct;
          if (t && resp.trailers.size === 0) resp.trailers = headerMapFrom(t);
        } catch (err) {
          log.warn({ guest: name, err: (err as Error).message }, 'http-wasm: cannot buffer the response');
          isError = 1;
          resp = emptyResponse(502);
        }
      }
      c.resp = resp;
      invoke(inst, c, 'handle_response', [reqCtx, isError]);
      endPhase(c);
      healthy = true;
      if (inner) throw inner; // the request ends with the inner guest's 500, outer guests only cleaned up
      return c.resp;
    } catch (err) {
      if (err instanceof HttpWasmViolation && err.guest === name && !healthy) logViolation(err, req);
      throw err;
    } finally {
      release(inst, healthy);
    }
  }

  const handle = nodeHandler(run, limits.maxStdinBytes);

  return {
    name,
    mode,
    run,
    handle,
    stats: () => ({ instancesCreated: created, idle: idle.length }),
    close: () => {
      idle.length = 0;
    },
  };
}

/** Runs guests in order in front of `last` (an upstream, or undefined for handler mode). */
export function chainGuests(guests: HttpWasmGuest[], last?: NextFn): NextFn {
  let next: NextFn | undefined = last;
  for (let i = guests.length - 1; i >= 0; i--) {
    const g = guests[i]!;
    const after = next;
    next = (req) => g.run(req, after);
  }
  if (!next) throw new Error('chainGuests needs at least one guest or a last handler');
  return next;
}


function exitCode(err: unknown): number | null {
  return err instanceof ProcExit ? err.code : null;
}

function isCleanExit(err: unknown): boolean {
  return exitCode(err) === 0;
}

