/**
 * The Kubernetes HPA's half of scaling (1<->N) as pure functions, after
 * pkg/controller/podautoscaler/replica_calculator.go and horizontal.go: per-metric sizing with
 * tolerance, the max across metrics, stabilization windows, rate policies with the replicas at the
 * start of each period, and the clamp to [max(min,1), max]. Times are milliseconds.
 */
import type { HpaBehavior, MetricType, ScalingRules } from './spec.js';

export interface HpaMetric {
  name: string;
  /** The metric value, or null when it could not be read. */
  value: number | null;
  target: number;
  metricType: MetricType;
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
  behavior: HpaBehavior;
}

/** Is the usage ratio within tolerance (no change)? Per-direction tolerances as in Kubernetes 1.33+. */
export function withinTolerance(ratio: number, behavior: HpaBehavior): boolean {
  return 1 - behavior.scaleDown.tolerance <= ratio && ratio <= 1 + behavior.scaleUp.tolerance;
}

/**
 * Desired replicas for one external metric. AverageValue: ceil(value / target), independent of the
 * current count. Value: ceil(value / target x ready replicas). Within tolerance: the current count.
 */
export function replicasForMetric(m: { value: number; target: number; metricType: MetricType }, currentReplicas: number, readyReplicas: number, behavior: HpaBehavior): number {
  if (m.metricType === 'AverageValue') {
    const ratio = m.value / (m.target * currentReplicas);
    if (withinTolerance(ratio, behavior)) return currentReplicas;
    return Math.ceil(m.value / m.target);
  }
  const ratio = m.value / m.target;
  if (currentReplicas === 0) return Math.ceil(ratio);
  if (withinTolerance(ratio, behavior)) return currentReplicas;
  return Math.ceil(ratio * readyReplicas);
}

/** computeReplicasForMetrics: the max across metrics; null when no decision may be taken. */
export function replicasForMetrics(
  metrics: HpaMetric[],
  currentReplicas: number,
  readyReplicas: number,
  behavior: HpaBehavior,
): { replicas: number | null; metric?: string; reason?: string } {
  let best = -1;
  let bestName: string | undefined;
  let invalid = 0;
  for (const m of metrics) {
    if (m.value === null) {
      invalid++;
      continue;
    }
    const r = replicasForMetric({ value: m.value, target: m.target, metricType: m.metricType }, currentReplicas, readyReplicas, behavior);
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

/** One HPA sync (reconcileAutoscaler) for an external-metrics HPA with behavior. */
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
  if (target !== current) {
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
