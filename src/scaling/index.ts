/**
 * featherweight/scaling: KEDA ScaledObject + Kubernetes HPA semantics as pure functions, and the loop
 * that applies them to a replica target. See src/scaling/README.md for a worked example.
 */
export {
  parseScaledObject,
  parseScalingSpec,
  scalingSpecSchema,
  withTriggers,
  defaultScaleUp,
  defaultScaleDown,
  hpaBehavior,
  type ScaledObjectConfig,
  type ScalingSpec,
  type TriggerSpec,
  type TriggerInput,
  type HpaBehavior,
  type ScalingRules,
  type ScalingPolicy,
  type ScalingModifiers,
  type FallbackSpec,
  type FallbackBehavior,
  type MetricType,
} from './spec.js';
export { triggerTarget, cronSample, supportedTriggerTypes, TriggerMetadataError, type TriggerTarget, type TriggerLike, type TriggerOptions } from './triggers.js';
export { compileFormula, dryRunFormula, type CompiledFormula } from './formula.js';
export {
  evaluateActivity,
  activityOf,
  applyFallback,
  compositeMetric,
  triggerStatus,
  triggerStatuses,
  kedaDecide,
  fallbackMetricValue,
  fallbackReplicas,
  inFallback,
  sanitize,
  type Activity,
  type TriggerStatus,
  type KedaState,
  type KedaDecision,
  type MetricValues,
} from './keda.js';
export {
  hpaSync,
  newHpaState,
  replicasForMetric,
  replicasForMetrics,
  stabilize,
  scaleUpLimit,
  scaleDownLimit,
  withinTolerance,
  toMilli,
  normalizeLegacy,
  convertDesiredReplicasWithRules,
  recordInitialRecommendation,
  MAX_INT32,
  type HpaConfig,
  type HpaMetric,
  type HpaResult,
  type HpaState,
} from './hpa.js';
export {
  createScaleLoop,
  createScaler,
  DEFAULT_HPA_SYNC_MS,
  KUBERNETES_HPA_SYNC_MS,
  type Clock,
  type ReplicaTarget,
  type ScaleLoop,
  type ScaleLoopOptions,
  type ScalerState,
  type Scaler,
  type Decision,
  type Tick,
  type Step,
} from './loop.js';
export { simulate, parseTrace, formatRows, createVirtualClock, type Trace, type SimRow, type SimulateOptions } from './simulate.js';
