// Activation from zero: time from publishing one event on the embedded queue to the scaler setting
// the first replica, through the real path (publish -> SQLite commit -> notify -> lag read -> KEDA
// decision -> setReplicas). Goal: <= 1 ms p50. Baseline in the same run: the same loop with push
// off, where activation waits for KEDA's poll (pollingInterval 1 s here; KEDA's default is 30 s).
// Usage: npm run bench activation   (FW_BENCH_TRIALS=200)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createEmbeddedQueue } from '../dist/sources/embedded/index.js';
import { createScaleLoop, parseScalingSpec, withTriggers } from '../dist/scaling/index.js';

const log = { info() {}, warn() {}, error() {} };
const clock = { now: () => Date.now(), setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

async function trial(push: boolean, dir: string, i: number): Promise<number> {
  const source = createEmbeddedQueue(dir, { queue: `q${push ? 'p' : 'n'}${i}` });
  const spec = withTriggers(parseScalingSpec({ pollingInterval: 1, cooldownPeriod: 300, minReplicaCount: 0, maxReplicaCount: 4 }), [{ type: 'embedded', metadata: {} }]);
  let replicas = 0;
  let activatedAt = 0;
  let onActive: () => void = () => {};
  const active = new Promise<void>((r) => (onActive = r));
  const loop = createScaleLoop({
    spec,
    clock,
    readMetrics: async () => ({ [spec.triggers[0]!.name]: (await source.lag()).lag }),
    target: {
      setReplicas(n) {
        if (replicas === 0 && n > 0) {
          activatedAt = performance.now();
          onActive();
        }
        replicas = n;
      },
      currentReplicas: () => replicas,
    },
  });
  await source.start({ notify: push ? () => loop.notify() : () => {}, log });
  loop.start();
  await loop.settled();
  // Publish at a random point of the poll period, as events do.
  await new Promise((r) => setTimeout(r, Math.random() * 1000));
  const t0 = performance.now();
  await source.publish({ id: `e${i}`, source: 'embedded', subject: 'q', headers: {}, body: new Uint8Array([123, 125]) });
  await active;
  loop.stop();
  await source.close();
  return activatedAt - t0;
}

export async function run(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-bench-act-'));
  const trials = Number(process.env.FW_BENCH_TRIALS ?? 200);
  try {
    const pushed: number[] = [];
    for (let i = 0; i < trials; i++) pushed.push(await trial(true, dir, i));
    const polled: number[] = [];
    for (let i = 0; i < Math.min(20, trials); i++) polled.push(await trial(false, dir, i));
    const p50 = pct(pushed, 0.5);
    console.log(`  push (notify on enqueue)     p50 ${p50.toFixed(3)} ms  p99 ${pct(pushed, 0.99).toFixed(3)} ms  (${trials} trials)  goal <= 1 ms p50: ${p50 <= 1 ? 'met' : 'NOT met'}`);
    console.log(`  poll only (pollingInterval 1s) p50 ${pct(polled, 0.5).toFixed(1)} ms  (${polled.length} trials)  ratio ${(pct(polled, 0.5) / p50).toFixed(0)}x; KEDA's default 30 s poll averages 15,000 ms`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
