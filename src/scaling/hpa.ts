/**
 * The Kubernetes HPA's half of scaling (1<->N) as pure functions, after
 * pkg/controller/podautoscaler/replica_calculator.go and horizontal.go: per-metric sizing with
 * tolerance, the max across metrics, stabilization windows, rate policies with the replicas at the
 * start of each period, and the clamp to [max(min,1), max]; without a behavior, the legacy path
 * (normalizeDesiredReplicas). Metric values and targets are compared as milli-value integers, as the
 * HPA does with Quantity.MilliValue(). Times are milliseconds.
 */
import type { HpaBehavior, MetricType, ScalingRules } from './spec.js';

export interface HpaMetric {
  name: string;
  /** The metric value, or null when it could not be read. */
  value: number | null;
  target: number;
  metricType: MetricType;
  /**
   * The value as KEDA hands it to the HPA, in milli-units (an int64 Quantity), when the producer
   * computed it itself (fallback: int64(target*1000*replicas)); else toMilli(value).
   */
  valueMilli?: number;
}

/** Largest int32: the HPA's replica counts are int32 and a recommendation is capped here. */
export const MAX_INT32 = 2_147_483_647;
/** --horizontal-pod-autoscaler-tolerance: the legacy path's tolerance (no behavior to carry one). */
export const LEGACY_TOLERANCE = 0.1;
/** --horizontal-pod-autoscaler-downscale-stabilization: the legacy path's scale-down window. */
export const LEGACY_DOWNSCALE_STABILIZATION_MS = 300_000;
/** scaleUpLimitFactor and scaleUpLimitMinimum of horizontal.go: the legacy per-sync scale-up limit. */
const SCALE_UP_LIMIT_FACTOR = 2;
const SCALE_UP_LIMIT_MINIMUM = 4;

/**
 * A float as KEDA puts it in a Quantity: int64(v * 1000) milli-units (Go truncates toward zero; the
 * multiplication is the same IEEE double operation in JS and Go, so the integers agree).
 */
export function toMilli(v: number): number {
  return Math.trunc(v * 1000);
}

export interface HpaState {
  /** Raw recommendations with their time, for the stabilization windows. */
  recommendations: Array<{ at: number; replicas: number }>;
  scaleUpEvents: Array<{ at: number; change: number }>;
  scaleDownEvents: Array<{ at: number; change: number }>;
}

export function newHpaState(): HpaState {
  return { recommendations: [], scaleUpEvents: [], scaleDownEvents: [] };
}

export interface HpaConfig {
  /** HPA minReplicas: KEDA sets max(minReplicaCount, 1). */
  minReplicas: number;
  maxReplicas: number;
  /** spec.behavior of the HPA; null when KEDA creates it without one (the controller's legacy path). */
  behavior: HpaBehavior | null;
}

/**
 * Is the usage ratio within tolerance (no change)? Per-direction tolerances as in Kubernetes 1.33+;
 * without a behavior the controller-wide --horizontal-pod-autoscaler-tolerance (0.1).
 */
export function withinTolerance(ratio: number, behavior: HpaBehavior | null): boolean {
  const down = behavior?.scaleDown.tolerance ?? LEGACY_TOLERANCE;
  const up = behavior?.scaleUp.tolerance ?? LEGACY_TOLERANCE;
  return 1 - down <= ratio && ratio <= 1 + up;
}

/** int32(math.Ceil(x)) with the cap the controller applies before any clamping. */
function ceilReplicas(x: number): number {
  const r = Math.ceil(x);
  return r > MAX_INT32 ? MAX_INT32 : r;
}

/**
 * Desired replicas for one external metric, on milli-value integers as the replica calculator
 * (GetExternalPerPodMetricReplicas / GetExternalMetricReplicas). AverageValue: ceil(value / target),
 * independent of the current count. Value: ceil(value / target x ready replicas). Within tolerance:
 * the current count. `valueMilli` overrides toMilli(value) when the producer built the Quantity.
 */
export function replicasForMetric(
  m: { value: number; target: number; metricType: MetricType; valueMilli?: number },
  currentReplicas: number,
  readyReplicas: number,
  behavior: HpaBehavior | null,
): number {
  const usage = m.valueMilli ?? toMilli(m.value);
  const target = toMilli(m.target);
  if (m.metricType === 'AverageValue') {
    const ratio = usage / (target * currentReplicas);
    if (withinTolerance(ratio, behavior)) return currentReplicas;
    return ceilReplicas(usage / target);
  }
  const ratio = usage / target;
  if (currentReplicas === 0) return ceilReplicas(ratio);
  if (withinTolerance(ratio, behavior)) return currentReplicas;
  return ceilReplicas(ratio * readyReplicas);
}

/** computeReplicasForMetrics: the max across metrics; null when no decision may be taken. */
export function replicasForMetrics(
  metrics: HpaMetric[],
  currentReplicas: number,
  readyReplicas: number,
  behavior: HpaBehavior | null,
): { replicas: number | null; metric?: string; reason?: string } {
  let best = -1;
  let bestName: string | undefined;
  let invalid = 0;
  for (const m of metrics) {
    if (m.value === null) {
      invalid++;
      continue;
    }
    const r = replicasForMetric({ value: m.value, target: m.target, metricType: m.metricType, ...(m.valueMilli !== undefined ? { valueMilli: m.valueMilli } : {}) }, currentReplicas, readyReplicas, behavior);
    if (r > best) {
      best = r;
      bestName = m.name;
    }
  }
  // All metrics failed, or some failed and the rest would scale down: do nothing.
  if (invalid >= metrics.length) return { replicas: null, reason: 'FailedGetExternalMetric' };
  if (invalid > 0 && best < currentReplicas) return { replicas: null, reason: 'FailedGetExternalMetric: not scaling down with failed metrics' };
  return { replicas: best, ...(bestName ? { metric: bestName } : {}) };
}

function changeInPeriod(events: Array<{ at: number; change: number }>, periodSeconds: number, now: number): number {
  const cutoff = now - periodSeconds * 1000;
  let sum = 0;
  for (const e of events) if (e.at > cutoff) sum += e.change;
  return sum;
}

/** The count at the start of a policy's period: current minus what was added in it, plus what was removed. */
function periodStartReplicas(current: number, state: HpaState, periodSeconds: number, now: number): number {
  return current - changeInPeriod(state.scaleUpEvents, periodSeconds, now) + changeInPeriod(state.scaleDownEvents, periodSeconds, now);
}

/** The highest count the scaleUp policies allow now. */
export function scaleUpLimit(current: number, state: HpaState, rules: ScalingRules, now: number): number {
  if (rules.selectPolicy === 'Disabled') return current;
  let result = rules.selectPolicy === 'Min' ? Infinity : -Infinity;
  for (const p of rules.policies) {
    const start = periodStartReplicas(current, state, p.periodSeconds, now);
    const proposed = p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100));
    result = rules.selectPolicy === 'Min' ? Math.min(result, proposed) : Math.max(result, proposed);
  }
  return result;
}

/** The lowest count the scaleDown policies allow now. */
export function scaleDownLimit(current: number, state: HpaState, rules: ScalingRules, now: number): number {
  if (rules.selectPolicy === 'Disabled') return current;
  let result = rules.selectPolicy === 'Min' ? -Infinity : Infinity;
  for (const p of rules.policies) {
    const start = periodStartReplicas(current, state, p.periodSeconds, now);
    const proposed = p.type === 'Pods' ? start - p.value : Math.floor(start * (1 - p.value / 100));
    result = rules.selectPolicy === 'Min' ? Math.max(result, proposed) : Math.min(result, proposed);
  }
  return result;
}

/**
 * Stabilization: the current count clamped between the min recommendation in the scaleUp window
 * and the max in the scaleDown window (the new raw recommendation included). Records the raw one.
 */
export function stabilize(state: HpaState, behavior: HpaBehavior, current: number, desired: number, now: number): { replicas: number; state: HpaState } {
  const upCutoff = now - behavior.scaleUp.stabilizationWindowSeconds * 1000;
  const downCutoff = now - behavior.scaleDown.stabilizationWindowSeconds * 1000;
  let up = desired;
  let down = desired;
  for (const r of state.recommendations) {
    if (r.at > upCutoff) up = Math.min(up, r.replicas);
    if (r.at > downCutoff) down = Math.max(down, r.replicas);
  }
  let replicas = current;
  if (replicas < up) replicas = up;
  if (replicas > down) replicas = down;
  const keep = state.recommendations.filter((r) => !(r.at < upCutoff && r.at < downCutoff));
  return { replicas, state: { ...state, recommendations: [...keep, { at: now, replicas: desired }] } };
}

export interface HpaResult {
  /** The count the HPA sets (equal to current when nothing changes). */
  replicas: number;
  /** The raw recommendation from the metrics (before stabilization, policies and clamp), if computed. */
  recommendation: number | null;
  /** Kubernetes' condition reason: ScaleUpLimit, ScaleDownStabilized, TooManyReplicas, ... */
  reason: string;
  state: HpaState;
}

function longestPeriod(rules: ScalingRules): number {
  return Math.max(0, ...rules.policies.map((p) => p.periodSeconds));
}

/**
 * recordInitialRecommendation: the first time the controller sees an HPA it records the current
 * count as a recommendation (at 0 too), so a fresh HPA does not scale down before its window passes.
 */
export function recordInitialRecommendation(state: HpaState, currentReplicas: number, now: number): HpaState {
  return state.recommendations.length > 0 ? state : { ...state, recommendations: [{ at: now, replicas: currentReplicas }] };
}

/**
 * The legacy path (no behavior): normalizeDesiredReplicas. The stabilized count is the max
 * recommendation of the last 5 minutes (the new one included; a sample exactly at the cutoff still
 * counts), then convertDesiredReplicasWithRules clamps it to [min, min(max, max(2 x current, 4))].
 */
export function normalizeLegacy(state: HpaState, current: number, desired: number, min: number, max: number, now: number): { replicas: number; reason: string; state: HpaState } {
  const cutoff = now - LEGACY_DOWNSCALE_STABILIZATION_MS;
  let stabilized = desired;
  for (const r of state.recommendations) if (r.at >= cutoff && r.replicas > stabilized) stabilized = r.replicas;
  const next = { ...state, recommendations: [...state.recommendations.filter((r) => r.at >= cutoff), { at: now, replicas: desired }] };
  const rules = convertDesiredReplicasWithRules(current, stabilized, min, max);
  const reason = rules.replicas !== stabilized ? rules.reason : stabilized !== desired ? 'ScaleDownStabilized' : rules.reason;
  return { replicas: rules.replicas, reason, state: next };
}

/** convertDesiredReplicasWithRules: the legacy clamp with the per-sync scale-up limit max(2 x current, 4). */
export function convertDesiredReplicasWithRules(current: number, desired: number, min: number, max: number): { replicas: number; reason: string } {
  const scaleUpLimit = Math.max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM);
  const limited = max > scaleUpLimit ? { at: scaleUpLimit, reason: 'ScaleUpLimit' } : { at: max, reason: 'TooManyReplicas' };
  if (desired < min) return { replicas: min, reason: 'TooFewReplicas' };
  if (desired > limited.at) return { replicas: limited.at, reason: limited.reason };
  return { replicas: desired, reason: 'DesiredWithinRange' };
}

/**
 * One HPA sync (reconcileAutoscaler) for an external-metrics HPA: with a behavior
 * (normalizeDesiredReplicasWithBehaviors) or, when config.behavior is null, the legacy path.
 */
export function hpaSync(config: HpaConfig, prev: HpaState, input: { now: number; currentReplicas: number; readyReplicas: number; metrics: HpaMetric[] }): HpaResult {
  const { now, currentReplicas: current } = input;
  const { behavior, minReplicas: min, maxReplicas: max } = config;
  if (current === 0 && min !== 0) return { replicas: 0, recommendation: null, reason: 'ScalingDisabled', state: prev };
  let target: number;
  let recommendation: number | null = null;
  let reason: string;
  let state = prev;
  if (current > max) {
    target = max;
    reason = 'TooManyReplicas: above maxReplicas';
  } else if (current < min) {
    target = min;
    reason = 'TooFewReplicas: below minReplicas';
  } else {
    const computed = replicasForMetrics(input.metrics, current, input.readyReplicas, behavior);
    if (computed.replicas === null) return { replicas: current, recommendation: null, reason: computed.reason!, state: prev };
    recommendation = computed.replicas;
    if (behavior === null) {
      const legacy = normalizeLegacy(state, current, recommendation, min, max, now);
      return { replicas: legacy.replicas, recommendation, reason: legacy.reason, state: legacy.state };
    }
    const stable = stabilize(state, behavior, current, recommendation, now);
    state = stable.state;
    const s = stable.replicas;
    reason = s !== recommendation ? (recommendation > current ? 'ScaleUpStabilized' : 'ScaleDownStabilized') : 'DesiredWithinRange';
    target = s;
    // Rate policies and the [min, max] clamp (convertDesiredReplicasWithBehaviorRate).
    if (s > current) {
      const limit = Math.max(scaleUpLimit(current, state, behavior.scaleUp, now), current);
      const allowed = Math.min(max, limit);
      if (s > allowed) {
        target = allowed;
        reason = max > limit ? 'ScaleUpLimit' : 'TooManyReplicas';
      }
    } else if (s < current) {
      const limit = Math.min(scaleDownLimit(current, state, behavior.scaleDown, now), current);
      const allowed = Math.max(min, limit);
      if (s < allowed) {
        target = allowed;
        reason = min < limit ? 'ScaleDownLimit' : 'TooFewReplicas';
      }
    }
  }
  // storeScaleEvent: only with a behavior (the legacy path has no rate policies to feed).
  if (target !== current && behavior !== null) {
    const change = Math.abs(target - current);
    if (target > current) {
      const keepFor = longestPeriod(behavior.scaleUp) * 1000;
      state = { ...state, scaleUpEvents: [...state.scaleUpEvents.filter((e) => e.at > now - keepFor), { at: now, change }] };
    } else {
      const keepFor = longestPeriod(behavior.scaleDown) * 1000;
      state = { ...state, scaleDownEvents: [...state.scaleDownEvents.filter((e) => e.at > now - keepFor), { at: now, change }] };
    }
  }
  return { replicas: target, recommendation, reason, state };
}
