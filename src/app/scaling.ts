import { parseScalingSpec, withTriggers, type ScalingSpec, type TriggerInput } from '../scaling/index.js';
import type { ComponentSpec } from './manifest.js';
import { ValidationError } from '../core/validation.js';

/** Extra scaling triggers a component may add beside its own, read in-process (src/app/metric-readers.ts). */
export const extraTriggerTypes = ['cron', 'postgresql'] as const;

/**
 * The component's ScaledObject spec with its triggers filled in. The component's own trigger is
 * always a scaling trigger (its lag, with the target and activation from its KEDA metadata); a
 * `scaling.triggers` entry of the same type refines it (name, metricType), and entries of other
 * types (cron, postgresql) are added beside it.
 */
export function resolveScaling(c: ComponentSpec, where = 'scaling'): ScalingSpec {
  const { triggers: listed, ...rest } = c.scaling as { triggers?: unknown };
  const spec = parseScalingSpec(rest, where);
  const own: TriggerInput = { type: c.trigger.type, metadata: c.trigger.metadata };
  const extra = Array.isArray(listed) ? (listed as TriggerInput[]) : [];
  const refined = extra.find((t) => t && t.type === c.trigger.type);
  const wrongType = extra.flatMap((t, i) =>
    t !== refined && !(extraTriggerTypes as readonly string[]).includes(t?.type)
      ? [`${where}.triggers[${i}].type: ${t?.type} can only be the component's own trigger; extra scaling triggers may be ${extraTriggerTypes.join(', ')}`]
      : [],
  );
  if (wrongType.length) throw new ValidationError('scaling spec', wrongType);
  const triggers: TriggerInput[] = [
    refined ? { ...refined, metadata: { ...c.trigger.metadata, ...(refined.metadata ?? {}) } } : own,
    ...extra.filter((t) => t !== refined),
  ];
  if (listed !== undefined && !Array.isArray(listed)) {
    throw new Error(`${where}.triggers: must be a list of KEDA triggers`);
  }
  return withTriggers(spec, triggers, where);
}
