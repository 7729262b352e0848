/**
 * KEDA's half of scaling as pure functions (pkg/scaling/scale_handler.go, executor/scale_scaledobjects.go,
 * pkg/fallback/fallback.go): trigger activity, the 0<->1 (idle<->min) decision with cooldown, and the
 * fallback metric. Times are milliseconds; spec durations are seconds.
 */
import type { FallbackSpec, MetricType, ScalingSpec, TriggerSpec } from './spec.js';
import { compileFormula, type CompiledFormula } from './formula.js';
import { cronSample, triggerTarget } from './triggers.js';

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
}

export interface Activity {
  triggers: TriggerStatus[];
  /** Any trigger active (or, with scalingModifiers, composite > activationTarget). */
  active: boolean;
  /** Some trigger failed. */
  error: boolean;
  /** The scalingModifiers composite value (null when it could not be computed). */
  composite?: number | null;
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
export function triggerStatus(trigger: TriggerSpec, reading: number | Error | undefined, now: number): TriggerStatus {
  const t = triggerTarget(trigger);
  const base = { name: trigger.name, type: trigger.type, target: t.target, activationTarget: t.activationTarget, metricType: t.metricType };
  if (trigger.type === 'cron' && reading === undefined) {
    const s = cronSample(trigger, now);
    return { ...base, value: s.value, active: s.active };
  }
  if (reading === undefined) return { ...base, value: null, active: false, error: 'no value reported' };
  if (reading instanceof Error) return { ...base, value: null, active: false, error: reading.message };
  const value = sanitize(reading);
  // Strict: one message with activation 0 activates; a value equal to the threshold does not.
  const active = trigger.type === 'cron' ? value > 1 : value > t.activationTarget;
  return { ...base, value, active };
}

/** Activity across triggers, as KEDA's scale loop computes it on each poll. */
export function evaluateActivity(spec: ScalingSpec, values: MetricValues, now: number): Activity {
  const triggers = spec.triggers.map((t) => triggerStatus(t, values[t.name], now));
  const error = triggers.some((t) => t.error !== undefined);
  const formula = formulaOf(spec);
  if (formula && spec.scalingModifiers) {
    const composite = compositeValue(spec, triggers, formula, null);
    return { triggers, active: composite !== null && composite > spec.scalingModifiers.activationTarget, error, composite };
  }
  return { triggers, active: triggers.some((t) => t.active), error };
}

/**
 * The formula over trigger values. `failedAsNil` lists triggers passed as nil (fallback behavior
 * scalingModifiers); with null, any failed trigger makes the composite unavailable.
 */
export function compositeValue(spec: ScalingSpec, triggers: TriggerStatus[], formula: CompiledFormula, failedAsNil: Set<string> | null): number | null {
  const env: Record<string, number | null> = {};
  for (const t of triggers) {
    if (t.value === null) {
      if (!failedAsNil?.has(t.name)) return null;
      env[t.name] = null;
    } else env[t.name] = t.value;
  }
  try {
    const v = formula.evaluate(env);
    return v === null ? null : sanitize(v);
  } catch {
    return null;
  }
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
 * down because of errors.
 */
export function kedaDecide(spec: ScalingSpec, state: KedaState, input: { now: number; currentReplicas: number; active: boolean; error: boolean }): KedaDecision {
  const { now, currentReplicas: current, active, error } = input;
  const min = spec.minReplicaCount;
  const idle = spec.idleReplicaCount;
  if (spec.paused) {
    const to = spec.pausedReplicas;
    return { replicas: to !== undefined && to !== current ? to : null, lastActiveTime: state.lastActiveTime, reason: 'ScaledObjectPaused' };
  }
  if (active) {
    if ((idle !== undefined && current < min) || current === 0) {
      return { replicas: min > 0 ? min : 1, lastActiveTime: now, reason: 'ScalerActive: activated' };
    }
    if (error) return { replicas: null, lastActiveTime: state.lastActiveTime, reason: 'PartialTriggerError' };
    return { replicas: null, lastActiveTime: now, reason: 'ScalerActive' };
  }
  if (error && spec.fallback && spec.fallback.replicas !== 0) {
    // Going to 0 would switch the HPA off and it could not apply the fallback.
    return { replicas: null, lastActiveTime: state.lastActiveTime, reason: 'TriggerError: waiting for fallback' };
  }
  if (error && !spec.fallback) return { replicas: null, lastActiveTime: state.lastActiveTime, reason: 'TriggerError: no scale-down on errors' };
  if ((idle !== undefined && current > idle) || (current > 0 && min === 0)) {
    const cooledDown =
      state.lastActiveTime === null
        ? state.createdAt + spec.initialCooldownPeriod * 1000 < now
        : state.lastActiveTime + spec.cooldownPeriod * 1000 < now;
    if (cooledDown) return { replicas: idle ?? min, lastActiveTime: state.lastActiveTime, reason: idle !== undefined ? 'ScalerNotActive: to idleReplicaCount' : 'ScalerNotActive: to zero' };
    return { replicas: null, lastActiveTime: state.lastActiveTime, reason: state.lastActiveTime === null ? 'ScalerCooldown: initialCooldownPeriod' : 'ScalerCooldown' };
  }
  if (idle === undefined && current < min) return { replicas: min, lastActiveTime: state.lastActiveTime, reason: 'ScalerNotActive: to minReplicaCount' };
  return { replicas: null, lastActiveTime: state.lastActiveTime, reason: 'ScalerNotActive' };
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
  const replicas = fallbackReplicas(fallback, currentReplicas);
  if (metricType === 'Value') return (target * replicas) / Math.max(readyReplicas, 1);
  return target * replicas;
}

/** Fallback starts when consecutive failures exceed the threshold (strictly). */
export function inFallback(fallback: FallbackSpec | undefined, failures: number): boolean {
  return !!fallback && failures > fallback.failureThreshold;
}
