/**
 * Per trigger type: which metadata keys hold the scaling target and the activation threshold, with
 * KEDA's defaults and field types for that scaler (int64 or float64, from each scaler's metadata
 * struct tags in KEDA 2.20). Only the scaling keys are validated here; connection keys belong to the
 * source (src/sources) and are ignored by the scaler, as KEDA's scaler ignores keys it does not know.
 */
import { Cron } from 'croner';

export type MetricType = 'AverageValue' | 'Value';

/** The part of a trigger this file reads (a normalized TriggerSpec satisfies it). */
export interface TriggerLike {
  type: string;
  name?: string;
  metadata: Record<string, string>;
  metricType?: string;
}

export interface TriggerTarget {
  metricName: string;
  /** HPA target: per replica for AverageValue, the whole value for Value. */
  target: number;
  /** Active when value > activationTarget (strict, as KEDA). Not used by cron (its window decides). */
  activationTarget: number;
  metricType: MetricType;
}

/** A metadata problem; `key` names the metadata key so callers can point at the field. */
export class TriggerMetadataError extends Error {
  readonly key: string | undefined;
  constructor(key: string | undefined, message: string) {
    super(message);
    this.name = 'TriggerMetadataError';
    this.key = key;
  }
}

/** Options of one scaler build: under scalingModifiers KEDA builds every trigger as a metric source. */
export interface TriggerOptions {
  /** ScalerConfig.AsMetricSource: the trigger feeds the formula, so its target may be left out. */
  asMetricSource?: boolean;
}

type Rule = (md: Record<string, string>, opts: TriggerOptions) => { target: number; activationTarget: number; metricName: string };

/** The Go field type of a metadata key in the scaler's metadata struct (its `keda:"..."` tag). */
type FieldType = 'int' | 'float';

// KEDA's typed config parses numbers with encoding/json into the field (after trimming; an empty
// value counts as absent), so these are JSON's number grammar: no "+", no leading zeros, no ".5".
const jsonInt = /^-?(0|[1-9]\d*)$/;
const jsonFloat = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const INT64_MAX = 9_223_372_036_854_775_807n;

/**
 * A metadata number typed as the scaler's struct field: an int64 field refuses "2.5" (KEDA:
 * "unable to unmarshal to field type int64"), a float64 field takes any JSON number.
 */
function typed(md: Record<string, string>, key: string, type: FieldType, def?: number): number {
  const raw = md[key];
  const v = raw?.trim();
  if (v === undefined || v === '') {
    if (def === undefined) throw new TriggerMetadataError(key, `required (${type === 'int' ? 'a whole number, e.g. "10"' : 'a number, e.g. "10" or "0.5"'})`);
    return def;
  }
  if (type === 'int') {
    if (!jsonInt.test(v)) throw new TriggerMetadataError(key, `must be a whole number (KEDA reads it into an int64), got ${JSON.stringify(raw)}`);
    const big = BigInt(v);
    if (big > INT64_MAX || big < -INT64_MAX - 1n) throw new TriggerMetadataError(key, `is out of the int64 range, got ${JSON.stringify(raw)}`);
    return Number(v);
  }
  if (!jsonFloat.test(v)) throw new TriggerMetadataError(key, `must be a number such as "10" or "0.5" (KEDA reads it into a float64), got ${JSON.stringify(raw)}`);
  return Number(v);
}

/** A scaling target: KEDA's scalers refuse a missing or zero target (kafka: <= 0); so do we. */
function targetOf(md: Record<string, string>, key: string, type: FieldType, def: number | undefined, opts: TriggerOptions): number {
  if (opts.asMetricSource && def === undefined) {
    // Optional for a metric source: the formula's target sizes the workload.
    const v = typed(md, key, type, 0);
    if (v < 0) throw new TriggerMetadataError(key, `must not be negative, got ${md[key]}`);
    return v;
  }
  const v = typed(md, key, type, def);
  if (v <= 0) throw new TriggerMetadataError(key, `must be greater than 0, got ${md[key]}`);
  return v;
}

function slug(...parts: Array<string | undefined>): string {
  return parts
    .filter((p): p is string => !!p)
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
}

const simpleRule =
  (type: string, targetKey: string, fieldType: FieldType, targetDefault: number | undefined, activationKey: string, ...nameKeys: string[]): Rule =>
  (md, opts) => ({
    target: targetOf(md, targetKey, fieldType, targetDefault, opts),
    activationTarget: typed(md, activationKey, fieldType, 0),
    metricName: slug(type, ...nameKeys.map((k) => md[k])),
  });

/** lagThreshold / activationLagThreshold, int64, defaults 10 / 0: kafka, nats-jetstream and featherweight's own queues. */
const lagRule = (type: string, ...nameKeys: string[]): Rule => simpleRule(type, 'lagThreshold', 'int', 10, 'activationLagThreshold', ...nameKeys);

const rabbitModes = ['QueueLength', 'MessageRate', 'DeliverGetRate', 'PublishedToDeliveredRatio', 'ExpectedQueueConsumptionTime'];

// Field types from each scaler's metadata struct tags in KEDA 2.20 (pkg/scalers/*_scaler.go).
const rules: Record<string, Rule> = {
  'nats-jetstream': lagRule('nats-jetstream', 'stream', 'consumer'),
  kafka: lagRule('kafka', 'topic', 'consumerGroup'),
  'apache-kafka': lagRule('kafka', 'topic', 'consumerGroup'),
  // featherweight's own trigger types use the kafka-like keys
  embedded: lagRule('embedded', 'queue'),
  // featherweight's cron *source* scales on its queue's backlog; 'cron' below is KEDA's cron scaler.
  'cron-source': lagRule('cron-source', 'queue'),
  smtp: lagRule('smtp', 'queue'),
  http: lagRule('http', 'queue'),
  mqtt: lagRule('mqtt', 'topic'),
  'redis-streams': (md, opts) => {
    // Mode selection as KEDA: consumerGroup + lagCount -> lag; consumerGroup -> pending entries; else stream length.
    let target: number;
    if (md.consumerGroup) target = md.lagCount?.trim() ? targetOf(md, 'lagCount', 'int', undefined, {}) : targetOf(md, 'pendingEntriesCount', 'int', 5, opts);
    else target = targetOf(md, 'streamLength', 'int', 5, opts);
    return { target, activationTarget: typed(md, 'activationLagCount', 'int', 0), metricName: slug('redis-streams', md.stream, md.consumerGroup) };
  },
  rabbitmq: (md, opts) => {
    const mode = md.mode;
    if (mode !== undefined && !rabbitModes.includes(mode)) {
      throw new TriggerMetadataError('mode', `must be one of ${rabbitModes.join(', ')}, got ${JSON.stringify(mode)}`);
    }
    let target: number;
    if (md.queueLength !== undefined) {
      // deprecated key; KEDA refuses it together with mode/value
      if (mode !== undefined || md.value !== undefined) {
        throw new TriggerMetadataError('queueLength', 'is deprecated and cannot be combined with mode/value: use mode: QueueLength and value');
      }
      target = targetOf(md, 'queueLength', 'float', undefined, {});
    } else if (mode !== undefined || md.value !== undefined) {
      if (mode === undefined) throw new TriggerMetadataError('mode', `required with value (one of ${rabbitModes.join(', ')})`);
      target = targetOf(md, 'value', 'float', undefined, opts);
    } else {
      target = 20; // KEDA: no mode, value or queueLength -> QueueLength 20
    }
    return { target, activationTarget: typed(md, 'activationValue', 'float', 0), metricName: slug('rabbitmq', md.queueName) };
  },
  postgresql: simpleRule('postgresql', 'targetQueryValue', 'float', undefined, 'activationTargetQueryValue', 'dbName'),
  mysql: simpleRule('mysql', 'queryValue', 'float', undefined, 'activationQueryValue', 'dbName'),
  prometheus: simpleRule('prometheus', 'threshold', 'float', undefined, 'activationThreshold', 'metricName'),
  'metrics-api': simpleRule('metrics-api', 'targetValue', 'float', undefined, 'activationTargetValue', 'valueLocation'),
  'kubernetes-workload': simpleRule('kubernetes-workload', 'value', 'float', undefined, 'activationValue', 'podSelector'),
  redis: simpleRule('redis', 'listLength', 'int', 5, 'activationListLength', 'listName'),
  'aws-sqs-queue': simpleRule('aws-sqs-queue', 'queueLength', 'int', 5, 'activationQueueLength', 'queueURL'),
  'azure-queue': simpleRule('azure-queue', 'queueLength', 'int', 5, 'activationQueueLength', 'queueName'),
  'azure-servicebus': simpleRule('azure-servicebus', 'messageCount', 'int', 5, 'activationMessageCount', 'queueName', 'topicName'),
  cron: (md) => {
    for (const key of ['timezone', 'start', 'end', 'desiredReplicas']) {
      if (!md[key]) throw new TriggerMetadataError(key, 'required (cron needs start, end, timezone and desiredReplicas)');
    }
    const desired = typed(md, 'desiredReplicas', 'int');
    if (desired <= 0) throw new TriggerMetadataError('desiredReplicas', `must be a whole number above 0, got ${md.desiredReplicas}`);
    for (const key of ['start', 'end']) {
      const fields = md[key]!.trim().split(/\s+/).length;
      if (fields !== 5) throw new TriggerMetadataError(key, `must be a 5-field cron expression (minute hour day month weekday), got ${JSON.stringify(md[key])}`);
      try {
        new Cron(md[key]!, { timezone: md.timezone });
      } catch (err) {
        throw new TriggerMetadataError(key, `invalid cron expression: ${(err as Error).message}`);
      }
    }
    if (md.start!.trim() === md.end!.trim()) throw new TriggerMetadataError('end', 'start and end must differ');
    // KEDA's cron scaler reports desiredReplicas inside the window and 0 outside (2.18, #6888) against a target of 1.
    return { target: 1, activationTarget: 0, metricName: slug('cron', md.timezone, md.start, md.end) };
  },
};

export const supportedTriggerTypes: readonly string[] = Object.keys(rules);

/** The metric target, activation threshold and metric type of one trigger; throws TriggerMetadataError. */
export function triggerTarget(trigger: TriggerLike, opts: TriggerOptions = {}): TriggerTarget {
  const rule = rules[trigger.type];
  if (!rule) {
    throw new TriggerMetadataError(undefined, `unsupported trigger type ${JSON.stringify(trigger.type)}; supported: ${supportedTriggerTypes.join(', ')}`);
  }
  const metricType = trigger.metricType ?? 'AverageValue';
  if (metricType !== 'AverageValue' && metricType !== 'Value') {
    throw new TriggerMetadataError(undefined, `metricType ${JSON.stringify(metricType)} is not supported for ${trigger.type}: use AverageValue or Value`);
  }
  const r = rule(trigger.metadata, opts);
  return { ...r, metricType };
}

/**
 * KEDA's cron scaler at instant `nowMs`: active when the next end comes before the next start
 * (we are inside a start..end window); value is desiredReplicas inside, 0 outside (KEDA 2.18+).
 */
export function cronSample(trigger: TriggerLike, nowMs: number): { value: number; active: boolean } {
  const md = trigger.metadata;
  const at = new Date(nowMs);
  const nextStart = new Cron(md.start!, { timezone: md.timezone }).nextRun(at);
  const nextEnd = new Cron(md.end!, { timezone: md.timezone }).nextRun(at);
  const active = !!nextEnd && (!nextStart || nextEnd.getTime() <= nextStart.getTime());
  return { value: active ? Number(md.desiredReplicas) : 0, active };
}
