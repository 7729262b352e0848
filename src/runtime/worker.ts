// Worker thread of the replica pool: holds the shared compiled module and runs one job at a time,
// each on a fresh instance. The pool enforces the wall-clock deadline by terminating this thread.
import { parentPort, workerData } from 'node:worker_threads';
import { callExport, instanceLimits, moduleMeta, runWasiCommand } from './guest.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';
import { lowerThreadPriority } from './priority.js';

const tid = lowerThreadPriority();
import { runComponentCommand } from '../wasm/component/index.js';

const init = workerData as WorkerInit;
const port = parentPort!;
// Tables count against the memory budget: the memory may grow only to what they leave (decision 120).
// createPool refuses a module whose tables do not fit, so `problem` is null here.
const limits = instanceLimits(moduleMeta(init.module), init.limits).limits;

function transferables(result: FromWorker): ArrayBuffer[] {
  if (result.type !== 'done' || !('stdout' in result.result)) return [];
  const out: ArrayBuffer[] = [];
  for (const b of [result.result.stdout, result.result.stderr]) {
    // Zero-copy hand-back: this thread never looks at the bytes again.
    if (b.buffer instanceof ArrayBuffer && b.buffer.byteLength > 0 && !out.includes(b.buffer)) out.push(b.buffer);
  }
  return out;
}

port.on('message', (msg: ToWorker) => {
  const job = msg.job;
  const t0 = performance.now();
  const result =
    job.kind === 'command' && init.component
      ? runComponentCommand(init.component, { stdin: job.stdin, env: job.env, args: job.args }, limits, init.grants)
      : job.kind === 'command'
      ? runWasiCommand(init.module, { stdin: job.stdin, env: job.env, args: job.args }, limits, init.grants)
      : callExport(init.module, job.name, job.args, limits);
  const reply: FromWorker = { type: 'done', id: msg.id, result, durationUs: Math.round((performance.now() - t0) * 1000) };
  port.postMessage(reply, transferables(reply));
});

port.postMessage({ type: 'ready', ...(tid !== undefined ? { tid } : {}) } satisfies FromWorker);
