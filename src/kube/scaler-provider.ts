import type { RunningApp } from '../app/app.js';
import { triggerTarget } from '../scaling/index.js';
import type { ScalerProvider } from './external-scaler.js';

/**
 * KEDA's view of a running app through the external scaler: the metric is the component trigger's
 * lag (which already counts in-flight events), with the target and activation threshold from the
 * trigger's KEDA metadata, so KEDA sizes pods with the same numbers featherweight sizes replicas.
 */
export function scalerProvider(app: RunningApp): ScalerProvider {
  return {
    component(name) {
      const c = app.components.get(name);
      if (!c) return undefined;
      const own = c.scaling.triggers[0]!;
      const { target, activationTarget } = triggerTarget(own);
      const metricValue = async () => (await c.source.lag()).lag;
      return {
        metricValue,
        target,
        activationTarget,
        isActive: async () => (await metricValue()) > activationTarget,
        onLag: (cb) => c.onLag(cb),
      };
    },
  };
}
