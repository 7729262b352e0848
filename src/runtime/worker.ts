// Worker thread of the replica pool: holds the shared compiled module and runs the jobs it is sent, one
// at a time, each on a fresh instance. The pool enforces each job's wall-clock deadline by terminating
// this thread; the board tells it which job runs since when, and what the guest wrote so far.
import { parentPort, workerData } from 'node:worker_threads';
import { callExport, instanceLimits, moduleMeta, prepareWasiCommand, runWasiCommand, type PreparedCommand } from '../wasm/index.js';
import type { FromWorker, JobDone, ToWorker, WorkerInit } from './protocol.js';
import { lowerThreadPriority } from './priority.js';
import { Board, monoMs } from './board.js';
import { runComponentCommand } from '../wasm/component/index.js';
import { memoriesCreated } from '../wasm/instance.js';

const tid = lowerThreadPriority();

const init = workerData as WorkerInit;
const port = parentPort!;
// Tables count against the memory budget: the memory may grow only to what they leave (decision 120).
// createPool refuses a module whose tables do not fit, so `problem` is null here.
const limits = instanceLimits(moduleMeta(init.module), init.limits).limits;
const board = new Board(init.board);
const onOutput = (stream: 'stdout' | 'stderr', bytes: Uint8Array) => board.write(stream, bytes);

/**
 * The pool is told of results at most this long after they are ready, so a batch of short jobs answers
 * in one message. The results themselves are on the board as soon as each job ends, so a job that hangs
 * later in the batch costs none of them when the watchdog kills this thread (decision 231).
 */
const FLUSH_MS = 1;

/**
 * The next event's instance, made while this thread would otherwise wait: after each batch and at
 * start. Instantiation on a thread that has just woken costs several times what it does on a busy
 * one, and the first event after a scale from zero should not pay it. Each instance still serves
 * one event; a module that runs code at instantiation (a start section) is never made ahead.
 */
let prepared: PreparedCommand | null = null;
function prepareNext(): void {
  if (prepared || init.component || init.abi !== 'wasi-command') return;
  try {
    prepared = prepareWasiCommand(init.module, limits, init.grants, onOutput);
  } catch {
    prepared = null; // say, a granted directory is gone: the event's own run reports it
  }
}

function transferables(results: JobDone[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const { result } of results) {
    if (!('stdout' in result)) continue;
    for (const b of [result.stdout, result.stderr]) {
      // Zero-copy hand-back: this thread never looks at the bytes again.
      if (b.buffer instanceof ArrayBuffer && b.buffer.byteLength > 0 && !out.includes(b.buffer)) out.push(b.buffer);
    }
  }
  return out;
}

port.on('message', (msg: ToWorker) => {
  board.newBatch();
  let told = monoMs();
  const n = msg.jobs.length;
  for (let i = 0; i < n; i++) {
    const { id, job } = msg.jobs[i]!;
    board.begin(id);
    const startedAt = monoMs();
    const result =
      job.kind === 'command' && init.component
        ? runComponentCommand(init.component, { stdin: job.stdin, env: job.env, args: job.args }, limits, init.grants, onOutput)
        : job.kind === 'command'
        ? command({ stdin: job.stdin, env: job.env, args: job.args })
        : callExport(init.module, job.name, job.args, limits);
    const end = monoMs();
    const done: JobDone = { id, result, durationUs: Math.round((end - startedAt) * 1000), startedAt };
    const last = i === n - 1;
    if (!board.putResult(done)) {
      // Too large for the board: by message, before the next job can start (and hang).
      board.end();
      port.postMessage({ type: 'done', results: [done], last, memories: memoriesCreated() } satisfies FromWorker, transferables([done]));
      told = end;
      continue;
    }
    board.end();
    if (last || end - told >= FLUSH_MS) {
      port.postMessage({ type: 'done', results: [], last, memories: memoriesCreated() } satisfies FromWorker);
      told = end;
    }
  }
  prepareNext();
});

function command(input: { stdin: Uint8Array; env: Record<string, string>; args: string[] }) {
  const p = prepared;
  prepared = null;
  return p ? p.run(input) : runWasiCommand(init.module, input, limits, init.grants, undefined, onOutput);
}

prepareNext();
port.postMessage({ type: 'ready', ...(tid !== undefined ? { tid } : {}) } satisfies FromWorker);
