// http-wasm guests on worker threads, so that limits.timeout holds for them as it does for events: a
// guest call that does not return within the timeout gets its request a 504, its thread terminated and
// replaced, and the main thread (API, dashboard, SMTP, other guests) never stops answering (decision 121).
//
// The main thread keeps HTTP, the chain and the upstream; a worker runs only the guest's phases. One
// request = 'run' (handle_request) → ['next' → the rest of the chain on the main thread → 'next-result'
// (handle_response)] → 'done'. A thread runs one phase at a time; between phases (while next is awaited)
// it takes other requests. The watchdog times each phase from posting to answer.
//
// The same pool serves wasi:http/incoming-handler components (abi: component, `component` instead of
// `module`): a request is one phase, 'run' → 'done', on a fresh instance, under the same watchdog and budget.
import { Worker } from 'node:worker_threads';
import type { Readable } from 'node:stream';
import {
  collect, createHttpWasmGuest, headerMapFrom, HttpWasmUnavailable, HttpWasmViolation, nodeHandler,
  type HttpRequestModel, type HttpResponseModel, type HttpWasmGuest, type HttpWasmLogger, type HttpWasmOptions, type InstanceMode, type NextFn,
} from '../wasm/http-wasm/index.js';
import { findExport, type ComponentImage } from '../wasm/component/index.js';
import { defaultLimits, type Grants, type Limits } from '../wasm/limits.js';
import { workerBoot } from './boot.js';
import type { FromHttpWorker, HttpWasmWorkerInit, ToHttpWorker, WireResponse } from './http-wasm-protocol.js';
import { formatMs } from './pool.js';
import type { BudgetMember, ThreadBudget } from './budget.js';
import { DEMOTE_AFTER_MS, GUEST_THREAD_NICE, RUNAWAY_NICE, setThreadNice } from './priority.js';

/** The in-process guest's options (see HttpWasmOptions), plus the threads and the budget. */
interface HttpWasmPoolCommon extends Pick<HttpWasmOptions, 'name' | 'config' | 'log' | 'limits' | 'instances' | 'maxIdle'> {
  /** Worker threads for this guest (default 2): a second keeps serving while one hangs until its timeout. */
  threads?: number;
  /** The host-wide thread budget: a phase runs only while this guest holds one of its slots. */
  budget?: ThreadBudget;
}

export type HttpWasmPoolOptions = HttpWasmPoolCommon & (
  | { module: WebAssembly.Module; component?: undefined }
  /** A wasi:http/incoming-handler component, a fresh instance per request, with these grants. */
  | { component: ComponentImage; grants?: Grants; module?: undefined }
);

export interface HttpWasmPool extends HttpWasmGuest {
  /** Resolves once the threads are ready. */
  ready(): Promise<void>;
  /** Stops the threads; requests still inside the guest get a 503. */
  closeAsync(): Promise<void>;
  poolStats(): { threads: number; timeouts: number; replaced: number; running: number; queued: number };
}

interface Req {
  id: number;
  model: HttpRequestModel;
  next?: NextFn;
  resolve(r: HttpResponseModel): void;
  reject(e: Error): void;
  settled: boolean;
  thread?: Thread;
  /** The upstream's body while it streams past a guest that did not ask to buffer it. */
  stream?: Readable;
  /** Why next failed, when that failure (a timeout further down) should be the request's answer. */
  inner?: Error;
}

interface Phase { req: Req; msg: ToHttpWorker }

interface Thread {
  worker: Worker;
  ready: boolean;
  stopping: boolean;
  active: Req | null;
  timer?: NodeJS.Timeout;
  /** Requests whose instance lives on this thread (running or waiting on next). */
  reqs: Map<number, Req>;
  /** handle_response phases waiting for the thread: they must run where their instance is. */
  resumes: Phase[];
  created: number;
  idle: number;
  lastError?: Error;
  exited: Promise<void>;
  tid?: number;
  phaseStart: number;
  /** The phase ran past DEMOTE_AFTER_MS: the thread is at RUNAWAY_NICE until it answers. */
  demoted: boolean;
}

const bootScript = workerBoot('http-wasm-worker');
const MAX_START_FAILURES = 3;
const levelsOf = (log: HttpWasmLogger) => ['debug', 'info', 'warn', 'error'].filter((l) => (log.isLevelEnabled ? log.isLevelEnabled(l) : true));

export function createHttpWasmPool(opts: HttpWasmPoolOptions): HttpWasmPool {
  const name = opts.name ?? 'guest';
  const what = opts.component ? 'component' : 'http-wasm guest';
  const log = opts.log;
  const limits: Limits = { ...defaultLimits, ...opts.limits };
  const timeoutMs = limits.timeoutMs;
  const size = opts.threads ?? 2;
  if (!Number.isInteger(size) || size < 1) throw new Error(`threads must be an integer >= 1, got ${size}`);
  // Imports, exports and memory are checked here, once, with the usual errors and warnings.
  if (opts.component) {
    if (!findExport(opts.component, 'wasi:http/incoming-handler', 'handle')) throw new Error(`component ${name} exports no wasi:http/incoming-handler: it does not answer HTTP`);
  } else createHttpWasmGuest(opts.module, { name, log, limits, ...(opts.instances ? { instances: opts.instances } : {}) }).close();
  const init: HttpWasmWorkerInit = {
    ...(opts.component ? { component: opts.component, ...(opts.grants ? { grants: opts.grants } : {}) } : { module: opts.module }),
    name, limits, instances: opts.component ? 'fresh' : opts.instances ?? 'pooled', levels: levelsOf(log),
    ...(opts.config ? { config: opts.config } : {}), ...(opts.maxIdle !== undefined ? { maxIdle: opts.maxIdle } : {}),
  };
  const member: BudgetMember | null = opts.budget ? opts.budget.join(name, () => dispatch()) : null;

  const threads: Thread[] = [];
  const queue: Req[] = [];
  let nextId = 1;
  let closed = false;
  let startFailures = 0;
  let deadCreated = 0;
  const counters = { timeouts: 0, replaced: 0 };
  const readyWaiters: Array<() => void> = [];

  function spawn(): void {
    let resolveExit!: () => void;
    const exited = new Promise<void>((r) => (resolveExit = r));
    const worker = new Worker(bootScript, { eval: true, workerData: init });
    worker.unref();
    const t: Thread = { worker, ready: false, stopping: false, active: null, reqs: new Map(), resumes: [], created: 0, idle: 0, exited, phaseStart: 0, demoted: false };
    threads.push(t);
    worker.on('message', (m: FromHttpWorker) => onMessage(t, m));
    worker.on('error', (err) => (t.lastError = err));
    worker.on('exit', (code) => {
      resolveExit();
      onExit(t, code);
    });
  }

  function allReady(): boolean {
    return closed || threads.filter((t) => !t.stopping).every((t) => t.ready);
  }

  // Phases past DEMOTE_AFTER_MS drop to the lowest CPU priority until they answer (decision 122).
  let sweeper: NodeJS.Timeout | undefined;
  function sweep(): void {
    const t0 = performance.now();
    let busy = false;
    for (const t of threads) {
      if (!t.active) continue;
      busy = true;
      if (!t.demoted && t.tid !== undefined && t0 - t.phaseStart > DEMOTE_AFTER_MS) t.demoted = setThreadNice(t.tid, RUNAWAY_NICE);
    }
    if (!busy && sweeper) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  }

  function start(t: Thread, p: Phase): void {
    t.phaseStart = performance.now();
    if (!sweeper) {
      sweeper = setInterval(sweep, DEMOTE_AFTER_MS / 2);
      sweeper.unref();
    }
    t.active = p.req;
    t.timer = setTimeout(() => onTimeout(t), timeoutMs);
    t.worker.postMessage(p.msg);
  }

  /** Resumes first (they finish requests in flight), then new requests, each on the first free thread. */
  function dispatch(): void {
    for (const t of threads) {
      if (!t.ready || t.stopping || t.active) continue;
      if (t.resumes.length === 0 && queue.length === 0) continue;
      if (member && !member.acquire()) break; // the budget calls dispatch again when a slot is ours
      if (t.resumes.length > 0) {
        start(t, t.resumes.shift()!);
      } else {
        const r = queue.shift()!;
        r.thread = t;
        t.reqs.set(r.id, r);
        start(t, { req: r, msg: { type: 'run', id: r.id, req: r.model, hasNext: r.next !== undefined } });
      }
    }
    if (member) member.want(startable());
  }

  /** Phases that could start now if the budget gave a slot: one per free thread that has one to run. */
  function startable(): number {
    let n = 0;
    let q = queue.length;
    for (const t of threads) {
      if (!t.ready || t.stopping || t.active) continue;
      if (t.resumes.length > 0) n++;
      else if (q > 0) {
        n++;
        q--;
      }
    }
    return n;
  }

  /** The phase on `t` answered: its slot and its watchdog end. */
  function phaseEnded(t: Thread): void {
    if (t.timer) clearTimeout(t.timer);
    t.timer = undefined;
    t.active = null;
    member?.release();
    if (t.demoted) {
      t.demoted = false;
      // Without the right to raise it back, the thread stays low: it served a runaway, so be it.
      setThreadNice(t.tid, GUEST_THREAD_NICE);
    }
  }

  function settle(r: Req, fn: () => void): void {
    if (r.settled) return;
    r.settled = true;
    r.thread?.reqs.delete(r.id);
    fn();
  }

  function fromWire(r: Req, w: WireResponse): HttpResponseModel {
    const body = w.streamed ? r.stream : w.body;
    return { status: w.status, headers: w.headers, trailers: w.trailers, body: body ?? new Uint8Array(0) };
  }

  function onMessage(t: Thread, m: FromHttpWorker): void {
    switch (m.type) {
      case 'ready':
        t.ready = true;
        if (m.tid !== undefined) t.tid = m.tid;
        startFailures = 0;
        if (allReady()) for (const w of readyWaiters.splice(0)) w();
        dispatch();
        return;
      case 'log':
        log[m.level].call(log, m.obj, m.msg);
        return;
      case 'next': {
        phaseEnded(t);
        const r = t.reqs.get(m.id);
        dispatch();
        if (r) void runNext(t, r, m.req, m.bufferResponse);
        return;
      }
      case 'done': {
        phaseEnded(t);
        t.created = m.instancesCreated;
        t.idle = m.idle;
        const r = t.reqs.get(m.id);
        if (r) {
          if (m.resp) {
            const resp = fromWire(r, m.resp);
            settle(r, () => r.resolve(resp));
          } else {
            const v = m.violation!;
            settle(r, () => r.reject(r.inner ?? new HttpWasmViolation(v.message, v.guest)));
          }
        }
        dispatch();
        return;
      }
    }
  }

  /** The rest of the chain, on this thread; its answer goes back to the thread holding the instance. */
  async function runNext(t: Thread, r: Req, model: HttpRequestModel, buffer: boolean): Promise<void> {
    let msg: ToHttpWorker;
    try {
      const resp = await r.next!(model, { bufferResponse: buffer });
      let body: Uint8Array | null = null;
      let streamed = false;
      if (resp.body instanceof Uint8Array) body = resp.body;
      else if (buffer) {
        try {
          const stream = resp.body;
          body = await collect(stream, limits.maxStdoutBytes);
          const trailers = (stream as { trailersDistinct?: Record<string, string[] | undefined> }).trailersDistinct;
          if (trailers && resp.trailers.size === 0) resp.trailers = headerMapFrom(trailers);
        } catch (err) {
          throw new Error(`cannot buffer the response: ${(err as Error).message}`);
        }
      } else {
        streamed = true;
        r.stream = resp.body;
      }
      msg = { type: 'next-result', id: r.id, resp: { status: resp.status, headers: resp.headers, trailers: resp.trailers, body, streamed } };
    } catch (err) {
      if (err instanceof HttpWasmViolation) msg = { type: 'next-result', id: r.id, failure: { violation: { message: err.message, guest: err.guest } } };
      else {
        // A timeout or a lost thread further down answers the request; this guest only cleans up.
        if (err instanceof HttpWasmUnavailable) r.inner = err;
        msg = { type: 'next-result', id: r.id, failure: { error: (err as Error).message } };
      }
    }
    if (r.settled || t.stopping) {
      r.stream?.destroy();
      return;
    }
    t.resumes.push({ req: r, msg });
    dispatch();
  }

  /** Everything whose instance lived on `t` fails: the active request with `active`, the rest with 503. */
  function failThread(t: Thread, active: HttpWasmUnavailable | null, why: string): void {
    const others = new HttpWasmUnavailable(`${what} ${name}: ${why}; this request's instance was lost with it, try again`, 503, name);
    for (const r of [...t.reqs.values()]) {
      r.stream?.destroy();
      settle(r, () => r.reject(r === t.active && active ? active : others));
    }
    t.resumes.length = 0;
  }

  function stopThread(t: Thread): void {
    t.stopping = true;
    if (t.timer) clearTimeout(t.timer);
    void t.worker.terminate();
  }

  function replace(t: Thread): void {
    const i = threads.indexOf(t);
    if (i >= 0) threads.splice(i, 1);
    deadCreated += t.created;
    if (!closed && startFailures < MAX_START_FAILURES) {
      counters.replaced++;
      spawn();
    }
    if (startFailures >= MAX_START_FAILURES && threads.length === 0) {
      const err = new Error(`${what} ${name}: worker threads fail to start: ${t.lastError?.message ?? 'unknown error'}`);
      for (const r of queue.splice(0)) settle(r, () => r.reject(err));
    }
  }

  function onTimeout(t: Thread): void {
    if (!t.active || t.stopping) return;
    counters.timeouts++;
    log.warn({ guest: name, timeoutMs }, `${what} ${name} ran past ${formatMs(timeoutMs)} (limits.timeout): its thread is replaced`);
    const err = new HttpWasmUnavailable(
      `${what} ${name} did not answer within ${formatMs(timeoutMs)} (limits.timeout); its instance was discarded`, 504, name);
    failThread(t, err, `another request ran past ${formatMs(timeoutMs)} on the same thread`);
    stopThread(t);
    phaseEnded(t);
    replace(t);
    dispatch();
  }

  function onExit(t: Thread, code: number): void {
    if (t.stopping) return;
    t.stopping = true;
    if (!t.ready) startFailures++;
    const why = `its worker thread died (exit code ${code}${t.lastError ? `: ${t.lastError.message}` : ''})`;
    log.error({ guest: name, code }, `${what} ${name}: ${why}`);
    if (t.active) phaseEnded(t);
    failThread(t, null, why);
    replace(t);
    dispatch();
  }

  function run(model: HttpRequestModel, next?: NextFn): Promise<HttpResponseModel> {
    if (closed) return Promise.reject(new HttpWasmUnavailable(`${what} ${name} is shutting down`, 503, name));
    return new Promise<HttpResponseModel>((resolve, reject) => {
      queue.push({ id: nextId++, model, ...(next ? { next } : {}), resolve, reject, settled: false });
      dispatch();
    });
  }

  const handle = nodeHandler(run, limits.maxStdinBytes);

  async function closeAsync(): Promise<void> {
    if (!closed) {
      closed = true;
      member?.leave();
      const err = new HttpWasmUnavailable(`${what} ${name} is shutting down`, 503, name);
      for (const r of queue.splice(0)) settle(r, () => r.reject(err));
      for (const t of threads) {
        failThread(t, null, 'the server is shutting down');
        stopThread(t);
      }
      for (const w of readyWaiters.splice(0)) w();
    }
    await Promise.all(threads.map((t) => t.exited));
  }

  for (let i = 0; i < size; i++) spawn();

  return {
    name,
    mode: init.instances,
    run,
    handle,
    stats: () => ({
      instancesCreated: deadCreated + threads.reduce((n, t) => n + t.created, 0),
      idle: threads.reduce((n, t) => n + (t.stopping ? 0 : t.idle), 0),
    }),
    close: () => void closeAsync(),
    closeAsync,
    ready: () => (allReady() ? Promise.resolve() : new Promise<void>((r) => readyWaiters.push(r))),
    poolStats: () => ({
      threads: threads.filter((t) => !t.stopping).length,
      timeouts: counters.timeouts,
      replaced: counters.replaced,
      running: threads.filter((t) => t.active).length,
      queued: queue.length,
    }),
  };
}


