import { lookup, registry } from '../../core/registry.js';
import type { KubeTrigger } from '../../core/source.js';
import type { TriggerSpec } from '../../scaling/index.js';
import { plugin as cron } from './cron.js';
import { plugin as postgresql } from './postgresql.js';

/** Reads one trigger's metric in-process; rejects when the read fails (the scaler's error rules apply). */
export type Reader = () => Promise<number>;

/**
 * An extra KEDA scaling trigger a component may list in `scaling.triggers` beside its own trigger.
 * Not a source: it carries no events, it only feeds the scaler. Its metadata keys are checked by
 * the scaling layer (src/scaling/triggers.ts has KEDA's rule for `type`).
 */
export interface ScalerPlugin {
  readonly type: string;
  /** The in-process metric reader; null when the scale loop computes the metric itself (cron reads the clock). */
  readonly reader: ((t: TriggerSpec) => Reader) | null;
  /** KEDA's own scaler for it on Kubernetes. */
  readonly kube: Extract<KubeTrigger, { kind: 'native' }>;
}

/** Every extra scaling trigger type, by `scaling.triggers[].type`. */
export const scalers = registry<ScalerPlugin>([cron, postgresql]);

export const scalerPlugin = (type: string): ScalerPlugin | undefined => lookup(scalers, type);
