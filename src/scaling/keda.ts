/**
 * KEDA's half of scaling as pure functions (pkg/scaling/scale_handler.go, executor/scale_scaledobjects.go,
 * pkg/fallback/fallback.go): trigger activity, the 0<->1 (idle<->min) decision with cooldown, and the
 * fallback metric. Times are milliseconds; spec durations are seconds.
 */
import type { FallbackSpec, MetricType, ScalingSpec, TriggerSpec } from './spec.js';
import { compileFormula, type CompiledFormula } from './formula.js';
import { cronSample, triggerTarget } from './triggers.js';
import { toMilli } from './hpa.js';

/** What readMetrics() reports per trigger name: a value, an Error, or nothing (not read). */
export type MetricValues = Record<string, number | Error | undefined>;

export interface TriggerStatus {
  name: string;
  type: string;
  /** Last value read (null when the read failed). */
  value: number | null;
  target: number;
  activationTarget: number;
  metricType: MetricType;
  active: boolean;
  error?: string;
  /**
   * Set once failures exceed fallback.failureThreshold: 'replicas' when KEDA substitutes the fallback
   * metric (the trigger then counts as active, without error), 'nil' for fallback behavior
   * scalingModifiers (the formula sees nil; the trigger is neither active nor in error).
   */
  fallback?: 'replicas' | 'nil';
  /** The metric as KEDA hands it to the HPA, in milli-units, when KEDA built it (fallback). */
  valueMilli?: number;
}

export interface Activity {
  triggers: TriggerStatus[];
  /** Any trigger active (or, with scalingModifiers, composite > activationTarget). */
  active: boolean;
  /** Some trigger failed. */
  error: boolean;
  /** The scalingModifiers composite value (null when it could not be computed). */
  composite?: number | null;
  /** Some trigger is in fallback (KEDA's Fallback condition). */
  fallback: boolean;
}

const formulas = new WeakMap<ScalingSpec, CompiledFormula>();
/** The compiled scalingModifiers formula of a spec (cached per spec object). */
export function formulaOf(spec: ScalingSpec): CompiledFormula | undefined {
  if (!spec.scalingModifiers) return undefined;
  let f = formulas.get(spec);
  if (!f) {
    f = compileFormula(spec.scalingModifiers.formula);
    formulas.set(spec, f);
  }
  return f;
}

/** KEDA sends NaN, Inf and negative values to the HPA as 0. */
export function sanitize(v: number): number {
  return Number.isFinite(v) && v > 0 ? v : 0;
}

/** One trigger's status from its reading (cron reads the clock, as KEDA's cron scaler does). */
export function triggerStatus(trigger: TriggerSpec, reading: number | Error | undefined, now: number, asMetricSource = false): TriggerStatus {
  const t = triggerTarget(trigger, { asMetricSource });
  const base = { name: trigger.name, type: trigger.type, target: t.target, activationTarget: t.activationTarget, metricType: t.metricType };
  if (trigger.type === 'cron' && reading === undefined) {
    const s = cronSample(trigger, now);
    return { ...base, value: s.value, active: s.active };
  }
  if (reading === undefined) return { ...base, value: null, active: false, error: 'no value reported' };
  if (reading instanceof Error) return { ...base, value: null, active: false, error: reading.message };
  const value = sanitize(reading);
  // Strict: one message with activation 0 activates; a value equal to the threshold does not.
  const active = trigger.type === 'cron' ? value > 0 : value > t.activationTarget;
  return { ...base, value, active };
}

/** The statuses of one read of every trigger (metric sources under scalingModifiers). */
export function triggerStatuses(spec: ScalingSpec, values: MetricValues, now: number): TriggerStatus[] {
  return spec.triggers.map((t) => triggerStatus(t, values[t.name], now, !!spec.scalingModifiers));
}

/** Activity across triggers, as KEDA's scale loop computes it on each poll (no fallback counting). */
export function evaluateActivity(spec: ScalingSpec, values: MetricValues, now: number): Activity {
  return activityOf(spec, triggerStatuses(spec, values, now));
}

/**
 * getScaledObjectState over statuses (fallback already applied): active when any trigger is active;
 * with scalingModifiers the composite decides, and only when no trigger is in error.
 */
export function activityOf(spec: ScalingSpec, triggers: TriggerStatus[]): Activity {
  const error = triggers.some((t) => t.error !== undefined);
  const fallback = triggers.some((t) => t.fallback === 'replicas');
  const sm = spec.scalingModifiers;
  if (sm && formulaOf(spec)) {
    const composite = error ? null : compositeMetric(spec, triggers);
    return { triggers, active: composite !== null && composite.value > sm.activationTarget, error, composite: composite?.value ?? null, fallback };
  }
  return { triggers, active: triggers.some((t) => t.active && t.error === undefined), error, fallback };
}

/**
 * The composite metric KEDA computes for the HPA (HandleScalingModifiers): the first fallback
 * metric when a trigger is in fallback; else the formula over the values (nil for 'nil' fallbacks),
 * stored as int64(result*1000) milli-units; a nil result becomes fallback.replicas x target. Null
 * when a trigger failed without fallback or the formula fails.
 */
export function compositeMetric(spec: ScalingSpec, triggers: TriggerStatus[]): { value: number; valueMilli: number } | null {
  const sm = spec.scalingModifiers;
  const formula = formulaOf(spec);
  if (!sm || !formula) return null;
  const fb = triggers.find((t) => t.fallback === 'replicas');
  if (fb) return { value: fb.value!, valueMilli: fb.valueMilli! };
  const env: Record<string, number | null> = {};
  for (const t of triggers) {
    if (t.error !== undefined) return null;
    env[t.name] = t.fallback === 'nil' ? null : t.value;
  }
  let out: number | null;
  try {
    out = formula.evaluate(env);
  } catch {
    return null;
  }
  if (out === null) {
    if (!spec.fallback) return null;
    out = spec.fallback.replicas * sm.target;
  }
  const valueMilli = toMilli(sanitize(out));
  return { value: valueMilli / 1000, valueMilli };
}

/**
 * KEDA's fallback for one read of every trigger (fallback.GetMetricsWithFallback, run on every poll
 * and every HPA read since 2.20): a good read resets the trigger's failure count, a failed one adds
 * one; once the count exceeds failureThreshold the trigger gets the fallback metric
 * int64(target x 1000 x replicas) milli-units (divided by the ready replicas for Value, failing
 * when none is ready) and counts as active, or nil for behavior scalingModifiers. `failures` is
 * updated in place (unless `count` is false: a look that is not a poll); without fallback nothing
 * is counted.
 */
export function applyFallback(spec: ScalingSpec, statuses: TriggerStatus[], failures: Map<string, number>, currentReplicas: number, readyReplicas: number, count = true): TriggerStatus[] {
  const fb = spec.fallback;
  if (!fb) return statuses;
  const sm = spec.scalingModifiers;
  return statuses.map((s) => {
    if (s.error === undefined) {
      if (count) failures.set(s.name, 0);
      return s;
    }
    const n = (failures.get(s.name) ?? 0) + (count ? 1 : 0);
    if (count) failures.set(s.name, n);
    if (n <= fb.failureThreshold) return s;
    const { error: _error, ...rest } = s;
    if (fb.behavior === 'scalingModifiers') return { ...rest, value: null, active: false, fallback: 'nil' as const };
    const metricType = sm ? sm.metricType : s.metricType;
    const target = sm ? sm.target : s.target;
    let replicas = fallbackReplicas(fb, currentReplicas);
    if (metricType === 'Value') {
      if (readyReplicas === 0) return { ...s, error: `${s.error}; fallback needs a ready replica for a Value metric, none is ready` };
      replicas /= readyReplicas;
    }
    const valueMilli = Math.trunc(target * 1000 * replicas);
    return { ...rest, value: valueMilli / 1000, valueMilli, active: true, fallback: 'replicas' as const };
  });
}

export interface KedaState {
  /** When the ScaledObject was created (initialCooldownPeriod counts from here). */
  createdAt: number;
  lastActiveTime: number | null;
}

export interface KedaDecision {
  /** The replica count to set, or null for no change. */
  replicas: number | null;
  lastActiveTime: number | null;
  /** Short reason (KEDA's condition reasons where one exists). */
  reason: string;
}

/**
 * RequestScale: what KEDA does with one poll's activity. Never jumps to N (the HPA does 1->N), goes
 * straight from N to 0 (or idle) once lastActiveTime + cooldownPeriod has passed, and never scales
 * down because of errors. Annotations: force-activation counts as active, paused-scale-out keeps
 * it from activating, paused-scale-in from deactivating.
 */
export function kedaDecide(spec: ScalingSpec, state: KedaState, input: { now: number; currentReplicas: number; active: boolean; error: boolean }): KedaDecision {
  const { now, currentReplicas: current, error } = input;
  const min = spec.minReplicaCount;
  const idle = spec.idleReplicaCount;
  const keep = (reason: string): KedaDecision => ({ replicas: null, lastActiveTime: state.lastActiveTime, reason });
  if (spec.paused) {
    const to = spec.pausedReplicas;
    return { replicas: to !== undefined && to !== current ? to : null, lastActiveTime: state.lastActiveTime, reason: 'ScaledObjectPaused' };
  }
  if (input.active || spec.forceActivation) {
    const why = !input.active ? 'forced by annotation' : 'activated';
    if ((idle !== undefined && current < min) || current === 0) {
      if (spec.pausedScaleOut) return keep('ScalerActive: paused-scale-out');
      return { replicas: min > 0 ? min : 1, lastActiveTime: now, reason: `ScalerActive: ${why}` };
    }
    if (error) return keep('PartialTriggerError');
    return { replicas: null, lastActiveTime: now, reason: input.active ? 'ScalerActive' : 'ScalerActive: forced by annotation' };
  }
  if (error && spec.fallback && spec.fallback.replicas !== 0) {
    // Going to 0 would switch the HPA off and it could not apply the fallback.
    return keep('TriggerError: waiting for fallback');
  }
  if (error && !spec.fallback) return keep('TriggerError: no scale-down on errors');
  if ((idle !== undefined && current > idle) || (current > 0 && min === 0)) {
    if (spec.pausedScaleIn) return keep('ScalerNotActive: paused-scale-in');
    const cooledDown =
      state.lastActiveTime === null
        ? state.createdAt + spec.initialCooldownPeriod * 1000 < now
        : state.lastActiveTime + spec.cooldownPeriod * 1000 < now;
    if (cooledDown) return { replicas: idle ?? min, lastActiveTime: state.lastActiveTime, reason: idle !== undefined ? 'ScalerNotActive: to idleReplicaCount' : 'ScalerNotActive: to zero' };
    return keep(state.lastActiveTime === null ? 'ScalerCooldown: initialCooldownPeriod' : 'ScalerCooldown');
  }
  if (idle === undefined && current < min) return { replicas: min, lastActiveTime: state.lastActiveTime, reason: 'ScalerNotActive: to minReplicaCount' };
  return keep('ScalerNotActive');
}

/** The replica count fallback aims at, per fallback.behavior. */
export function fallbackReplicas(fallback: FallbackSpec, currentReplicas: number): number {
  switch (fallback.behavior) {
    case 'currentReplicas':
      return currentReplicas;
    case 'currentReplicasIfHigher':
      return Math.max(currentReplicas, fallback.replicas);
    case 'currentReplicasIfLower':
      return Math.min(currentReplicas, fallback.replicas);
    default:
      return fallback.replicas;
  }
}

/**
 * The synthetic metric KEDA reports once failures exceed failureThreshold, so that the HPA lands on
 * the fallback count: AverageValue target x replicas; Value target x replicas / ready replicas.
 */
export function fallbackMetricValue(fallback: FallbackSpec, target: number, metricType: MetricType, currentReplicas: number, readyReplicas: number): number {
  let replicas = fallbackReplicas(fallback, currentReplicas);
  if (metricType === 'Value') replicas /= Math.max(readyReplicas, 1);
  return Math.trunc(target * 1000 * replicas) / 1000;
}

/** Fallback starts when consecutive failures exceed the threshold (strictly). */
export function inFallback(fallback: FallbackSpec | undefined, failures: number): boolean {
  return !!fallback && failures > fallback.failureThreshold;
}
