import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Outcome } from './dispatcher.js';
import type { ComponentState } from './component.js';

/**
 * Prometheus metrics of one app. Counters and histograms are observed as events settle; gauges are
 * read from the components' live state at scrape time, so they are never stale.
 */
export function createMetrics(states: () => ComponentState[], deadLetterCount: (component: string) => number) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'featherweight_process_' });
  const events = new Counter({
    name: 'featherweight_events_total',
    help: 'Events settled, by outcome: ok (committed and acked), retry (nacked), dead (dead-lettered).',
    labelNames: ['component', 'outcome'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'featherweight_event_latency_seconds',
    help: 'From enqueue to the sink commit, for events that succeeded.',
    labelNames: ['component'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const run = new Histogram({
    name: 'featherweight_guest_run_seconds',
    help: 'Time a guest ran on its thread (its fresh instance, unless made ahead while the thread waited; the run; its output).',
    labelNames: ['component'],
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  });
  const coldStarts = new Histogram({
    name: 'featherweight_cold_start_latency_seconds',
    help: 'Enqueue-to-commit latency of events that had to wait for a worker thread to start.',
    labelNames: ['component'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const gauge = (name: string, help: string, labelNames: string[], read: (g: Gauge) => void) =>
    new Gauge({ name, help, labelNames, registers: [registry], collect() { this.reset(); read(this); } });

  gauge('featherweight_replicas_desired', 'Replicas the scaler wants.', ['component'], (g) => {
    for (const s of states()) g.set({ component: s.name }, s.replicas.desired);
  });
  gauge('featherweight_replicas_current', 'Replica slots open in the pool.', ['component'], (g) => {
    for (const s of states()) g.set({ component: s.name }, s.replicas.current);
  });
  gauge('featherweight_lag', 'Scaling metric of the component trigger (backlog incl. in-flight).', ['component'], (g) => {
    for (const s of states()) g.set({ component: s.name }, s.lag);
  });
  gauge('featherweight_in_flight', 'Events delivered and not yet settled.', ['component'], (g) => {
    for (const s of states()) g.set({ component: s.name }, s.inFlight);
  });
  gauge('featherweight_dead_letters', 'Events in the dead-letter store.', ['component'], (g) => {
    for (const s of states()) g.set({ component: s.name }, deadLetterCount(s.name));
  });
  // Same names and meaning as KEDA's keda_scaler_metrics_value / keda_scaler_active.
  gauge('featherweight_scaler_metrics_value', 'Current value of each scaler metric (as KEDA reports it).', ['component', 'scaler', 'metric'], (g) => {
    for (const s of states()) for (const t of s.scaler.triggers) g.set({ component: s.name, scaler: t.type, metric: t.name }, t.value ?? 0);
  });
  gauge('featherweight_scaler_active', '1 when the scaler is active (value above its activation threshold).', ['component', 'scaler', 'metric'], (g) => {
    for (const s of states()) for (const t of s.scaler.triggers) g.set({ component: s.name, scaler: t.type, metric: t.name }, t.active ? 1 : 0);
  });

  return {
    registry,
    observe(component: string, o: Outcome) {
      events.inc({ component, outcome: o.kind });
      if (o.kind !== 'ok') return;
      latency.observe({ component }, o.latencyMs / 1000);
      run.observe({ component }, o.runUs / 1e6);
      if (o.coldStart) coldStarts.observe({ component }, o.latencyMs / 1000);
    },
  };
}

export type AppMetrics = ReturnType<typeof createMetrics>;
