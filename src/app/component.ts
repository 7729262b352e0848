import type { Logger } from 'pino';
import type { Source } from '../core/source.js';
import type { Sink } from '../core/sink.js';
import { createHash } from 'node:crypto';
import { createPool, type Job, type JobResult, type Pool, type PoolStats } from '../runtime/pool.js';
import type { ThreadBudget } from '../runtime/budget.js';
import { createScaleLoop, describeDecision, type ScaleLoop, type ScalerState, type ScalingSpec } from '../scaling/index.js';
import { sources } from '../sources/index.js';
import { sinks } from '../sinks/index.js';
import type { DeadLetters } from '../sources/dead-letters.js';
import { startDispatcher, writeAhead, type Dispatcher, type Outcome } from './dispatcher.js';
import type { ComponentSpec } from './manifest.js';
import { resolveScaling } from './scaling.js';
import { guestFromBytes, moduleBytes } from './module.js';
import { commandProblem } from '../wasm/wasi-command.js';
import { readMetricsFor } from './metric-readers.js';
import { createCounters, type ComponentCounters, type LatencySummary } from './stats.js';
import { defaultMaxRecords } from '../wasm/limits.js';
import { forgetCompiled } from '../wasm/compile.js';

export interface ComponentState {
  name: string;
  trigger: string;
  sink: string;
  lag: number;
  inFlight: number;
  replicas: { desired: number; current: number; busy: number; threads: number };
  counters: ComponentCounters;
  latencyMs: LatencySummary;
  scaler: ScalerState;
}

export interface RunningComponent {
  spec: ComponentSpec;
  source: Source;
  sink: Sink;
  pool: Pool;
  /** The resolved ScaledObject spec (triggers[0] is the component's own trigger). */
  scaling: ScalingSpec;
  scaler: ScaleLoop;
  /** Latest lag report, refreshed on every scaler read. */
  state(): ComponentState;
  /** Subscribe to new-lag notices (for the KEDA external scaler's StreamIsActive). */
  onLag(cb: () => void): () => void;
  /**
   * Replaces the component's module (`up --watch`) without dropping an event: the new module is
   * compiled and checked and its threads started first, then events not yet handed to a guest run
   * on it, while those already submitted finish on the old module, whose pool closes once they have.
   * `bytes` defaults to reading the manifest's module again. Throws, with the old module still
   * serving, when the bytes are not a module this component can run.
   */
  swapModule(bytes?: Uint8Array): Promise<ModuleSwap>;
  close(): Promise<void>;
}

export interface ModuleSwap {
  /** false when the bytes are those already running (nothing was done). */
  swapped: boolean;
  /** sha256 of the module's bytes, hex. */
  digest: string;
  /** Resolves when the old module's last event has settled and its pool is closed. */
  drained: Promise<void>;
}

export interface ComponentContext {
  dataDir: string;
  log: Logger;
  deadLetters: DeadLetters;
  /** Called after every event settles (metrics). */
  onOutcome(component: string, outcome: Outcome): void;
  /** The app's thread budget, shared by every component's pool (decision 122). */
  budget?: ThreadBudget;
  /** How long close() keeps handling what an accepting source (smtp) holds; default defaultDrainMs. */
  drainMs?: number;
}

/**
 * close() of a component whose source accepts events itself (smtp) first refuses new ones (421) and
 * handles or forwards what its queue holds for up to this long (decision 161), so that a pod scaled
 * in leaves no accepted mail behind. kube render sizes terminationGracePeriodSeconds from it.
 */
export const defaultDrainMs = 30_000;

/** Keys that name where a trigger or sink connects, in the order a message shows them. */
const addressKeys = ['servers', 'url', 'address', 'host', 'port', 'connectionString', 'listen'];

/**
 * A start failure says which component, which part and which address: a broker that is down gives
 * "connection refused" (NATS) or "connect ECONNREFUSED 127.0.0.1:5672", which alone does not say
 * whose connection or how to fix it. Credentials in URLs are masked.
 */
async function named<T>(component: string, part: string, config: Record<string, unknown>, starting: Promise<T>): Promise<T> {
  try {
    return await starting;
  } catch (err) {
    const where = addressKeys
      .filter((k) => typeof config[k] === 'string' || typeof config[k] === 'number')
      .map((k) => `${k} ${String(config[k]).replace(/\/\/[^@/]*@/g, '//***@')}`);
    const at = where.length ? ` (${where.join(', ')})` : ' (its default address)';
    throw new Error(`component ${component}: ${part} could not start${at}: ${(err as Error).message}`, { cause: err });
  }
}

/** Starts one component: module, pool, sink, source, dispatcher and its scale loop. */
export async function startComponent(spec: ComponentSpec, ctx: ComponentContext): Promise<RunningComponent> {
  const log = ctx.log.child({ component: spec.name });
  const scaling = resolveScaling(spec);
  // No module: a forwarder (decision 160). Its replicas are slots for concurrent publishes, no threads.
  // `checked`: refuse a module that cannot run as a command here rather than per event, where it
  // would dead-letter every event as invalid-module (a swapped-in module; at start the events show it).
  const guestPool = (bytes: Uint8Array, checked: boolean): Pool => {
    const guest = guestFromBytes(bytes, spec.module!, spec.abi, spec.limits);
    const problem = checked && !guest.component ? commandProblem(guest.module) : null;
    if (problem) throw new Error(`module ${problem}`);
    // The record limit is the app's, with its default: the guest is stopped at it as it writes.
    const limits = { ...spec.limits, maxRecords: spec.limits.maxRecords ?? defaultMaxRecords };
    return createPool({ ...guest, abi: 'wasi-command', limits, grants: spec.grants, name: spec.name, ...(ctx.budget ? { budget: ctx.budget } : {}) });
  };
  let moduleDigest = '';
  let pool: Pool | SwappablePool;
  if (spec.module === undefined) pool = forwardSlots();
  else {
    const bytes = await moduleBytes(spec.module, ctx.dataDir);
    moduleDigest = sha256(bytes);
    pool = swappable(guestPool(bytes, false));
  }
  let swapping: Promise<unknown> = Promise.resolve();
  let closing = false;
  const source = sources[spec.trigger.type]!.create(spec.trigger.metadata, {
    component: spec.name,
    dataDir: ctx.dataDir,
    // every replica's running event plus the ones settling behind it (the dispatcher's writeAhead)
    prefetch: scaling.maxReplicaCount * (1 + writeAhead),
    ...(spec.module !== undefined ? { maxEventBytes: spec.limits.maxStdinBytes } : {}),
  });
  const sinkEntry = sinks[spec.sink.type]!;
  const sink = sinkEntry.create(sinkEntry.config.parse(spec.sink), { dataDir: ctx.dataDir, component: spec.name });
  const forward = spec.module === undefined ? sink.forward?.bind(sink) : undefined;
  if (spec.module === undefined && !forward) throw new Error(`component ${spec.name}: has no module, and its ${spec.sink.type} sink cannot forward events (use a publish sink)`);
  const counters = createCounters();
  const lagListeners = new Set<() => void>();
  let lastLag = { lag: 0, inFlight: 0 };
  let dispatcher: Dispatcher | undefined;

  const scaler = createScaleLoop({
    spec: scaling,
    ...(spec.hpaSyncMs !== undefined ? { hpaSyncMs: spec.hpaSyncMs } : {}),
    clock: { now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) },
    // every change of the count, at info: `mail-lines: 0 → 1 (ScalerActive: smtp 12 > activation 0)`
    onDecision: (d) => log.info({ from: d.from, to: d.to, reason: d.reason }, describeDecision(spec.name, d)),
    readMetrics: readMetricsFor(scaling, async () => {
      lastLag = await source.lag();
      return lastLag.lag;
    }),
    target: {
      setReplicas(n) {
        pool.setReplicas(n);
        counters.replicasSet(n);
        dispatcher?.wake();
      },
      currentReplicas: () => pool.replicas,
    },
  });

  // The warm thread is up before the first event can arrive, so 0 -> 1 never waits for a thread.
  await Promise.all([named(spec.name, `its ${spec.sink.type} sink`, spec.sink, sink.start()), pool.ready()]);
  await named(spec.name, `its ${spec.trigger.type} trigger`, spec.trigger.metadata, source.start({
    notify() {
      scaler.notify();
      for (const cb of lagListeners) cb();
    },
    log,
  }));
  dispatcher = startDispatcher({
    spec,
    source,
    sink,
    pool,
    deadLetters: ctx.deadLetters,
    log,
    ...(forward ? { forward } : {}),
    onOutcome(o) {
      counters.record(o);
      ctx.onOutcome(spec.name, o);
    },
  });
  scaler.start();
  log.info({ trigger: spec.trigger.type, sink: spec.sink.type, maxReplicas: scaling.maxReplicaCount }, 'component started');

  // Refuse new events, then keep the dispatcher and the scaler running until the queue is empty.
  const drainQueue = async (stopAccepting: () => Promise<void>) => {
    await stopAccepting();
    const deadline = Date.now() + (ctx.drainMs ?? defaultDrainMs);
    let lag = (await source.lag().catch(() => lastLag)).lag;
    if (lag > 0) log.info({ lag }, 'draining: new events are refused, handling what the queue holds');
    scaler.notify();
    while (lag > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      lag = (await source.lag().catch(() => lastLag)).lag;
    }
    if (lag > 0) log.warn({ lag }, 'drain timed out: these events stay in the queue for the next start on this volume');
    else log.info('drained: the queue is empty');
  };

  return {
    spec,
    source,
    sink,
    pool,
    scaling,
    scaler,
    state() {
      const s = pool.stats();
      const scalerState = scaler.state();
      return {
        name: spec.name,
        trigger: spec.trigger.type,
        sink: spec.sink.type,
        lag: lastLag.lag,
        inFlight: dispatcher?.inFlight() ?? 0,
        replicas: { desired: scalerState.desired, current: s.replicas, busy: forward ? (dispatcher?.inFlight() ?? 0) : s.busy, threads: s.threads },
        counters: { ...counters.counters },
        latencyMs: counters.latency.summary(),
        scaler: scalerState,
      };
    },
    onLag(cb) {
      lagListeners.add(cb);
      return () => lagListeners.delete(cb);
    },
    swapModule(given) {
      // One swap at a time, in the order asked: two quick rebuilds end with the later module serving.
      const run = swapping.then(async (): Promise<ModuleSwap> => {
        if (spec.module === undefined || !('swap' in pool)) throw new Error(`component ${spec.name} has no module to swap (it forwards events)`);
        if (closing) throw new Error(`component ${spec.name} is stopping`);
        const bytes = given ?? (await moduleBytes(spec.module, ctx.dataDir));
        const digest = sha256(bytes);
        if (digest === moduleDigest) return { swapped: false, digest, drained: Promise.resolve() };
        const next = guestPool(bytes, true);
        try {
          await next.ready();
        } catch (err) {
          await next.close().catch(() => {});
          throw err;
        }
        if (closing) {
          await next.close();
          throw new Error(`component ${spec.name} is stopping`);
        }
        const replaced = moduleDigest;
        const drained = (pool as SwappablePool)
          .swap(next)
          .catch((err: Error) => log.warn({ err: err.message }, 'the old module\'s pool did not close cleanly'))
          .finally(() => forgetCompiled(replaced));
        moduleDigest = digest;
        log.info({ digest: digest.slice(0, 12) }, 'module swapped: new events run the new module, events in flight finish on the old one');
        return { swapped: true, digest, drained };
      });
      swapping = run.catch(() => {});
      return run;
    },
    async close() {
      closing = true;
      await swapping;
      if (source.stopAccepting) await drainQueue(source.stopAccepting.bind(source));
      // Drain: stop taking events, let in-flight ones finish (bounded by their deadline), then stop.
      // Jobs still waiting for a slot are refused by pool.close() and nacked for redelivery.
      scaler.stop();
      await Promise.all([dispatcher?.stop(), pool.close()]);
      await source.close();
      await sink.close();
      log.info('component stopped');
    },
  };
}

/**
 * The pool of a forwarder: replica slots bound the publishes in flight (the dispatcher admits one
 * event per slot), with no Wasm and no threads, so the scaler and the dashboard see it like any pool.
 */
function forwardSlots(): Pool {
  let replicas = 0;
  let closed = false;
  return {
    setReplicas(n: number) {
      if (!closed) replicas = Math.max(0, Math.floor(n));
    },
    get replicas() {
      return replicas;
    },
    submit: (() => Promise.reject(new Error('a forwarding component runs no guest'))) as Pool['submit'],
    stats: () => ({ replicas, busy: 0, running: 0, queued: 0, threads: 0, idleThreads: 0, completed: 0, coldStarts: 0, timeouts: 0, crashes: 0, threadStarts: 0 }),
    ready: () => Promise.resolve(),
    async close() {
      closed = true;
      replicas = 0;
    },
  };
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

interface SwappablePool extends Pool {
  /** Sends every later job to `next`; resolves once the jobs the old pool holds have settled and it is closed. */
  swap(next: Pool): Promise<void>;
}

const cumulative = ['completed', 'coldStarts', 'timeouts', 'crashes', 'threadStarts'] as const;
const current = ['busy', 'running', 'queued', 'threads', 'idleThreads'] as const;

/**
 * A pool whose module can be replaced while events run. The dispatcher holds this one object; each
 * job goes to the pool that is current when it is submitted, so a job never moves between modules
 * (it runs once, on the module it was given to). A pool being retired keeps the replica count until
 * its last job settles, so the jobs it holds still get slots, then closes. Its counters are kept, so
 * the dashboard's totals do not drop at a swap.
 */
function swappable(first: Pool): SwappablePool {
  let active = first;
  const retiring = new Set<Pool>();
  // Retiring pools whose jobs have all settled and that are closing now: a replica count that the
  // scaler sets meanwhile (a push read that was in flight) must not reach them, a closed pool throws.
  const closing = new Set<Pool>();
  const jobs = new Map<Pool, Set<Promise<unknown>>>([[first, new Set()]]);
  const retired: Record<(typeof cumulative)[number], number> = { completed: 0, coldStarts: 0, timeouts: 0, crashes: 0, threadStarts: 0 };

  const submit = (job: Job): Promise<JobResult> => {
    const target = active;
    const run = target.submit(job);
    const held = jobs.get(target)!;
    held.add(run);
    const forget = () => held.delete(run);
    run.then(forget, forget);
    return run;
  };

  return {
    setReplicas(n) {
      active.setReplicas(n);
      for (const p of retiring) if (!closing.has(p)) p.setReplicas(Math.max(n, p.replicas));
    },
    get replicas() {
      return active.replicas;
    },
    submit: submit as Pool['submit'],
    stats(): PoolStats {
      const s = { ...active.stats() };
      for (const k of cumulative) s[k] += retired[k];
      for (const p of retiring) {
        const r = p.stats();
        for (const k of [...current, ...cumulative]) s[k] += r[k];
      }
      return s;
    },
    ready: () => active.ready(),
    async swap(next) {
      const old = active;
      next.setReplicas(old.replicas);
      jobs.set(next, new Set());
      active = next;
      retiring.add(old);
      await Promise.allSettled([...jobs.get(old)!]);
      closing.add(old);
      await old.close();
      const last = old.stats();
      for (const k of cumulative) retired[k] += last[k];
      retiring.delete(old);
      closing.delete(old);
      jobs.delete(old);
    },
    async close() {
      await Promise.all([active.close(), ...[...retiring].map((p) => p.close())]);
    },
  };
}
