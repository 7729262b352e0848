// Replica pool: `replicas` slots, each admitting one event at a time, served by worker threads that
// hold the shared compiled module. Threads are expensive (~20 ms to start), instances cheap (~20 µs),
// so threads are kept warm and every event still gets a fresh instance.
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { GuestErrorInfo } from '../core/errors.js';
import { GuestError } from '../core/errors.js';
import { instanceLimits, moduleMeta, type ExportCall, type Grants, type GuestRun, type Limits } from './guest.js';
import type { Abi, CommandJob, ExportJob, FromWorker, Job, ToWorker, WorkerInit } from './protocol.js';
import type { ComponentImage } from '../wasm/component/index.js';
import { workerBoot } from './boot.js';
import type { ThreadBudget } from './budget.js';
import { DEMOTE_AFTER_MS, GUEST_THREAD_NICE, RUNAWAY_NICE, setThreadNice } from './priority.js';

export type { Abi, CommandJob, ExportJob, Job } from './protocol.js';

export interface JobMeta {
  /** Time the job ran on its thread (instantiate + run + collect), or until the watchdog fired. */
  durationUs: number;
  /** Time from submit() until the job was handed to a thread (slot wait + thread wait). */
  waitUs: number;
  /** The job had to wait for a worker thread to start. */
  coldStart: boolean;
  threadId: number;
}
export type CommandResult = GuestRun & JobMeta;
export type ExportResult = ExportCall & JobMeta;
export type JobResult = CommandResult | ExportResult;

export interface PoolOptions {
  module: WebAssembly.Module;
  abi: Abi;
  limits: Limits;
  grants?: Grants;
  /** abi 'wasi-command' jobs run this WASI 0.2 component (wasi:cli/run) instead of `module` (its main core module). */
  component?: ComponentImage;
  /** Upper bound on worker threads, so on jobs running at once. Default os.availableParallelism(). */
  maxThreads?: number;
  /** Threads kept started even at 0 replicas, so 0 -> 1 never waits for a thread start. Default 1. */
  warmThreads?: number;
  /** An idle thread above the target count stops after this long. Default 30 s. */
  idleThreadMs?: number;
  /**
   * A thread is replaced (replacement started first) after running this many jobs; 0 = never. Bounds
   * the Wasm memories a thread's lagging GC keeps reserved (~10 GiB of address space each); see
   * docs/decisions/010-replica-pool.md. Default max(100, floor(6000 / maxThreads)).
   */
  recycleAfterJobs?: number;
  /** The host-wide thread budget: a job runs only while this pool holds one of its slots (decision 122). */
  budget?: ThreadBudget;
  /** Shown in the budget's stats (the component's name). */
  name?: string;
}

export interface PoolStats {
  replicas: number;
  /** Jobs holding a replica slot: running, or admitted and waiting for a free thread. */
  busy: number;
  /** Jobs executing on a thread right now. */
  running: number;
  /** Jobs waiting for a replica slot. */
  queued: number;
  /** Live threads (starting, idle or busy). */
  threads: number;
  idleThreads: number;
  completed: number;
  coldStarts: number;
  timeouts: number;
  crashes: number;
  /** Threads started over the pool's life, replacements and recycling included. */
  threadStarts: number;
}

/** Test hook: the live worker threads of a pool (to kill one from outside and watch the pool recover). */
export const poolWorkers = Symbol('featherweight.pool.workers');

export interface Pool {
  [poolWorkers]?(): Worker[];
  setReplicas(n: number): void;
  readonly replicas: number;
  submit(job: CommandJob): Promise<CommandResult>;
  submit(job: ExportJob): Promise<ExportResult>;
  submit(job: Job): Promise<JobResult>;
  stats(): PoolStats;
  /** Resolves once the warm threads (and those started for the current replicas) are ready to run. */
  ready(): Promise<void>;
  /** Stops admitting, rejects jobs that have not started, lets running ones finish, stops all threads. */
  close(): Promise<void>;
}

interface Pending {
  job: Job;
  resolve(r: JobResult): void;
  reject(e: Error): void;
  submittedAt: number;
}

interface Running extends Pending {
  id: number;
  postedAt: number;
  coldStart: boolean;
  timer: NodeJS.Timeout;
}

interface Thread {
  worker: Worker;
  threadId: number;
  state: 'starting' | 'idle' | 'busy';
  /** Set when the pool ends the thread itself: its exit is expected. */
  stopping: boolean;
  /** Ran its share of jobs: serves on only until a replacement is ready. */
  retiring: boolean;
  jobsRun: number;
  current?: Running;
  /** OS thread id (Linux), to lower a runaway job's priority from here. */
  tid?: number;
  /** Its current job ran past DEMOTE_AFTER_MS: the thread is at RUNAWAY_NICE until the job ends. */
  demoted: boolean;
  idleTimer?: NodeJS.Timeout;
  lastError?: Error;
  exited: Promise<void>;
}

const workerBootScript = workerBoot('worker');

const MAX_START_FAILURES = 3;
/** Live Wasm memories the pool lets its threads' garbage reach: ~60 TiB of the 128 TiB x86-64 user space. */
const ADDRESS_SPACE_BUDGET = 6000;

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function failure(abi: Abi, error: GuestErrorInfo): GuestRun | ExportCall {
  return abi === 'wasi-command' ? { ok: false, error, stdout: new Uint8Array(0), stderr: new Uint8Array(0) } : { ok: false, error };
}

export function createPool(opts: PoolOptions): Pool {
  const maxThreads = opts.maxThreads ?? os.availableParallelism();
  const warmThreads = Math.min(opts.warmThreads ?? 1, maxThreads);
  const idleThreadMs = opts.idleThreadMs ?? 30_000;
  const recycleAfter = opts.recycleAfterJobs ?? Math.max(100, Math.floor(ADDRESS_SPACE_BUDGET / maxThreads));
  if (!Number.isInteger(maxThreads) || maxThreads < 1) throw new Error(`maxThreads must be an integer >= 1, got ${maxThreads}`);
  if (!Number.isInteger(warmThreads) || warmThreads < 0) throw new Error(`warmThreads must be an integer >= 0, got ${warmThreads}`);
  // A module whose tables (at their capped maximum) leave no room for its initial memory can never run.
  const budget = instanceLimits(moduleMeta(opts.module), opts.limits);
  if (budget.problem) throw new GuestError({ kind: 'memory-limit', message: budget.problem });
  const init: WorkerInit = { module: opts.module, abi: opts.abi, limits: opts.limits, ...(opts.grants ? { grants: opts.grants } : {}), ...(opts.component ? { component: opts.component } : {}) };
  const timeoutMs = opts.limits.timeoutMs;

  let replicas = 0;
  let closed = false;
  let nextId = 1;
  let startFailures = 0;
  let startError: Error | undefined;
  const waitingSlot: Pending[] = [];
  const waitingThread: Pending[] = [];
  const threads = new Set<Thread>();
  const counters = { completed: 0, coldStarts: 0, timeouts: 0, crashes: 0, threadStarts: 0 };
  let running = 0;
  let drained: (() => void) | undefined;
  // Jobs running longer than DEMOTE_AFTER_MS drop to the lowest CPU priority, so short jobs (of this
  // component and the others) keep their latency beside a runaway (decision 122).
  let sweeper: NodeJS.Timeout | undefined;
  const sweep = () => {
    const t0 = now();
    for (const t of threads) {
      if (t.state === 'busy' && t.current && !t.demoted && t.tid !== undefined && t0 - t.current.postedAt > DEMOTE_AFTER_MS) {
        t.demoted = setThreadNice(t.tid, RUNAWAY_NICE);
      }
    }
  };
  const member = opts.budget ? opts.budget.join(opts.name ?? 'pool', () => pump()) : null;
  const readyWaiters: Array<{ resolve(): void; reject(e: Error): void }> = [];

  const now = () => performance.now();
  // Threads that count towards the target: retiring ones are on their way out.
  const liveThreads = () => [...threads].filter((t) => !t.stopping && !t.retiring);
  const ready = (t: Thread) => !t.stopping && !t.retiring && t.state !== 'starting';
  /** A retiring thread may stop once another thread can take its place. */
  const replaced = (t: Thread) => [...threads].some((o) => o !== t && ready(o));
  const admitted = () => waitingThread.length + running;
  /** Threads wanted now: max(warmThreads, replicas), capped by maxThreads. */
  const targetThreads = () => Math.min(maxThreads, Math.max(warmThreads, replicas));

  function spawn(): void {
    counters.threadStarts++;
    let resolveExit!: () => void;
    const exited = new Promise<void>((r) => (resolveExit = r));
    const worker = new Worker(workerBootScript, { eval: true, workerData: init });
    const t: Thread = { worker, threadId: worker.threadId, state: 'starting', stopping: false, retiring: false, jobsRun: 0, demoted: false, exited };
    threads.add(t);
    if (waitingThread.length === 0) worker.unref();
    worker.on('message', (msg: FromWorker) => {
      if (msg.type === 'ready') {
        if (msg.tid !== undefined) t.tid = msg.tid;
        startFailures = 0;
        startError = undefined;
        becomeIdle(t, true);
      } else onDone(t, msg);
    });
    worker.on('error', (err) => (t.lastError = err));
    worker.on('exit', (code) => {
      resolveExit();
      onExit(t, code);
    });
  }

  function stopThread(t: Thread): void {
    t.stopping = true;
    if (t.idleTimer) clearTimeout(t.idleTimer);
    void t.worker.terminate();
  }

  /** Keeps the thread count at max(warmThreads, replicas) capped by maxThreads; extras stop when idle a while. */
  function ensureThreads(): void {
    if (closed) return;
    const target = targetThreads();
    const live = liveThreads();
    if (startFailures < MAX_START_FAILURES) for (let n = live.length; n < target; n++) spawn();
    let extra = live.length - target;
    for (const t of live) {
      if (extra <= 0) break;
      if (t.state === 'idle' && !t.idleTimer) {
        extra--;
        t.idleTimer = setTimeout(() => {
          t.idleTimer = undefined;
          if (t.state === 'idle' && !t.stopping && liveThreads().length > targetThreads()) stopThread(t);
        }, idleThreadMs);
        t.idleTimer.unref();
      }
    }
  }

  function pump(): void {
    while (!closed && waitingSlot.length > 0 && admitted() < replicas) waitingThread.push(waitingSlot.shift()!);
    // Fresh threads first, retiring ones only when nothing else is free.
    const idle = [...threads].filter((t) => t.state === 'idle' && !t.stopping).sort((a, b) => Number(a.retiring) - Number(b.retiring));
    for (const t of idle) {
      if (waitingThread.length === 0) break;
      if (member && !member.acquire()) break; // the budget calls pump again when a slot is ours
      dispatch(t, waitingThread.shift()!, false);
    }
    for (const t of threads) if (t.retiring && t.state === 'idle' && !t.stopping && replaced(t)) stopThread(t);
    ensureThreads();
    if (waitingThread.length > 0) for (const t of threads) if (t.state === 'starting') t.worker.ref();
    if (member) {
      const idleNow = [...threads].filter((t) => t.state === 'idle' && !t.stopping).length;
      member.want(Math.min(waitingThread.length, idleNow));
    }
    if (startFailures >= MAX_START_FAILURES && liveThreads().length === 0) {
      const err = new Error(`worker threads fail to start: ${startError?.message ?? 'unknown error'}`);
      for (const p of waitingThread.splice(0)) p.reject(err);
      for (const w of readyWaiters.splice(0)) w.reject(err);
    }
  }

  function becomeIdle(t: Thread, fromStart: boolean): void {
    if (t.stopping) return;
    const idleReplacement = [...threads].some((o) => ready(o) && o.state === 'idle');
    if (t.retiring && replaced(t) && (waitingThread.length === 0 || idleReplacement)) {
      stopThread(t);
      pump();
      return;
    }
    if (waitingThread.length > 0 && (!member || member.acquire())) {
      dispatch(t, waitingThread.shift()!, fromStart);
      return;
    }
    t.state = 'idle';
    t.worker.unref();
    pump();
    if (readyWaiters.length > 0 && allStarted()) for (const w of readyWaiters.splice(0)) w.resolve();
  }

  function allStarted(): boolean {
    const live = liveThreads();
    return closed || (live.length >= targetThreads() && live.every((t) => t.state !== 'starting'));
  }

  function dispatch(t: Thread, p: Pending, coldStart: boolean): void {
    if (t.idleTimer) clearTimeout(t.idleTimer);
    t.idleTimer = undefined;
    t.state = 'busy';
    t.worker.ref();
    const id = nextId++;
    const timer = setTimeout(() => onTimeout(t), timeoutMs);
    t.current = { ...p, id, postedAt: now(), coldStart, timer };
    running++;
    if (!sweeper) {
      sweeper = setInterval(sweep, DEMOTE_AFTER_MS / 2);
      sweeper.unref();
    }
    if (coldStart) counters.coldStarts++;
    const msg: ToWorker = { type: 'job', id, job: p.job };
    const transfer: ArrayBuffer[] = [];
    if (p.job.kind === 'command') {
      // A view into a larger buffer (e.g. Node's Buffer slab) would clone the whole buffer: copy
      // exactly the bytes once and move that copy. The caller keeps its own stdin intact.
      const stdin = p.job.stdin;
      if (stdin.byteOffset !== 0 || stdin.byteLength !== stdin.buffer.byteLength || !(stdin.buffer instanceof ArrayBuffer)) {
        // Not stdin.slice(): on a Node Buffer that is a view of the same slab, and transferring it
        // would detach memory the rest of the process still uses.
        const copy = new Uint8Array(stdin);
        msg.job = { ...p.job, stdin: copy };
        transfer.push(copy.buffer);
      }
    }
    t.worker.postMessage(msg, transfer);
  }

  function finish(t: Thread, r: Running, result: GuestRun | ExportCall, durationUs: number): void {
    clearTimeout(r.timer);
    member?.release();
    t.current = undefined;
    running--;
    counters.completed++;
    if (running === 0 && sweeper) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
    // Back to the guest priority for the next job; without the right to raise it, recycle the thread.
    if (t.demoted) {
      t.demoted = false;
      if (!t.stopping && !setThreadNice(t.tid, GUEST_THREAD_NICE)) t.retiring = true;
    }
    r.resolve({ ...result, durationUs, waitUs: Math.round((r.postedAt - r.submittedAt) * 1000), coldStart: r.coldStart, threadId: t.threadId } as JobResult);
    if (closed && running === 0) drained?.();
  }

  function onDone(t: Thread, msg: Extract<FromWorker, { type: 'done' }>): void {
    const r = t.current;
    if (!r || r.id !== msg.id) return; // a late answer from a job the watchdog already settled
    finish(t, r, msg.result, msg.durationUs);
    t.jobsRun++;
    // Retire into a fresh isolate: whatever V8 kept (uncollected memories, code) goes with it. The
    // replacement starts now (ensureThreads counts this one out) and takes over once ready.
    if (recycleAfter > 0 && t.jobsRun >= recycleAfter && !t.retiring && !closed) t.retiring = true;
    becomeIdle(t, false);
  }

  function onTimeout(t: Thread): void {
    const r = t.current;
    if (!r) return;
    counters.timeouts++;
    stopThread(t);
    const error: GuestErrorInfo = { kind: 'timeout', message: `guest ran past ${formatMs(timeoutMs)}` };
    finish(t, r, failure(opts.abi, error), Math.round((now() - r.postedAt) * 1000));
    pump();
  }

  function onExit(t: Thread, code: number): void {
    threads.delete(t);
    if (t.idleTimer) clearTimeout(t.idleTimer);
    const r = t.current;
    if (!t.stopping) {
      const why = t.lastError ? `: ${t.lastError.message}` : '';
      if (t.state === 'starting') {
        startFailures++;
        startError = t.lastError ?? new Error(`exit code ${code}`);
      }
      if (r) {
        counters.crashes++;
        const oom = (t.lastError as NodeJS.ErrnoException | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
        const error: GuestErrorInfo = { kind: oom ? 'memory-limit' : 'trap', message: `worker thread died while running the guest (exit code ${code})${why}` };
        finish(t, r, failure(opts.abi, error), Math.round((now() - r.postedAt) * 1000));
      }
    }
    pump();
  }

  function submit(job: Job): Promise<JobResult> {
    if (closed) return Promise.reject(new Error('pool is closed: job not accepted'));
    const want = opts.abi === 'wasi-command' ? 'command' : 'export';
    if (job.kind !== want) return Promise.reject(new Error(`this pool runs the ${opts.abi} ABI: submit jobs of kind '${want}', not '${job.kind}'`));
    if (startFailures >= MAX_START_FAILURES && liveThreads().length === 0) {
      startFailures = MAX_START_FAILURES - 1; // try once more: the cause may have been transient
    }
    return new Promise<JobResult>((resolve, reject) => {
      waitingSlot.push({ job, resolve, reject, submittedAt: now() });
      pump();
    });
  }

  function setReplicas(n: number): void {
    if (closed) throw new Error('pool is closed');
    if (!Number.isInteger(n) || n < 0) throw new Error(`replicas must be an integer >= 0, got ${n}`);
    replicas = n;
    pump();
  }

  async function close(): Promise<void> {
    if (!closed) {
      closed = true;
      for (const w of readyWaiters.splice(0)) w.resolve();
      const err = new Error('pool closed before the job started');
      for (const p of [...waitingSlot.splice(0), ...waitingThread.splice(0)]) p.reject(err);
      if (running > 0) await new Promise<void>((r) => (drained = r));
    }
    member?.leave();
    const all = [...threads];
    for (const t of all) if (!t.stopping) stopThread(t);
    await Promise.all(all.map((t) => t.exited));
  }

  ensureThreads();

  return {
    setReplicas,
    get replicas() {
      return replicas;
    },
    submit: submit as Pool['submit'],
    stats: () => {
      const live = [...threads].filter((t) => !t.stopping);
      return {
        replicas,
        busy: admitted(),
        running,
        queued: waitingSlot.length,
        threads: live.length,
        idleThreads: live.filter((t) => t.state === 'idle').length,
        ...counters,
      };
    },
    close,
    ready: () => (allStarted() ? Promise.resolve() : new Promise<void>((resolve, reject) => readyWaiters.push({ resolve, reject }))),
    [poolWorkers]: () => [...threads].filter((t) => !t.stopping).map((t) => t.worker),
  };
}
