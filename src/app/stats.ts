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

/** Latency quantiles over the last `windowMs`; `count` is how many events that window holds. */
export interface LatencySummary { p50: number; p99: number; count: number; windowMs: number }

const SLOT_MS = 1000;
// Bucket i holds latencies in (FLOOR_MS * GROWTH^(i-1), FLOOR_MS * GROWTH^i]: 5% wide, so a reported
// quantile is at most 5% above the true one (and never above the largest latency seen).
const FLOOR_MS = 0.01;
const GROWTH = 1.05;
const LOG_GROWTH = Math.log(GROWTH);

interface Slot { second: number; counts: Map<number, number>; max: number }

/**
 * End-to-end latencies (enqueue to ack, ms) of the last `windowMs` (60 s by default), in one-second
 * slots of log-spaced buckets: a summary costs the same at 10 or 100,000 events/s, and when the
 * component goes idle its old latencies age out instead of standing still in a count-based window.
 */
export function createLatencyWindow(windowMs = 60_000, now: () => number = Date.now) {
  const slots: Slot[] = [];
  const oldest = () => Math.floor(now() / SLOT_MS) - Math.ceil(windowMs / SLOT_MS) + 1;
  const prune = () => {
    const first = oldest();
    while (slots.length > 0 && slots[0]!.second < first) slots.shift();
  };
  return {
    add(ms: number) {
      const second = Math.floor(now() / SLOT_MS);
      let slot = slots.at(-1);
      if (!slot || slot.second !== second) {
        slot = { second, counts: new Map(), max: 0 };
        slots.push(slot);
        prune();
      }
      const v = Math.max(0, ms);
      const bucket = v <= FLOOR_MS ? 0 : Math.ceil(Math.log(v / FLOOR_MS) / LOG_GROWTH);
      slot.counts.set(bucket, (slot.counts.get(bucket) ?? 0) + 1);
      slot.max = Math.max(slot.max, v);
    },
    summary(): LatencySummary {
      prune();
      const merged = new Map<number, number>();
      let count = 0;
      let max = 0;
      for (const slot of slots) {
        for (const [b, n] of slot.counts) merged.set(b, (merged.get(b) ?? 0) + n);
        count += [...slot.counts.values()].reduce((a, n) => a + n, 0);
        max = Math.max(max, slot.max);
      }
      if (count === 0) return { p50: 0, p99: 0, count: 0, windowMs };
      const buckets = [...merged.keys()].sort((a, b) => a - b);
      // nearest rank: the smallest latency that at least q of the events did not exceed
      const at = (q: number) => {
        const rank = Math.max(1, Math.ceil(q * count));
        let seen = 0;
        for (const b of buckets) {
          seen += merged.get(b)!;
          if (seen >= rank) return Math.min(max, FLOOR_MS * GROWTH ** b);
        }
        return max;
      };
      return { p50: at(0.5), p99: at(0.99), count, windowMs };
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
