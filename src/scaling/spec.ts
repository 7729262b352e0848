/**
 * The KEDA ScaledObject `spec` with KEDA's defaults and validation (apis/keda/v1alpha1 types and
 * webhook) and the HPA behavior defaults of Kubernetes, normalized into plain types.
 */
import { z } from 'zod';
import { parseOrThrow, formatPath, ValidationError } from '../core/validation.js';
import { compileFormula, dryRunFormula } from './formula.js';
import { triggerTarget, TriggerMetadataError, type MetricType } from './triggers.js';
import { LEGACY_DOWNSCALE_STABILIZATION_MS } from './hpa.js';

export type { MetricType } from './triggers.js';

export interface ScalingPolicy {
  type: 'Pods' | 'Percent';
  value: number;
  periodSeconds: number;
}

export interface ScalingRules {
  stabilizationWindowSeconds: number;
  selectPolicy: 'Max' | 'Min' | 'Disabled';
  policies: ScalingPolicy[];
  /** |1 - ratio| within this is no change. Kubernetes' default 0.1. */
  tolerance: number;
}

export interface HpaBehavior {
  scaleUp: ScalingRules;
  scaleDown: ScalingRules;
}

export interface TriggerSpec {
  type: string;
  /** Unique; the key readMetrics() reports under. Defaults to the type (type-<index> when repeated). */
  name: string;
  /** True when the name came from the spec (only named triggers may appear in a formula). */
  named: boolean;
  metadata: Record<string, string>;
  metricType: MetricType;
  useCachedMetrics: boolean;
  authenticationRef?: { name: string; kind?: string };
}

export interface ScalingModifiers {
  formula: string;
  target: number;
  activationTarget: number;
  metricType: MetricType;
}

export type FallbackBehavior = 'static' | 'currentReplicas' | 'currentReplicasIfHigher' | 'currentReplicasIfLower' | 'scalingModifiers';

export interface FallbackSpec {
  failureThreshold: number;
  replicas: number;
  behavior: FallbackBehavior;
}

/** A normalized ScaledObject spec: every default filled in, times in seconds as in KEDA. */
export interface ScalingSpec {
  pollingInterval: number;
  cooldownPeriod: number;
  initialCooldownPeriod: number;
  idleReplicaCount?: number;
  minReplicaCount: number;
  maxReplicaCount: number;
  fallback?: FallbackSpec;
  behavior: HpaBehavior;
  /** True when the spec gave advanced.horizontalPodAutoscalerConfig.behavior (else Kubernetes' defaults). */
  behaviorGiven: boolean;
  scalingModifiers?: ScalingModifiers;
  restoreToOriginalReplicaCount: boolean;
  hpaName?: string;
  triggers: TriggerSpec[];
  /** The ScaledObject's metadata.annotations (the manifest's scaling.annotations). */
  annotations: Record<string, string>;
  /** autoscaling.keda.sh/paused (or paused-replicas present): neither KEDA nor the HPA changes replicas. */
  paused: boolean;
  /** autoscaling.keda.sh/paused-replicas: the count to hold while paused. */
  pausedReplicas?: number;
  /** autoscaling.keda.sh/paused-scale-in: KEDA never deactivates; the HPA's scaleDown selectPolicy is Disabled. */
  pausedScaleIn: boolean;
  /** autoscaling.keda.sh/paused-scale-out: KEDA never activates; the HPA's scaleUp selectPolicy is Disabled. */
  pausedScaleOut: boolean;
  /** autoscaling.keda.sh/force-activation: KEDA treats the triggers as active whatever they read. */
  forceActivation: boolean;
}

export interface ScaledObjectConfig {
  name?: string;
  namespace?: string;
  annotations: Record<string, string>;
  spec: ScalingSpec;
}

// ---- raw schemas (strict: an unknown field is an error naming the allowed ones) ----

const int32 = z.number().int();
const quantity = z
  .union([z.number(), z.string().regex(/^\s*\d+(\.\d+)?\s*$/, 'must be a number such as "0.1"')])
  .transform(Number)
  .pipe(z.number().min(0));
const positiveNumberish = z
  .union([z.number(), z.string().regex(/^\s*-?\d+(\.\d+)?\s*$/, 'must be a number such as "2"')])
  .transform(Number);
const metricType = z.enum(['AverageValue', 'Value', 'Utilization']);

const policySchema = z.strictObject({
  type: z.enum(['Pods', 'Percent']),
  value: int32.min(1, 'must be greater than 0'),
  periodSeconds: int32.min(1, 'must be greater than 0').max(1800, 'must be at most 1800'),
});

const rulesSchema = z.strictObject({
  stabilizationWindowSeconds: int32.min(0).max(3600, 'must be at most 3600').optional(),
  selectPolicy: z.enum(['Max', 'Min', 'Disabled']).optional(),
  policies: z.array(policySchema).min(1, 'must specify at least one policy').optional(),
  tolerance: quantity.optional(),
});

const triggerSchema = z.strictObject({
  type: z.string().min(1, 'required: the scaler type, e.g. nats-jetstream'),
  name: z.string().min(1).optional(),
  metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
  metricType: metricType.optional(),
  useCachedMetrics: z.boolean().optional(),
  authenticationRef: z.strictObject({ name: z.string().min(1), kind: z.string().optional() }).optional(),
});
export type TriggerInput = z.input<typeof triggerSchema>;

const rawSpecSchema = z.strictObject({
  scaleTargetRef: z
    .strictObject({
      name: z.string().min(1),
      apiVersion: z.string().optional(),
      kind: z.string().optional(),
      envSourceContainerName: z.string().optional(),
    })
    .optional(),
  pollingInterval: int32.min(1, 'must be at least 1 (seconds)').optional(),
  cooldownPeriod: int32.min(0).optional(),
  initialCooldownPeriod: int32.min(0).optional(),
  idleReplicaCount: int32.min(0).optional(),
  minReplicaCount: int32.min(0).optional(),
  maxReplicaCount: int32.min(1, 'must be at least 1').optional(),
  fallback: z
    .strictObject({
      failureThreshold: int32.min(0),
      replicas: int32.min(0),
      behavior: z.enum(['static', 'currentReplicas', 'currentReplicasIfHigher', 'currentReplicasIfLower', 'scalingModifiers']).optional(),
    })
    .optional(),
  advanced: z
    .strictObject({
      restoreToOriginalReplicaCount: z.boolean().optional(),
      horizontalPodAutoscalerConfig: z
        .strictObject({
          name: z.string().optional(),
          behavior: z.strictObject({ scaleUp: rulesSchema.optional(), scaleDown: rulesSchema.optional() }).optional(),
        })
        .optional(),
      scalingModifiers: z
        .strictObject({
          formula: z.string().optional(),
          target: positiveNumberish.optional(),
          activationTarget: positiveNumberish.optional(),
          metricType: metricType.optional(),
        })
        .optional(),
    })
    .optional(),
  triggers: z.array(triggerSchema).optional(),
  /**
   * Not a ScaledObject spec field: the manifest's place for what KEDA reads from the ScaledObject's
   * metadata.annotations (paused, paused-replicas, paused-scale-in, paused-scale-out, force-activation).
   */
  annotations: z.record(z.string(), z.string({ error: 'annotation values are strings: quote them, e.g. "true"' })).optional(),
});

type RawSpec = z.output<typeof rawSpecSchema>;
type RawRules = z.output<typeof rulesSchema>;

// ---- defaults (Kubernetes' documented default behavior) ----

const defaultTolerance = 0.1;

export function defaultScaleUp(): ScalingRules {
  return {
    stabilizationWindowSeconds: 0,
    selectPolicy: 'Max',
    policies: [
      { type: 'Percent', value: 100, periodSeconds: 15 },
      { type: 'Pods', value: 4, periodSeconds: 15 },
    ],
    tolerance: defaultTolerance,
  };
}

export function defaultScaleDown(): ScalingRules {
  return { stabilizationWindowSeconds: LEGACY_DOWNSCALE_STABILIZATION_MS / 1000, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }], tolerance: defaultTolerance };
}

function rules(raw: RawRules | undefined, def: ScalingRules): ScalingRules {
  return {
    stabilizationWindowSeconds: raw?.stabilizationWindowSeconds ?? def.stabilizationWindowSeconds,
    selectPolicy: raw?.selectPolicy ?? def.selectPolicy,
    policies: raw?.policies ?? def.policies,
    tolerance: raw?.tolerance ?? def.tolerance,
  };
}

type Issue = { path: PropertyKey[]; message: string };

/** Names every trigger: the given name, else the type (type-<index> when the type repeats). */
function nameTriggers(raw: z.output<typeof triggerSchema>[]): TriggerSpec[] {
  const counts = new Map<string, number>();
  for (const t of raw) if (!t.name) counts.set(t.type, (counts.get(t.type) ?? 0) + 1);
  const given = new Set(raw.filter((t) => t.name).map((t) => t.name!));
  return raw.map((t, i) => {
    let name = t.name;
    if (!name) {
      name = counts.get(t.type)! > 1 || given.has(t.type) ? `${t.type}-${i}` : t.type;
    }
    return {
      type: t.type,
      name,
      named: !!t.name,
      metadata: t.metadata,
      metricType: (t.metricType ?? 'AverageValue') as MetricType,
      useCachedMetrics: t.useCachedMetrics ?? false,
      ...(t.authenticationRef ? { authenticationRef: t.authenticationRef } : {}),
    };
  });
}

/** Checks that span fields (KEDA's webhook rules); `base` is the path prefix of the spec. */
function crossCheck(spec: ScalingSpec, rawTriggers: Array<{ metricType?: string }>, base: PropertyKey[], minGiven?: boolean): Issue[] {
  const issues: Issue[] = [];
  const at = (...p: PropertyKey[]) => [...base, ...p];
  // KEDA: min counts as max(min,1) once given; idle must be below it.
  const min = spec.minReplicaCount;
  if (min > spec.maxReplicaCount) {
    issues.push({ path: at('minReplicaCount'), message: `minReplicaCount=${min} must not be greater than maxReplicaCount=${spec.maxReplicaCount}` });
  }
  if (spec.idleReplicaCount !== undefined && minGiven !== undefined) {
    const hpaMin = minGiven ? Math.max(min, 1) : 0;
    if (spec.idleReplicaCount >= hpaMin) {
      issues.push({ path: at('idleReplicaCount'), message: `idleReplicaCount=${spec.idleReplicaCount} must be less than minReplicaCount=${hpaMin} (set minReplicaCount; only 0 works as idle count)` });
    }
  }
  const seen = new Set<string>();
  spec.triggers.forEach((t, i) => {
    if (rawTriggers[i]?.metricType === 'Utilization') {
      issues.push({ path: at('triggers', i, 'metricType'), message: 'Utilization is for cpu/memory triggers only; use AverageValue or Value' });
    }
    if (seen.has(t.name)) issues.push({ path: at('triggers', i, 'name'), message: `trigger name ${JSON.stringify(t.name)} is used twice; names must be unique` });
    seen.add(t.name);
    if (t.useCachedMetrics && t.type === 'cron') issues.push({ path: at('triggers', i, 'useCachedMetrics'), message: 'not supported for the cron scaler' });
    try {
      triggerTarget(t, { asMetricSource: !!spec.scalingModifiers });
    } catch (err) {
      if (!(err instanceof TriggerMetadataError)) throw err;
      issues.push({ path: err.key ? at('triggers', i, 'metadata', err.key) : at('triggers', i, 'type'), message: err.message });
    }
  });
  const sm = spec.scalingModifiers;
  if (sm && spec.triggers.length > 0) {
    try {
      const named = spec.triggers.filter((t) => t.named).map((t) => t.name);
      dryRunFormula(compileFormula(sm.formula, named), named);
    } catch (err) {
      issues.push({ path: at('advanced', 'scalingModifiers', 'formula'), message: (err as Error).message });
    }
  }
  if (spec.fallback) {
    if (spec.fallback.behavior === 'scalingModifiers' && !sm) {
      issues.push({ path: at('fallback', 'behavior'), message: 'scalingModifiers needs advanced.scalingModifiers.formula' });
    }
    if (sm && !Number.isInteger(sm.target)) {
      issues.push({ path: at('advanced', 'scalingModifiers', 'target'), message: 'must be a whole number when fallback is used (KEDA parses it as an integer)' });
    }
  }
  return issues;
}

/** advanced.scalingModifiers with at least one field set (an empty mapping counts as absent). */
function givenModifiers(raw: RawSpec) {
  const sm = raw.advanced?.scalingModifiers;
  return sm && Object.values(sm).some((v) => v !== undefined) ? sm : undefined;
}

function normalize(raw: RawSpec): ScalingSpec {
  const adv = raw.advanced;
  const hpa = adv?.horizontalPodAutoscalerConfig;
  const smRaw = givenModifiers(raw);
  const spec: ScalingSpec = {
    pollingInterval: raw.pollingInterval ?? 30,
    cooldownPeriod: raw.cooldownPeriod ?? 300,
    initialCooldownPeriod: raw.initialCooldownPeriod ?? 0,
    ...(raw.idleReplicaCount !== undefined ? { idleReplicaCount: raw.idleReplicaCount } : {}),
    minReplicaCount: raw.minReplicaCount ?? 0,
    maxReplicaCount: raw.maxReplicaCount ?? 100,
    ...(raw.fallback ? { fallback: { failureThreshold: raw.fallback.failureThreshold, replicas: raw.fallback.replicas, behavior: raw.fallback.behavior ?? 'static' } } : {}),
    behavior: { scaleUp: rules(hpa?.behavior?.scaleUp, defaultScaleUp()), scaleDown: rules(hpa?.behavior?.scaleDown, defaultScaleDown()) },
    behaviorGiven: !!hpa?.behavior,
    ...(smRaw
      ? {
          scalingModifiers: {
            formula: smRaw.formula ?? '',
            target: smRaw.target ?? 0,
            activationTarget: smRaw.activationTarget ?? 0,
            metricType: (smRaw.metricType ?? 'AverageValue') as MetricType,
          },
        }
      : {}),
    restoreToOriginalReplicaCount: adv?.restoreToOriginalReplicaCount ?? false,
    ...(hpa?.name ? { hpaName: hpa.name } : {}),
    triggers: nameTriggers(raw.triggers ?? []),
    annotations: raw.annotations ?? {},
    ...readAnnotations(raw.annotations ?? {}),
  };
  return spec;
}

const pausedAnnotation = 'autoscaling.keda.sh/paused';
const pausedReplicasAnnotation = 'autoscaling.keda.sh/paused-replicas';
const pausedScaleInAnnotation = 'autoscaling.keda.sh/paused-scale-in';
const pausedScaleOutAnnotation = 'autoscaling.keda.sh/paused-scale-out';
const forceActivationAnnotation = 'autoscaling.keda.sh/force-activation';

/**
 * getBoolAnnotation of KEDA: absent is false; Go's strconv.ParseBool on the raw value (no trimming);
 * a value that is not a boolean counts as true.
 */
function boolAnnotation(annotations: Record<string, string>, key: string): boolean {
  const v = annotations[key];
  if (v === undefined) return false;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return true;
}

type AnnotationFlags = Pick<ScalingSpec, 'paused' | 'pausedReplicas' | 'pausedScaleIn' | 'pausedScaleOut' | 'forceActivation'>;

/** The scaling switches KEDA reads from annotations (valid values assumed; see annotationIssues). */
function readAnnotations(annotations: Record<string, string>): AnnotationFlags {
  const replicas = annotations[pausedReplicasAnnotation];
  const pausedReplicas = replicas !== undefined && /^[+-]?\d+$/.test(replicas) ? Number(replicas) : undefined;
  return {
    // NeedToBePausedByAnnotation: paused-replicas present pauses whatever `paused` says.
    paused: replicas !== undefined || boolAnnotation(annotations, pausedAnnotation),
    ...(pausedReplicas !== undefined ? { pausedReplicas } : {}),
    pausedScaleIn: boolAnnotation(annotations, pausedScaleInAnnotation),
    pausedScaleOut: boolAnnotation(annotations, pausedScaleOutAnnotation),
    forceActivation: boolAnnotation(annotations, forceActivationAnnotation),
  };
}

function annotationIssues(annotations: Record<string, string>, at: PropertyKey[]): Issue[] {
  const v = annotations[pausedReplicasAnnotation];
  // GetPausedReplicaCount: strconv.ParseInt(v, 10, 32); KEDA's reconcile fails on anything else.
  if (v !== undefined && (!/^[+-]?\d+$/.test(v) || Math.abs(Number(v)) > 2_147_483_647)) {
    return [{ path: [...at, pausedReplicasAnnotation], message: `must be a whole number of replicas, got ${JSON.stringify(v)}` }];
  }
  if (v !== undefined && Number(v) < 0) return [{ path: [...at, pausedReplicasAnnotation], message: `must not be negative, got ${v}` }];
  return [];
}

/**
 * The behavior the HPA KEDA creates carries: null when the spec gives none and no pause annotation
 * forces one (the controller then takes its legacy path); paused-scale-in / paused-scale-out set
 * that direction's selectPolicy to Disabled (controllers/keda/hpa.go), and the API server defaults
 * the rest of a non-nil behavior.
 */
export function hpaBehavior(spec: ScalingSpec): HpaBehavior | null {
  if (!spec.behaviorGiven && !spec.pausedScaleIn && !spec.pausedScaleOut) return null;
  const b = spec.behavior;
  return {
    scaleUp: spec.pausedScaleOut ? { ...b.scaleUp, selectPolicy: 'Disabled' } : b.scaleUp,
    scaleDown: spec.pausedScaleIn ? { ...b.scaleDown, selectPolicy: 'Disabled' } : b.scaleDown,
  };
}

function modifierIssues(raw: RawSpec): Issue[] {
  const sm = givenModifiers(raw);
  if (!sm) return [];
  const p = ['advanced', 'scalingModifiers'];
  const issues: Issue[] = [];
  if (!sm.formula) issues.push({ path: [...p, 'formula'], message: 'required when scalingModifiers is given (an expr-lang formula over trigger names)' });
  if (sm.target === undefined) issues.push({ path: [...p, 'target'], message: 'required when scalingModifiers is given (a number above 0)' });
  else if (!(sm.target > 0)) issues.push({ path: [...p, 'target'], message: 'must be a number above 0' });
  if (sm.metricType === 'Utilization') issues.push({ path: [...p, 'metricType'], message: 'must be AverageValue or Value' });
  return issues;
}

/**
 * The zod schema for a ScaledObject `spec` (the app manifest's `scaling:` embeds it). Output is the
 * normalized ScalingSpec. `triggers` may be omitted: the caller then calls withTriggers().
 */
export const scalingSpecSchema = rawSpecSchema
  .superRefine((raw, ctx) => {
    const modifiers = [...modifierIssues(raw), ...annotationIssues(raw.annotations ?? {}, ['annotations'])];
    for (const i of modifiers) ctx.addIssue({ code: 'custom', path: i.path as (string | number)[], message: i.message });
    if (modifiers.length) return;
    const spec = normalize(raw);
    for (const i of crossCheck(spec, raw.triggers ?? [], [], raw.minReplicaCount !== undefined)) ctx.addIssue({ code: 'custom', path: i.path as (string | number)[], message: i.message });
  })
  .transform((raw) => normalize(raw));

/** Parses a bare spec (no triggers required). Throws a ValidationError naming each bad field. */
export function parseScalingSpec(input: unknown, prefix = 'spec'): ScalingSpec {
  return parseOrThrow(scalingSpecSchema, input ?? {}, 'scaling spec', prefix);
}

/**
 * Fills triggers into a spec parsed without them (the component's own trigger), validating them and
 * the rules that depend on them (names in the formula, metadata values).
 */
export function withTriggers(spec: ScalingSpec, triggers: TriggerInput[], prefix = 'spec'): ScalingSpec {
  const parsed = parseOrThrow(z.array(triggerSchema), triggers, 'scaling triggers', `${prefix}.triggers`);
  const out: ScalingSpec = { ...spec, triggers: nameTriggers(parsed) };
  const issues = crossCheck(out, parsed, [prefix]);
  if (issues.length) throw new ValidationError('scaling spec', issues.map((i) => `${formatPath(i.path)}: ${i.message}`));
  return out;
}

const objectSchema = z.strictObject({
  apiVersion: z.literal('keda.sh/v1alpha1', { error: 'must be keda.sh/v1alpha1' }),
  kind: z.literal('ScaledObject', { error: 'must be ScaledObject' }),
  metadata: z
    .object({
      name: z.string().optional(),
      namespace: z.string().optional(),
      annotations: z.record(z.string(), z.string()).optional(),
    })
    .passthrough()
    .optional(),
  spec: z.unknown(),
  status: z.unknown().optional(),
});

/**
 * Parses a whole ScaledObject document (apiVersion keda.sh/v1alpha1, kind ScaledObject) or a bare
 * spec. At least one trigger is required, as in KEDA. metadata.annotations become the spec's
 * annotations (paused, paused-replicas, paused-scale-in, paused-scale-out, force-activation).
 */
export function parseScaledObject(input: unknown): ScaledObjectConfig {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ValidationError('ScaledObject', ['(root): expected a mapping: a ScaledObject document or its spec']);
  }
  const doc = input as Record<string, unknown>;
  const whole = 'kind' in doc || 'apiVersion' in doc;
  let annotations: Record<string, string> = {};
  let name: string | undefined;
  let namespace: string | undefined;
  let spec: ScalingSpec;
  if (whole) {
    const obj = parseOrThrow(objectSchema, doc, 'ScaledObject');
    annotations = obj.metadata?.annotations ?? {};
    name = obj.metadata?.name;
    namespace = obj.metadata?.namespace;
    const rawSpec = obj.spec ?? {};
    if (rawSpec && typeof rawSpec === 'object' && 'annotations' in rawSpec) {
      throw new ValidationError('ScaledObject', ['spec.annotations: not a ScaledObject spec field: put annotations under metadata.annotations']);
    }
    const withAnnotations = rawSpec && typeof rawSpec === 'object' && !Array.isArray(rawSpec) && Object.keys(annotations).length ? { ...rawSpec, annotations } : rawSpec;
    try {
      spec = parseScalingSpec(withAnnotations, 'spec');
    } catch (err) {
      // annotation problems are reported where they were written
      if (err instanceof ValidationError) throw new ValidationError('ScaledObject', err.problems.map((p) => p.replace(/^spec\.annotations\./, 'metadata.annotations.')));
      throw err;
    }
  } else {
    spec = parseScalingSpec(doc, 'spec');
    annotations = spec.annotations;
  }
  if (spec.triggers.length === 0) throw new ValidationError('ScaledObject', ['spec.triggers: required: at least one trigger']);
  return { ...(name ? { name } : {}), ...(namespace ? { namespace } : {}), annotations, spec };
}
