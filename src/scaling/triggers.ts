/**
 * Per trigger type: which metadata keys hold the scaling target and the activation threshold, with
 * KEDA's defaults for that scaler. Only the scaling keys are validated here; connection keys belong
 * to the source (src/sources) and are ignored by the scaler, as KEDA's scaler ignores keys it does
 * not know.
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

type Rule = (md: Record<string, string>) => { target: number; activationTarget: number; metricName: string };

function num(md: Record<string, string>, key: string, def?: number): number {
  const raw = md[key];
  if (raw === undefined || raw.trim() === '') {
    if (def === undefined) throw new TriggerMetadataError(key, `required (a number, e.g. "10")`);
    return def;
  }
  const v = Number(raw.trim());
  if (!Number.isFinite(v)) throw new TriggerMetadataError(key, `must be a number, got ${JSON.stringify(raw)}`);
  return v;
}

function positive(md: Record<string, string>, key: string, def?: number): number {
  const v = num(md, key, def);
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
  (type: string, targetKey: string, targetDefault: number | undefined, activationKey: string, ...nameKeys: string[]): Rule =>
  (md) => ({
    target: positive(md, targetKey, targetDefault),
    activationTarget: num(md, activationKey, 0),
    metricName: slug(type, ...nameKeys.map((k) => md[k])),
  });

/** lagThreshold / activationLagThreshold, defaults 10 / 0: kafka, nats-jetstream and featherweight's own queues. */
const lagRule = (type: string, ...nameKeys: string[]): Rule => simpleRule(type, 'lagThreshold', 10, 'activationLagThreshold', ...nameKeys);

const rabbitModes = ['QueueLength', 'MessageRate', 'DeliverGetRate', 'PublishedToDeliveredRatio', 'ExpectedQueueConsumptionTime'];

const rules: Record<string, Rule> = {
  'nats-jetstream': lagRule('nats-jetstream', 'stream', 'consumer'),
  kafka: lagRule('kafka', 'topic', 'consumerGroup'),
  'apache-kafka': lagRule('kafka', 'topic', 'consumerGroup'),
  // featherweight's own trigger types use the kafka-like keys
  embedded: lagRule('embedded', 'queue'),
  smtp: lagRule('smtp', 'queue'),
  http: lagRule('http', 'queue'),
  mqtt: lagRule('mqtt', 'topic'),
  'redis-streams': (md) => {
    // Mode selection as KEDA: consumerGroup + lagCount -> lag; consumerGroup -> pending entries; else stream length.
    let target: number;
    if (md.consumerGroup) target = md.lagCount !== undefined ? positive(md, 'lagCount') : positive(md, 'pendingEntriesCount', 5);
    else target = positive(md, 'streamLength', 5);
    return { target, activationTarget: num(md, 'activationLagCount', 0), metricName: slug('redis-streams', md.stream, md.consumerGroup) };
  },
  rabbitmq: (md) => {
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
      target = positive(md, 'queueLength');
    } else if (mode !== undefined || md.value !== undefined) {
      if (mode === undefined) throw new TriggerMetadataError('mode', `required with value (one of ${rabbitModes.join(', ')})`);
      target = positive(md, 'value');
    } else {
      target = 20; // KEDA: no mode, value or queueLength -> QueueLength 20
    }
    return { target, activationTarget: num(md, 'activationValue', 0), metricName: slug('rabbitmq', md.queueName) };
  },
  postgresql: simpleRule('postgresql', 'targetQueryValue', undefined, 'activationTargetQueryValue', 'dbName'),
  mysql: simpleRule('mysql', 'queryValue', undefined, 'activationQueryValue', 'dbName'),
  prometheus: simpleRule('prometheus', 'threshold', undefined, 'activationThreshold', 'metricName'),
  'metrics-api': simpleRule('metrics-api', 'targetValue', undefined, 'activationTargetValue', 'valueLocation'),
  redis: simpleRule('redis', 'listLength', 5, 'activationListLength', 'listName'),
  'aws-sqs-queue': simpleRule('aws-sqs-queue', 'queueLength', 5, 'activationQueueLength', 'queueURL'),
  'azure-queue': simpleRule('azure-queue', 'queueLength', 5, 'activationQueueLength', 'queueName'),
  'azure-servicebus': simpleRule('azure-servicebus', 'messageCount', 5, 'activationMessageCount', 'queueName', 'topicName'),
  cron: (md) => {
    for (const key of ['timezone', 'start', 'end', 'desiredReplicas']) {
      if (!md[key]) throw new TriggerMetadataError(key, 'required (cron needs start, end, timezone and desiredReplicas)');
    }
    const desired = num(md, 'desiredReplicas');
    if (!Number.isInteger(desired) || desired <= 0) throw new TriggerMetadataError('desiredReplicas', `must be a whole number above 0, got ${md.desiredReplicas}`);
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
    // KEDA's cron scaler reports desiredReplicas inside the window and 1 outside against a target of 1.
    return { target: 1, activationTarget: 0, metricName: slug('cron', md.timezone, md.start, md.end) };
  },
};

export const supportedTriggerTypes: readonly string[] = Object.keys(rules);

/** The metric target, activation threshold and metric type of one trigger; throws TriggerMetadataError. */
export function triggerTarget(trigger: TriggerLike): TriggerTarget {
  const rule = rules[trigger.type];
  if (!rule) {
    throw new TriggerMetadataError(undefined, `unsupported trigger type ${JSON.stringify(trigger.type)}; supported: ${supportedTriggerTypes.join(', ')}`);
  }
  const metricType = trigger.metricType ?? 'AverageValue';
  if (metricType !== 'AverageValue' && metricType !== 'Value') {
    throw new TriggerMetadataError(undefined, `metricType ${JSON.stringify(metricType)} is not supported for ${trigger.type}: use AverageValue or Value`);
  }
  const r = rule(trigger.metadata);
  return { ...r, metricType };
}

/**
 * KEDA's cron scaler at instant `nowMs`: active when the next end comes before the next start
 * (we are inside a start..end window); value is desiredReplicas inside, 1 outside.
 */
export function cronSample(trigger: TriggerLike, nowMs: number): { value: number; active: boolean } {
  const md = trigger.metadata;
  const at = new Date(nowMs);
  const nextStart = new Cron(md.start!, { timezone: md.timezone }).nextRun(at);
  const nextEnd = new Cron(md.end!, { timezone: md.timezone }).nextRun(at);
  const active = !!nextEnd && (!nextStart || nextEnd.getTime() <= nextStart.getTime());
  return { value: active ? Number(md.desiredReplicas) : 1, active };
}
