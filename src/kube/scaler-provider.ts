import type { RunningApp } from '../app/app.js';
import type { Activity } from '../scaling/index.js';
import type { ScalerProvider } from './external-scaler.js';

/**
 * KEDA's view of a running app through the external scaler. Activity is the component's own scaling
 * state (every scaling trigger, scalingModifiers and fallback, as its scale loop decides it), not a
 * separate rule. The metric is one number KEDA divides by `target`: the composite under
 * scalingModifiers; else the component trigger's lag (which already counts in-flight events), or,
 * with extra triggers, the busiest trigger expressed in the own trigger's units
 * (max of value / target, times the own target), so KEDA's HPA asks for the replicas featherweight's does.
 */
export function scalerProvider(app: RunningApp): ScalerProvider {
  return {
    component(name) {
      const c = app.components.get(name);
      if (!c) return undefined;
      const sm = c.scaling.scalingModifiers;
      const ownTarget = (a: Activity) => a.triggers[0]!.target;
      const metricOf = (a: Activity): number => {
        if (sm) return a.composite ?? 0;
        if (a.triggers.length === 1) return a.triggers[0]!.value ?? 0;
        const ratios = a.triggers.filter((t) => t.value !== null && t.target > 0).map((t) => t.value! / t.target);
        return ratios.length ? Math.max(...ratios) * ownTarget(a) : 0;
      };
      const own = c.scaler.state().triggers[0]!;
      return {
        metricValue: async () => metricOf(await c.scaler.activity()),
        target: sm ? sm.target : own.target,
        activationTarget: sm ? sm.activationTarget : own.activationTarget,
        isActive: async () => (await c.scaler.activity()).active,
        onLag: (cb) => c.onLag(cb),
      };
    },
  };
}
