// Worker thread of an http-wasm pool: holds one guest (its compiled module and pooled instances) and runs
// the guest's phases as the main thread posts them. Guest code runs only between a 'run' or 'next-result'
// and the 'next' or 'done' that answers it; the main thread's watchdog times exactly that span, and
// terminates this thread when the guest does not return (decision 121).
import { Readable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import {
  createHttpWasmGuest, HttpWasmViolation, type HttpResponseModel, type HttpWasmLogger, type NextFn,
} from '../wasm/http-wasm/index.js';
import type { FromHttpWorker, HttpWasmWorkerInit, ToHttpWorker, WireResponse } from './http-wasm-protocol.js';
import { createComponentHttpGuest } from './component-http-guest.js';
import { lowerThreadPriority } from './priority.js';

const tid = lowerThreadPriority();

const init = workerData as HttpWasmWorkerInit;
const port = parentPort!;
const post = (m: FromHttpWorker) => port.postMessage(m);

const levels = new Set(init.levels);
const forward = (level: 'debug' | 'info' | 'warn' | 'error') => (obj: object, msg?: string) => post({ type: 'log', level, obj, ...(msg !== undefined ? { msg } : {}) });
const log: HttpWasmLogger = {
  debug: forward('debug'), info: forward('info'), warn: forward('warn'), error: forward('error'),
  isLevelEnabled: (l) => levels.has(l),
};

const guest = init.component
  ? createComponentHttpGuest(init.component, { name: init.name, log, limits: init.limits, ...(init.grants ? { grants: init.grants } : {}) })
  : createHttpWasmGuest(init.module!, {
    name: init.name, log, limits: init.limits, instances: init.instances, warnMissingExports: false,
    ...(init.config ? { config: init.config } : {}), ...(init.maxIdle !== undefined ? { maxIdle: init.maxIdle } : {}),
  });

/** Stands for the upstream's body stream, which never leaves the main thread. */
const kept = new Readable({ read() {} });
const waiting = new Map<number, { resolve(r: HttpResponseModel): void; reject(e: Error): void }>();

function toWire(resp: HttpResponseModel): WireResponse {
  const streamed = !(resp.body instanceof Uint8Array);
  const body = streamed ? null : (resp.body as Uint8Array);
  return { status: resp.status, headers: resp.headers, trailers: resp.trailers, body, streamed };
}

function fromWire(w: WireResponse): HttpResponseModel {
  return { status: w.status, headers: w.headers, trailers: w.trailers, body: w.streamed ? kept : (w.body ?? new Uint8Array(0)) };
}

async function run(id: number, req: Parameters<NextFn>[0], hasNext: boolean): Promise<void> {
  const next: NextFn = (r, hints) =>
    new Promise<HttpResponseModel>((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      post({ type: 'next', id, req: r, bufferResponse: hints?.bufferResponse === true });
    });
  try {
    const resp = await guest.run(req, hasNext ? next : undefined);
    post({ type: 'done', id, resp: toWire(resp), ...guest.stats() });
  } catch (err) {
    const violation = err instanceof HttpWasmViolation
      ? { message: err.message, guest: err.guest }
      : { message: `host failure: ${(err as Error)?.message ?? String(err)}`, guest: init.name };
    post({ type: 'done', id, violation, ...guest.stats() });
  }
}

port.on('message', (m: ToHttpWorker) => {
  if (m.type === 'run') {
    void run(m.id, m.req, m.hasNext);
    return;
  }
  const w = waiting.get(m.id);
  if (!w) return;
  waiting.delete(m.id);
  if (m.resp) w.resolve(fromWire(m.resp));
  else if (m.failure?.violation) w.reject(new HttpWasmViolation(m.failure.violation.message, m.failure.violation.guest));
  else w.reject(new Error(m.failure?.error ?? 'next failed'));
});

post({ type: 'ready', ...(tid !== undefined ? { tid } : {}) });
