import type { Outcome } from './dispatcher.js';

/** Running counts and recent latencies of one component, for the API, dashboard and demo. */
export interface ComponentCounters {
  processed: number;
  retried: number;
  deadLettered: number;
  records: number;
  coldStarts: number;
  /** Epoch ms of the first committed row, once there is one. */
  firstRowAt?: number;
  /** Highest replica count the scaler has set. */
  peakReplicas: number;
}

export interface LatencySummary { p50: number; p99: number; count: number }

/** Ring buffer of the last `size` end-to-end latencies (enqueue to ack), in ms. */
export function createLatencyWindow(size = 4096) {
  const values = new Float64Array(size);
  let next = 0;
  let filled = 0;
  return {
    add(ms: number) {
      values[next] = ms;
      next = (next + 1) % size;
      filled = Math.min(filled + 1, size);
    },
    summary(): LatencySummary {
      if (filled === 0) return { p50: 0, p99: 0, count: 0 };
      const sorted = Array.from(values.subarray(0, filled)).sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(filled - 1, Math.floor(q * filled))]!;
      return { p50: at(0.5), p99: at(0.99), count: filled };
    },
  };
}

export function createCounters() {
  const counters: ComponentCounters = { processed: 0, retried: 0, deadLettered: 0, records: 0, coldStarts: 0, peakReplicas: 0 };
  const latency = createLatencyWindow();
  return {
    counters,
    latency,
    record(o: Outcome) {
      if (o.coldStart) counters.coldStarts++;
      if (o.kind === 'ok') {
        counters.processed++;
        counters.records += o.records;
        if (o.records > 0 && counters.firstRowAt === undefined) counters.firstRowAt = Date.now();
        latency.add(o.latencyMs);
      } else if (o.kind === 'retry') counters.retried++;
      else counters.deadLettered++;
    },
    replicasSet(n: number) {
      counters.peakReplicas = Math.max(counters.peakReplicas, n);
    },
  };
}
