import type { ScalerPlugin } from './index.js';

/**
 * KEDA's cron scaler: desiredReplicas inside a start..end window (not featherweight's cron trigger,
 * which is a source and scales on its queue as 'cron-source'). The window is evaluated from the
 * clock by the scale loop (src/scaling), so nothing is read in-process.
 */
export const plugin: ScalerPlugin = {
  type: 'cron',
  reader: null,
  kube: { kind: 'native', type: 'cron', keys: ['timezone', 'start', 'end', 'desiredReplicas'], required: ['timezone', 'start', 'end', 'desiredReplicas'], secrets: [] },
};
