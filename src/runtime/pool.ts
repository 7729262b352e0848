// Replica pool: `replicas` slots, each admitting one event at a time, served by worker threads that
// hold the shared compiled module. Threads are expensive (~20 ms to start), instances cheap (~20 µs),
// so threads are kept warm and every event still gets a fresh instance.
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { GuestErrorInfo } from '../core/errors.js';
import { GuestError } from '../core/errors.js';
import { instanceLimits, moduleMeta, type ExportCall, type Grants, type GuestRun, type Limits } from '../wasm/index.js';
import type { Abi, CommandJob, ExportJob, FromWorker, Job, JobDone, ToWorker, WorkerInit } from './protocol.js';
import { Board, createBoardMemory, monoMs, type OutputSoFar } from './board.js';
import { formatBytes } from '../wasm/result.js';
import type { ComponentImage } from '../wasm/component/index.js';
import { workerBoot } from './boot.js';
import type { ThreadBudget } from './budget.js';
import { DEMOTE_AFTER_MS, GUEST_THREAD_NICE, RUNAWAY_NICE, setThreadNice } from './priority.js';

export type { Abi, CommandJob, ExportJob, Job } from './protocol.js';

export interface JobMeta {
  /** Time the job ran on its thread (instantiate + run + collect), or until the watchdog fired. */
  durationUs: number;
  /** Time from submit() until the job started on a thread (slot wait, thread wait, earlier jobs of its batch). */
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
   * A thread is replaced (replacement started first) after running this many jobs; 0 = never.
   * Default: after it created max(100, floor(6000 / maxThreads)) Wasm memories instead, which is what
   * a thread's lagging GC keeps reserved (~10 GiB of address space each); jobs whose memory was
   * reused cost none (docs/decisions/010-replica-pool.md).
   */
  recycleAfterJobs?: number;
  /** The host-wide thread budget: a job runs only while this pool holds one of its slots (decision 122). */
  budget?: ThreadBudget;
  /** Shown in the budget's stats (the component's name). */
  name?: string;
  /** Jobs one message may carry to a thread (decision 231); 1 = one message per job. Default 32. */
  maxBatch?: number;
}

export interface PoolStats {
  replicas: number;
  /** Jobs holding a replica slot: running, or admitted and waiting for a free thread. */
  busy: number;
  /** Jobs executing on a thread right now (threads with a batch: each runs one job at a time). */
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
  /** monoMs() */
  submittedAt: number;
}

interface Running extends Pending {
  id: number;
  /** Its place in its batch: the thread runs them in this order. */
  index: number;
  postedAt: number;
  coldStart: boolean;
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
  /** Wasm memories the thread has created (its last done message says). */
  memories: number;
  /** The jobs posted to it and not yet settled, in the order it runs them (decision 231). */
  batch: Running[];
  /** Which of them runs since when, and its output so far (board.ts). */
  board: Board;
  /** The watchdog: fires at the earliest moment the running job could be past its deadline. */
  watchdog?: NodeJS.Timeout;
  /** OS thread id (Linux), to lower a runaway job's priority from here. */
  tid?: number;
  /** The job (id) that ran past DEMOTE_AFTER_MS: the thread is at RUNAWAY_NICE until it ends. */
  demoted: number;
  idleTimer?: NodeJS.Timeout;
  lastError?: Error;
  exited: Promise<void>;
}

const workerBootScript = workerBoot('worker');

const MAX_START_FAILURES = 3;
/** Live Wasm memories the pool lets its threads' garbage reach: ~60 TiB of the 128 TiB x86-64 user space. */
const ADDRESS_SPACE_BUDGET = 6000;
/**
 * Jobs one message may carry to a thread. A batch costs one round trip instead of one per job; it
 * is bounded so that one thread does not hoard what a thread freed a moment later could run.
 */
const DEFAULT_MAX_BATCH = 32;
/**
 * Guest time one batch should hold, judged from the jobs' recent run times: short jobs go many to a
 * message (one round trip for all of them), long ones are shared among the threads as before, so
 * that no job waits long behind another's batch while a thread is free a moment later.
 */
const BATCH_BUDGET_US = 1000;

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** The failed run of a killed job: its typed error, and what the guest wrote before (board.ts). */
function failure(abi: Abi, error: GuestErrorInfo, out: OutputSoFar | null): GuestRun | ExportCall {
  if (abi !== 'wasi-command') return { ok: false, error };
  if (!out) return { ok: false, error, stdout: new Uint8Array(0), stderr: new Uint8Array(0) };
  const wrote = [out.stdoutBytes > 0 ? `${formatBytes(out.stdoutBytes)} to stdout` : '', out.stderrBytes > 0 ? `${formatBytes(out.stderrBytes)} to stderr` : ''].filter(Boolean);
  const message = wrote.length > 0 ? `${error.message} (it had written ${wrote.join(' and ')})` : error.message;
  return { ok: false, error: { ...error, message }, stdout: out.stdout, stderr: out.stderr };
}

export function createPool(opts: PoolOptions): Pool {
  const maxThreads = opts.maxThreads ?? os.availableParallelism();
  const warmThreads = Math.min(opts.warmThreads ?? 1, maxThreads);
  const idleThreadMs = opts.idleThreadMs ?? 30_000;
  const recycleAfterJobs = opts.recycleAfterJobs;
  const recycleAfterMemories = Math.max(100, Math.floor(ADDRESS_SPACE_BUDGET / maxThreads));
  if (!Number.isInteger(maxThreads) || maxThreads < 1) throw new Error(`maxThreads must be an integer >= 1, got ${maxThreads}`);
  if (!Number.isInteger(warmThreads) || warmThreads < 0) throw new Error(`warmThreads must be an integer >= 0, got ${warmThreads}`);
  // A module whose tables (at their capped maximum) leave no room for its initial memory can never run.
  const budget = instanceLimits(moduleMeta(opts.module), opts.limits);
  if (budget.problem) throw new GuestError({ kind: 'memory-limit', message: budget.problem });
  const init: Omit<WorkerInit, 'board'> = { module: opts.module, abi: opts.abi, limits: opts.limits, ...(opts.grants ? { grants: opts.grants } : {}), ...(opts.component ? { component: opts.component } : {}) };
  const timeoutMs = opts.limits.timeoutMs;
  const maxBatch = opts.maxBatch ?? DEFAULT_MAX_BATCH;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new Error(`maxBatch must be an integer >= 1, got ${maxBatch}`);

  let replicas = 0;
  let closed = false;
  let nextId = 1;
  let startFailures = 0;
  let startError: Error | undefined;
  const waitingSlot: Pending[] = [];
  const waitingThread: Pending[] = [];
  const threads = new Set<Thread>();
  const counters = { completed: 0, coldStarts: 0, timeouts: 0, crashes: 0, threadStarts: 0 };
  /** Jobs posted to threads and not settled yet (in batches). */
  let inFlight = 0;
  /** Threads with a batch: the jobs executing right now, one per such thread. */
  let busyThreads = 0;
  /** Moving average of the jobs' run times on their threads, in µs (0 before the first). */
  let recentJobUs = 0;
  let drained: (() => void) | undefined;
  // Jobs running longer than DEMOTE_AFTER_MS drop to the lowest CPU priority, so short jobs (of this
  // component and the others) keep their latency beside a runaway (decision 122).
  let sweeper: NodeJS.Timeout | undefined;
  const sweep = () => {
    const t0 = now();
    for (const t of threads) {
      if (t.state !== 'busy' || t.tid === undefined || t.stopping) continue;
      const cur = t.board.current();
      if (t.demoted !== 0 && (cur.job !== t.demoted || !cur.running)) restorePriority(t);
      if (t.demoted === 0 && cur.running && t0 - cur.startedAt > DEMOTE_AFTER_MS && t.batch.some((r) => r.id === cur.job)) {
        if (setThreadNice(t.tid, RUNAWAY_NICE)) t.demoted = cur.job;
      }
    }
  };
  const member = opts.budget ? opts.budget.join(opts.name ?? 'pool', () => pump()) : null;
  const readyWaiters: Array<{ resolve(): void; reject(e: Error): void }> = [];

  const now = monoMs;
  // Threads that count towards the target: retiring ones are on their way out.
  const liveThreads = () => [...threads].filter((t) => !t.stopping && !t.retiring);
  const ready = (t: Thread) => !t.stopping && !t.retiring && t.state !== 'starting';
  /** A retiring thread may stop once another thread can take its place. */
  const replaced = (t: Thread) => [...threads].some((o) => o !== t && ready(o));
  const admitted = () => waitingThread.length + inFlight;
  /** Threads wanted now: max(warmThreads, replicas), capped by maxThreads. */
  const targetThreads = () => Math.min(maxThreads, Math.max(warmThreads, replicas));
  const idleThreads = () => [...threads].filter((t) => t.state === 'idle' && !t.stopping);
  /**
   * Jobs a free thread takes: an even share of the waiting ones among all the threads that run jobs,
   * busy ones included. A thread that frees up a moment later then still finds its share: one thread
   * running every job in turn while the others idle halves the CPU a loaded machine gives us. Short
   * jobs are the exception: up to BATCH_BUDGET_US of them go together (decision 231).
   */
  const batchSize = () => {
    let serving = 0;
    for (const t of threads) if (!t.stopping) serving++;
    const even = Math.ceil(waitingThread.length / Math.max(1, serving));
    // Measured on the threads, preemption included: on a loaded machine jobs look longer and the
    // batches fall back to the even share.
    const byTime = recentJobUs > 0 ? Math.floor(BATCH_BUDGET_US / recentJobUs) : 1;
    return Math.min(maxBatch, waitingThread.length, Math.max(even, byTime));
  };

  function spawn(): void {
    counters.threadStarts++;
    let resolveExit!: () => void;
    const exited = new Promise<void>((r) => (resolveExit = r));
    const board = createBoardMemory();
    const worker = new Worker(workerBootScript, { eval: true, workerData: { ...init, board } satisfies WorkerInit });
    const t: Thread = { worker, threadId: worker.threadId, state: 'starting', stopping: false, retiring: false, jobsRun: 0, memories: 0, batch: [], board: new Board(board), demoted: 0, exited };
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
    if (t.watchdog) clearTimeout(t.watchdog);
    t.watchdog = undefined;
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

  function admit(): void {
    while (!closed && waitingSlot.length > 0 && admitted() < replicas) waitingThread.push(waitingSlot.shift()!);
  }

  /**
   * submit() hands jobs to threads from a microtask: jobs submitted in one go (the callbacks of one
   * batch's results, each submitting its next event) leave as one batch instead of the first alone.
   */
  let pumpQueued = false;
  const pumpSoon = () => {
    if (pumpQueued) return;
    pumpQueued = true;
    queueMicrotask(() => {
      pumpQueued = false;
      pump();
    });
  };

  function pump(): void {
    admit();
    // Fresh threads first, retiring ones only when nothing else is free.
    const idle = idleThreads().sort((a, b) => Number(a.retiring) - Number(b.retiring));
    const share = batchSize();
    for (const t of idle) {
      if (waitingThread.length === 0) break;
      if (member && !member.acquire()) break; // the budget calls pump again when a slot is ours
      dispatch(t, waitingThread.splice(0, share), false);
    }
    for (const t of threads) if (t.retiring && t.state === 'idle' && !t.stopping && replaced(t)) stopThread(t);
    ensureThreads();
    if (waitingThread.length > 0) for (const t of threads) if (t.state === 'starting') t.worker.ref();
    if (member) member.want(Math.min(waitingThread.length, idleThreads().length));
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
      dispatch(t, waitingThread.splice(0, batchSize()), fromStart);
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

  /** Posts `ps` to `t` as one batch; the thread holds one budget slot for the whole batch. */
  function dispatch(t: Thread, ps: Pending[], coldStart: boolean): void {
    if (t.idleTimer) clearTimeout(t.idleTimer);
    t.idleTimer = undefined;
    t.state = 'busy';
    t.worker.ref();
    busyThreads++;
    const postedAt = now();
    const jobs: ToWorker['jobs'] = [];
    const transfer: ArrayBuffer[] = [];
    t.board.newBatch();
    for (const p of ps) {
      const id = nextId;
      nextId = nextId >= 0x7fffffff ? 1 : nextId + 1; // ids live in an Int32 slot of the board
      // Spelled out, not spread from p: the spread was this function's hottest line in the e2e profile.
      t.batch.push({ job: p.job, resolve: p.resolve, reject: p.reject, submittedAt: p.submittedAt, id, index: jobs.length, postedAt, coldStart });
      inFlight++;
      if (coldStart) counters.coldStarts++;
      let job = p.job;
      if (job.kind === 'command') {
        // A view into a larger buffer (e.g. Node's Buffer slab) would clone the whole buffer: copy
        // exactly the bytes once and move that copy. The caller keeps its own stdin intact.
        const stdin = job.stdin;
        if (stdin.byteOffset !== 0 || stdin.byteLength !== stdin.buffer.byteLength || !(stdin.buffer instanceof ArrayBuffer)) {
          // Not stdin.slice(): on a Node Buffer that is a view of the same slab, and transferring it
          // would detach memory the rest of the process still uses.
          const copy = new Uint8Array(stdin);
          job = { ...job, stdin: copy };
          transfer.push(copy.buffer);
        }
      }
      jobs.push({ id, job });
    }
    if (!sweeper) {
      sweeper = setInterval(sweep, DEMOTE_AFTER_MS / 2);
      sweeper.unref();
    }
    // No job of the batch can be past its deadline before a full timeout from now.
    arm(t, timeoutMs);
    t.worker.postMessage({ type: 'jobs', jobs } satisfies ToWorker, transfer);
  }

  function arm(t: Thread, ms: number): void {
    if (t.watchdog) clearTimeout(t.watchdog);
    t.watchdog = setTimeout(() => watch(t), Math.max(1, Math.ceil(ms)));
  }

  /** The watchdog: kills the thread only when the job it runs now is past its own deadline. */
  function watch(t: Thread): void {
    t.watchdog = undefined;
    if (t.stopping || t.batch.length === 0) return;
    const cur = t.board.current();
    if (!cur.running || !t.batch.some((r) => r.id === cur.job)) return arm(t, timeoutMs); // between jobs
    const left = cur.startedAt + timeoutMs - now();
    if (left > 0) return arm(t, left);
    onTimeout(t, cur.job, cur.startedAt);
  }

  /** The thread's batch is over (answered, or the thread is gone): its slot and priority go back. */
  function endBatch(t: Thread): void {
    if (t.watchdog) clearTimeout(t.watchdog);
    t.watchdog = undefined;
    busyThreads--;
    member?.release();
    if (busyThreads === 0 && sweeper) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
    if (t.demoted !== 0) restorePriority(t);
  }

  // Back to the guest priority for the next job; without the right to raise it, recycle the thread.
  function restorePriority(t: Thread): void {
    t.demoted = 0;
    if (!t.stopping && !setThreadNice(t.tid, GUEST_THREAD_NICE)) t.retiring = true;
  }

  function settle(p: Pending, result: GuestRun | ExportCall, meta: JobMeta): void {
    counters.completed++;
    // The result is this pool's own copy (from the board or a message): extended in place, not spread
    // into a new object, which cost ~10 µs per event in the e2e profile.
    p.resolve(Object.assign(result, meta) as JobResult);
  }

  function finish(t: Thread, r: Running, result: GuestRun | ExportCall, durationUs: number, startedAt: number): void {
    inFlight--;
    recentJobUs = recentJobUs === 0 ? durationUs : recentJobUs * 0.9 + durationUs * 0.1;
    // The wait ends when the job starts on its thread (after the jobs before it in its batch).
    settle(r, result, { durationUs, waitUs: Math.max(0, Math.round((startedAt - r.submittedAt) * 1000)), coldStart: r.coldStart, threadId: t.threadId });
    if (closed && inFlight === 0) drained?.();
  }

  /** Jobs of a dead thread that did not complete there go back to the front of the line, in order. */
  function requeue(rs: Running[]): void {
    inFlight -= rs.length;
    const back: Pending[] = rs.map((r) => ({ job: r.job, resolve: r.resolve, reject: r.reject, submittedAt: r.submittedAt }));
    if (closed) {
      const err = new Error('pool closed before the job started');
      for (const p of back) p.reject(err);
    } else waitingThread.unshift(...back);
    if (closed && inFlight === 0) drained?.();
  }

  /** Settles the batch's jobs among `results` (from the board or a message). */
  function take(t: Thread, results: JobDone[]): void {
    for (const done of results) {
      const i = t.batch.findIndex((r) => r.id === done.id);
      if (i < 0) continue;
      const [r] = t.batch.splice(i, 1);
      t.jobsRun++;
      finish(t, r!, done.result, done.durationUs, done.startedAt);
    }
  }

  function onDone(t: Thread, msg: Extract<FromWorker, { type: 'done' }>): void {
    t.memories = msg.memories;
    take(t, t.board.takeResults());
    take(t, msg.results);
    if (t.stopping || t.batch.length > 0 || t.state !== 'busy') return;
    endBatch(t);
    // Retire into a fresh isolate: whatever V8 kept (uncollected memories, code) goes with it. The
    // replacement starts now (ensureThreads counts this one out) and takes over once ready.
    const due = recycleAfterJobs !== undefined ? recycleAfterJobs > 0 && t.jobsRun >= recycleAfterJobs : t.memories >= recycleAfterMemories;
    if (due && !t.retiring && !closed) t.retiring = true;
    becomeIdle(t, false);
  }

  /**
   * Ends a batch whose thread is gone or being killed. Results already on the board settle their jobs;
   * `blameId`, if still unsettled, gets `error` and what it wrote; the jobs after it never started and
   * wait for another thread, without a failure. Jobs before it finished and their (large) results are
   * in a message still to be delivered (a worker's messages arrive before its exit): they stay in the
   * batch until it comes, or until the exit, when any still there are run again.
   */
  function abandon(t: Thread, blameId: number, error: GuestErrorInfo, startedAt: number): void {
    const at = t.batch.find((r) => r.id === blameId)?.index ?? -1;
    take(t, t.board.takeResults());
    const blame = t.batch.find((r) => r.id === blameId);
    const after = t.batch.filter((r) => r !== blame && r.index > at);
    t.batch = t.batch.filter((r) => r !== blame && r.index < at);
    if (t.state === 'busy') {
      t.state = 'idle';
      endBatch(t);
    }
    requeue(after);
    if (blame) finish(t, blame, failure(opts.abi, error, t.board.output(blame.id)), Math.round((now() - startedAt) * 1000), startedAt);
  }

  function onTimeout(t: Thread, job: number, startedAt: number): void {
    counters.timeouts++;
    stopThread(t);
    abandon(t, job, { kind: 'timeout', message: `guest ran past ${formatMs(timeoutMs)}` }, startedAt);
    pump();
  }

  function onExit(t: Thread, code: number): void {
    threads.delete(t);
    if (t.idleTimer) clearTimeout(t.idleTimer);
    if (t.watchdog) clearTimeout(t.watchdog);
    if (!t.stopping) {
      const why = t.lastError ? `: ${t.lastError.message}` : '';
      if (t.state === 'starting') {
        startFailures++;
        startError = t.lastError ?? new Error(`exit code ${code}`);
      }
      if (t.batch.length > 0) {
        counters.crashes++;
        // The job started last is the one the thread died in; if none of the batch had started, the first.
        const cur = t.board.current();
        const blame = t.batch.find((r) => r.id === cur.job) ?? t.batch[0]!;
        const oom = (t.lastError as NodeJS.ErrnoException | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
        const error: GuestErrorInfo = { kind: oom ? 'memory-limit' : 'trap', message: `worker thread died while running the guest (exit code ${code})${why}` };
        abandon(t, blame.id, error, cur.job === blame.id ? cur.startedAt : blame.postedAt);
      }
    }
    // Every message of the thread has been delivered by now: jobs still waiting for one run again.
    if (t.batch.length > 0) requeue(t.batch.splice(0));
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
      admit();
      pumpSoon();
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
      // Jobs submitted just before, with a free thread, start now as they would have a microtask later.
      if (pumpQueued) pump();
      closed = true;
      for (const w of readyWaiters.splice(0)) w.resolve();
      const err = new Error('pool closed before the job started');
      for (const p of [...waitingSlot.splice(0), ...waitingThread.splice(0)]) p.reject(err);
      if (inFlight > 0) await new Promise<void>((r) => (drained = r));
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
        running: busyThreads,
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
