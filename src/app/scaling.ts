import { parseScalingSpec, withTriggers, type ScalingSpec, type TriggerInput } from '../scaling/index.js';
import type { ComponentSpec } from './manifest.js';
import { ValidationError } from '../core/validation.js';
import { triggerPlugin } from '../sources/index.js';
import { scalers } from './scalers/index.js';

/** Extra scaling triggers a component may add beside its own (src/app/scalers), never sources. */
export const extraTriggerTypes: readonly string[] = Object.keys(scalers);

/**
 * The scaler type of a component's own trigger, as its plugin declares it. Only featherweight's
 * cron source differs from its trigger type: it scales on its queue's backlog ('cron-source'),
 * while `cron` in the scaling layer is KEDA's cron scaler (a start..end window), an extra trigger.
 */
export function ownScalerType(triggerType: string): string {
  return triggerPlugin(triggerType)?.scaler ?? triggerType;
}

/**
 * Whether a `scaling.triggers` entry refines the component's own trigger (same type) rather than
 * adding an extra one. An extra-trigger type (cron, postgresql) is always an extra trigger, so a
 * cron-source component's `cron` entry is KEDA's cron window, never its own trigger.
 */
export function refinesOwn(c: Pick<ComponentSpec, 'trigger'>, t: { type?: unknown } | undefined): boolean {
  return !!t && t.type === c.trigger.type && !extraTriggerTypes.includes(c.trigger.type);
}

/**
 * The component's ScaledObject spec with its triggers filled in. The component's own trigger is
 * always a scaling trigger (its lag, with the target and activation from its KEDA metadata); a
 * `scaling.triggers` entry of the same type refines it (name, metricType), and entries of other
 * types (cron, postgresql) are added beside it.
 */
export function resolveScaling(c: ComponentSpec, where = 'scaling'): ScalingSpec {
  const { triggers: listed, ...rest } = c.scaling as { triggers?: unknown };
  const spec = parseScalingSpec(rest, where);
  if (listed !== undefined && !Array.isArray(listed)) {
    throw new ValidationError('scaling spec', [`${where}.triggers: must be a list of KEDA triggers, e.g. [{type: cron, metadata: {...}}]`]);
  }
  const type = ownScalerType(c.trigger.type);
  const own: TriggerInput = { type, metadata: c.trigger.metadata };
  const extra = Array.isArray(listed) ? (listed as TriggerInput[]) : [];
  const refined = extra.find((t) => refinesOwn(c, t));
  const wrongType = extra.flatMap((t, i) =>
    t !== refined && !extraTriggerTypes.includes(t?.type)
      ? [`${where}.triggers[${i}].type: ${t?.type} can only be the component's own trigger; extra scaling triggers may be ${extraTriggerTypes.join(', ')}`]
      : [],
  );
  if (wrongType.length) throw new ValidationError('scaling spec', wrongType);
  const triggers: TriggerInput[] = [
    refined ? { ...refined, type, metadata: { ...c.trigger.metadata, ...(refined.metadata ?? {}) } } : own,
    ...extra.filter((t) => t !== refined),
  ];
  return withTriggers(spec, triggers, where);
}
