/**
 * The loop that drives a replica target the way KEDA + the HPA drive a Deployment: KEDA's poll every
 * pollingInterval (0<->1, idle<->min, cooldown), the HPA's sync every hpaSyncMs (1<->N), plus push:
 * notify() while at zero activates at once. The clock and the target are passed in, so the same
 * loop runs in-process (real clock) and in `featherweight simulate` (virtual clock).
 *
 * Scale-in safety: the loop only sets a count; the pool drains busy replicas before stopping them,
 * and sources count in-flight events in their lag, so a busy replica is never scaled away under it.
 */
import { hpaBehavior, type ScalingSpec } from './spec.js';
import {
  activityOf,
  applyFallback,
  compositeMetric,
  fallbackReplicas,
  kedaDecide,
  triggerStatuses,
  type Activity,
  type KedaState,
  type MetricValues,
  type TriggerStatus,
} from './keda.js';
import { hpaSync, newHpaState, recordInitialRecommendation, type HpaMetric, type HpaState } from './hpa.js';

/** Kubernetes' --horizontal-pod-autoscaler-sync-period; `simulate` uses it. */
export const KUBERNETES_HPA_SYNC_MS = 15_000;
/**
 * Above zero, a push re-reads the metrics at most this often: it only refreshes lastActiveTime
 * there, which matters at cooldownPeriod's scale (seconds), while sources push on every event.
 */
export const PUSH_REFRESH_MS = 200;
/** In-process default: replicas start in microseconds, so the HPA step need not wait 15 s. */
export const DEFAULT_HPA_SYNC_MS = 1_000;

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ReplicaTarget {
  setReplicas(n: number): void;
  currentReplicas(): number;
  /** Ready replicas (the HPA's Value metrics multiply by these); defaults to currentReplicas(). */
  readyReplicas?(): number;
}

export interface Decision {
  at: number;
  from: number;
  to: number;
  reason: string;
}

export interface ScalerState {
  /** The count the scaler last asked for. */
  desired: number;
  /** The target's current count. */
  current: number;
  active: boolean;
  /** Some trigger is in fallback (KEDA's Fallback condition). */
  fallback: boolean;
  lastActiveTime: number | null;
  paused: boolean;
  triggers: Array<{ name: string; type: string; value: number | null; target: number; activationTarget: number; active: boolean; error?: string; fallback?: 'replicas' | 'nil' }>;
  /** The scalingModifiers composite value, when a formula is set. */
  composite?: number | null;
  lastDecision: Decision | null;
  /** The latest decisions that changed the count, newest first (a sampler may miss quick ones). */
  recentDecisions: Decision[];
}

/** One poll, sync or push, as `simulate` prints it. */
export interface Tick {
  kind: 'poll' | 'sync' | 'push';
  at: number;
  triggers: TriggerStatus[];
  active: boolean;
  /** The metric-based recommendation (HPA raw recommendation; for polls and pushes KEDA's target). */
  desired: number;
  /** Replicas after the decision. */
  replicas: number;
  reason: string;
}

/** Outcome of one step of the scaler: the count to set (null: leave it) and why. */
export interface Step {
  replicas: number | null;
  tick: Tick;
}

/**
 * KEDA + HPA state for one ScaledObject with the decision functions wired together, without timers
 * or I/O: poll() is one KEDA scale-loop tick, sync() one HPA sync, push() one external-push `true`.
 * Fallback is applied on both (KEDA 2.20, #7244): failed polls and failed HPA reads count toward
 * failureThreshold, and a trigger in fallback counts as active, so a target at 0 activates and
 * lastActiveTime follows it.
 */
export function createScaler(spec: ScalingSpec, createdAt: number) {
  const keda: KedaState = { createdAt, lastActiveTime: null };
  const behavior = hpaBehavior(spec);
  let hpa: HpaState = newHpaState();
  let hpaSeen = false;
  const failures = new Map<string, number>();
  let cached: MetricValues = {};
  let polled: TriggerStatus[] | null = null;
  let lastTriggers: TriggerStatus[] = triggerStatuses(spec, {}, createdAt);
  let active = false;
  let fallback = false;
  let composite: number | null | undefined;

  /** KEDA's decision on one activity (a poll's or a push's), recorded in the scaler's state. */
  function kedaStep(kind: 'poll' | 'push', now: number, act: Activity, current: number): Step {
    lastTriggers = act.triggers;
    active = act.active;
    fallback = act.fallback;
    composite = act.composite;
    const d = kedaDecide(spec, keda, { now, currentReplicas: current, active: act.active, error: act.error });
    keda.lastActiveTime = d.lastActiveTime;
    const replicas = d.replicas !== null && d.replicas !== current ? d.replicas : null;
    const detail = d.reason === 'ScalerActive: activated' ? `ScalerActive: ${whyActive(spec, act)}` : d.reason;
    const reason = `keda: ${detail}${act.fallback ? ' (fallback)' : ''}`;
    return { replicas, tick: { kind, at: now, triggers: act.triggers, active: act.active, desired: replicas ?? current, replicas: replicas ?? current, reason } };
  }

  function poll(now: number, values: MetricValues, current: number, ready = current): Step {
    cached = { ...values };
    const statuses = applyFallback(spec, triggerStatuses(spec, values, now), failures, current, ready);
    polled = statuses;
    return kedaStep('poll', now, activityOf(spec, statuses), current);
  }

  /** External push: only `true` counts (KEDA ignores pushed `false`); activates at once from zero. */
  function push(now: number, values: MetricValues, current: number): Step | null {
    const act = activityOf(spec, triggerStatuses(spec, { ...cached, ...values }, now));
    if (!act.active || spec.paused) return null;
    return kedaStep('push', now, { ...act, fallback }, current);
  }

  function sync(now: number, values: MetricValues, current: number, ready: number): Step {
    if (!hpaSeen && !spec.paused) {
      // recordInitialRecommendation: the first reconcile of a new HPA records the current count.
      hpa = recordInitialRecommendation(hpa, current, now);
      hpaSeen = true;
    }
    if (spec.paused || current === 0) {
      // KEDA deletes the HPA while paused; at zero the HPA is idle (ScalingDisabled). Nothing is read.
      const reason = spec.paused ? 'hpa: ScaledObjectPaused' : 'hpa: ScalingDisabled';
      return { replicas: null, tick: { kind: 'sync', at: now, triggers: lastTriggers, active, desired: current, replicas: current, reason } };
    }
    // useCachedMetrics: the HPA read is answered from the last poll's record (fallback included).
    const fresh = spec.triggers.some((t) => !t.useCachedMetrics || !polled);
    const read = fresh ? applyFallback(spec, triggerStatuses(spec, values, now), failures, current, ready) : [];
    const statuses = spec.triggers.map((t, i) => (t.useCachedMetrics && polled ? polled[i]! : read[i]!));
    const metrics = hpaMetrics(statuses);
    const r = hpaSync({ minReplicas: Math.max(spec.minReplicaCount, 1), maxReplicas: spec.maxReplicaCount, behavior }, hpa, {
      now,
      currentReplicas: current,
      readyReplicas: ready,
      metrics: metrics.list,
    });
    hpa = r.state;
    const replicas = r.replicas !== current ? r.replicas : null;
    const reason = `hpa: ${r.reason}${metrics.fallback ? ' (fallback)' : ''}`;
    return { replicas, tick: { kind: 'sync', at: now, triggers: statuses, active, desired: r.recommendation ?? current, replicas: r.replicas, reason } };
  }

  /**
   * The external metrics the HPA reads (GetScaledObjectMetrics): one per trigger, or the composite
   * alone under scalingModifiers (which fails when a trigger failed and none is in fallback).
   */
  function hpaMetrics(statuses: TriggerStatus[]): { list: HpaMetric[]; fallback: boolean } {
    const usedFallback = statuses.some((s) => s.fallback !== undefined);
    const sm = spec.scalingModifiers;
    if (sm) {
      const c = compositeMetric(spec, statuses);
      const list: HpaMetric[] = [{ name: 'composite-metric', value: c?.value ?? null, target: sm.target, metricType: sm.metricType, ...(c ? { valueMilli: c.valueMilli } : {}) }];
      return { list, fallback: usedFallback };
    }
    const list = statuses.map((s): HpaMetric => ({
      name: s.name,
      value: s.error !== undefined ? null : s.value,
      target: s.target,
      metricType: s.metricType,
      ...(s.valueMilli !== undefined ? { valueMilli: s.valueMilli } : {}),
    }));
    return { list, fallback: usedFallback };
  }

  /** The activity a poll would see now, without recording it or counting failures. */
  function peek(now: number, values: MetricValues, current: number, ready = current): Activity {
    return activityOf(spec, applyFallback(spec, triggerStatuses(spec, values, now), failures, current, ready, false));
  }

  return {
    poll,
    push,
    sync,
    peek,
    get active() {
      return active;
    },
    /** Some trigger is in fallback (as of the last poll). */
    get fallback() {
      return fallback;
    },
    get lastActiveTime() {
      return keda.lastActiveTime;
    },
    get triggers() {
      return lastTriggers;
    },
    get composite() {
      return composite;
    },
    failures: (name: string) => failures.get(name) ?? 0,
    fallbackReplicas: (current: number) => (spec.fallback ? fallbackReplicas(spec.fallback, current) : undefined),
  };
}

export type Scaler = ReturnType<typeof createScaler>;

const num = (v: number | null | undefined) => (v === null || v === undefined ? 'nil' : String(Math.round(v * 1000) / 1000));

/** Which triggers made KEDA activate, e.g. `smtp 12 > activation 0` or `composite 5 > activation 2`. */
export function whyActive(spec: ScalingSpec, act: Activity): string {
  const sm = spec.scalingModifiers;
  if (sm) return `composite ${num(act.composite)} > activation ${num(sm.activationTarget)}`;
  const parts = act.triggers
    .filter((t) => t.active && t.error === undefined)
    .map((t) => (t.fallback ? `${t.name} in fallback` : t.type === 'cron' ? `${t.name} in its window` : `${t.name} ${num(t.value)} > activation ${num(t.activationTarget)}`));
  return parts.join('; ') || 'activated';
}

/** A decision as one log line: `mail-lines: 0 → 1 (ScalerActive: smtp 12 > activation 0)`. */
export function describeDecision(component: string, d: Decision): string {
  return `${component}: ${d.from} → ${d.to} (${d.reason.replace(/^(keda|hpa): /, '')})`;
}

export interface ScaleLoopOptions {
  spec: ScalingSpec;
  clock: Clock;
  /** Current metric per trigger name (an Error for a failed read). */
  readMetrics(): Promise<Record<string, number | Error>>;
  target: ReplicaTarget;
  /** HPA sync period; default DEFAULT_HPA_SYNC_MS (1 s) in-process; Kubernetes uses 15 s. */
  hpaSyncMs?: number;
  /** Called after every poll, sync and push (simulate prints these; the server may log them). */
  onTick?(tick: Tick): void;
  /** Called for every decision that changes the count (`up` logs these). */
  onDecision?(decision: Decision): void;
}

export interface ScaleLoop {
  start(): void;
  stop(): void;
  /**
   * Push: a source saw new lag. At zero replicas the metrics are read and the target activated at
   * once; pass `values` (trigger name -> value) to decide synchronously without a read.
   */
  notify(values?: Record<string, number>): void;
  state(): ScalerState;
  /**
   * Reads the metrics now and returns the activity KEDA's poll would compute from them (every
   * trigger, scalingModifiers, fallback), without changing the loop's state.
   */
  activity(): Promise<Activity>;
  /** Resolves when the poll/sync/push in progress (if any) has been applied. */
  settled(): Promise<void>;
}

export function createScaleLoop(opts: ScaleLoopOptions): ScaleLoop {
  const { spec, clock, target } = opts;
  const hpaSyncMs = opts.hpaSyncMs ?? DEFAULT_HPA_SYNC_MS;
  const scaler = createScaler(spec, clock.now());
  let running = false;
  let pollTimer: unknown;
  let syncTimer: unknown;
  let chain: Promise<void> = Promise.resolve();
  let desired = target.currentReplicas();
  let lastDecision: Decision | null = null;
  const recentDecisions: Decision[] = [];
  let pushInFlight = false;
  let lastPushRead = -Infinity;

  const ready = () => target.readyReplicas?.() ?? target.currentReplicas();

  async function read(): Promise<MetricValues> {
    try {
      return await opts.readMetrics();
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      return Object.fromEntries(spec.triggers.map((t) => [t.name, e]));
    }
  }

  function apply(step: Step): void {
    const from = target.currentReplicas();
    if (step.replicas !== null && step.replicas !== from) {
      desired = step.replicas;
      target.setReplicas(step.replicas);
      const hpaWants = step.tick.kind === 'sync' && step.tick.desired !== step.replicas ? `, recommendation ${step.tick.desired}` : '';
      lastDecision = { at: step.tick.at, from, to: step.replicas, reason: `${step.tick.reason}${hpaWants}` };
      recentDecisions.unshift(lastDecision);
      if (recentDecisions.length > 50) recentDecisions.pop();
      opts.onDecision?.(lastDecision);
    } else {
      desired = step.tick.replicas;
    }
    opts.onTick?.(step.tick);
  }

  function enqueue(work: () => Promise<void>): void {
    chain = chain.then(work).catch((err: unknown) => {
      lastDecision = { at: clock.now(), from: target.currentReplicas(), to: target.currentReplicas(), reason: `error: ${err instanceof Error ? err.message : String(err)}` };
    });
  }

  function schedulePoll(): void {
    if (!running) return;
    pollTimer = clock.setTimeout(() => enqueue(pollOnce), spec.pollingInterval * 1000);
  }

  async function pollOnce(): Promise<void> {
    if (!running) return;
    const values = await read();
    if (!running) return;
    apply(scaler.poll(clock.now(), values, target.currentReplicas(), ready()));
    schedulePoll();
  }

  function scheduleSync(): void {
    if (!running) return;
    syncTimer = clock.setTimeout(() => enqueue(syncOnce), hpaSyncMs);
  }

  async function syncOnce(): Promise<void> {
    if (!running) return;
    scheduleSync(); // fixed period, like the HPA controller's resync
    const current = target.currentReplicas();
    if (current === 0 || spec.paused) {
      // The HPA is idle at zero (ScalingDisabled) and deleted while paused: no metric read.
      apply(scaler.sync(clock.now(), {}, current, 0));
      return;
    }
    const values = await read();
    if (!running) return;
    apply(scaler.sync(clock.now(), values, target.currentReplicas(), ready()));
  }

  function pushWith(values: MetricValues): void {
    if (!running) return;
    const step = scaler.push(clock.now(), values, target.currentReplicas());
    if (step) apply(step);
  }

  return {
    start() {
      if (running) return;
      running = true;
      enqueue(pollOnce); // KEDA's first check happens right away
      scheduleSync();
    },
    stop() {
      running = false;
      if (pollTimer !== undefined) clock.clearTimeout(pollTimer);
      if (syncTimer !== undefined) clock.clearTimeout(syncTimer);
    },
    notify(values) {
      if (!running || spec.paused) return;
      if (values) {
        pushWith(values); // synchronous: the first replica is set before notify() returns
        return;
      }
      // At zero this activates as soon as the read returns; above zero the HPA owns the count and a
      // push only refreshes lastActiveTime (as KEDA's external-push does), so there one read per
      // PUSH_REFRESH_MS is enough: a busy source notifies on every publish and lease, and each read
      // is a metrics query (decision 232). One read at a time.
      if (pushInFlight) return;
      const now = clock.now();
      if (target.currentReplicas() > 0 && now - lastPushRead < PUSH_REFRESH_MS) return;
      pushInFlight = true;
      lastPushRead = now;
      void read().then((v) => {
        pushInFlight = false;
        pushWith(v);
      });
    },
    state(): ScalerState {
      return {
        desired,
        current: target.currentReplicas(),
        active: scaler.active,
        fallback: scaler.fallback,
        lastActiveTime: scaler.lastActiveTime,
        paused: spec.paused,
        triggers: scaler.triggers.map((t) => ({
          name: t.name,
          type: t.type,
          value: t.value,
          target: t.target,
          activationTarget: t.activationTarget,
          active: t.active,
          ...(t.error !== undefined ? { error: t.error } : {}),
          ...(t.fallback !== undefined ? { fallback: t.fallback } : {}),
        })),
        ...(spec.scalingModifiers ? { composite: scaler.composite ?? null } : {}),
        lastDecision,
        recentDecisions: recentDecisions.slice(),
      };
    },
    async activity() {
      const values = await read();
      return scaler.peek(clock.now(), values, target.currentReplicas(), ready());
    },
    async settled() {
      let seen: Promise<void> | undefined;
      while (seen !== chain) {
        seen = chain;
        await chain;
      }
    },
  };
}
