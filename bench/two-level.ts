// Two-level scaling for one burst (issue 16): inside a pod the replicas of a nats-jetstream worker go
// 0 -> maxReplicaCount as the lag appears; a new pod is a new `featherweight up` process, whose time
// from spawn to its first processed event is the floor of what KEDA + Kubernetes add per pod (no
// image pull, no scheduling, no KEDA poll). Both are measured on the same burst kind in one run; the
// ratio is process start / in-process activation.
// Usage: npm run bench -- two-level   (FW_BENCH_TRIALS=5, FW_BENCH_BURST=5000; needs NATS on 4222 and dist/)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { stringify } from 'yaml';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { parseManifest } from '../dist/app/manifest.js';
import { startApp } from '../dist/app/app.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const echo = path.join(root, 'guests/build/echo.wasm');
const MAX = 8;

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

function component(stream: string, consumer: string) {
  return {
    name: 'worker',
    module: echo,
    trigger: { type: 'nats-jetstream', metadata: { stream, subject: `${stream}.>`, consumer, ackWait: '10s', lagThreshold: '1' } },
    scaling: {
      pollingInterval: 1,
      cooldownPeriod: 300,
      minReplicaCount: 0,
      maxReplicaCount: MAX,
      advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: MAX, periodSeconds: 1 }] } } } },
    },
    hpaSyncPeriod: '250ms',
    sink: { type: 'sqlite' },
  };
}

/** Publishes n events, all in flight at once. */
async function publishBurst(nc: NatsConnection, stream: string, n: number): Promise<void> {
  const js = jetstream(nc);
  await Promise.all(Array.from({ length: n }, (_, i) => js.publish(`${stream}.in`, new TextEncoder().encode(`{"i":${i}}`))));
}

/**
 * The burst comes from another process (as from an ingress pod), so the app's event loop is not
 * busy publishing; it prints its clock (epoch ms, sub-ms) as the first publish goes out.
 */
function burstFromChild(stream: string, n: number): Promise<number> {
  const code = `
    const { connect } = await import('@nats-io/transport-node');
    const { jetstream } = await import('@nats-io/jetstream');
    const nc = await connect({ servers: '127.0.0.1:4222' });
    const js = jetstream(nc);
    const t = Date.now();
    await Promise.all(Array.from({ length: ${n} }, (_, i) => js.publish('${stream}.in', new TextEncoder().encode('{"i":' + i + '}'))));
    console.log(t);
    await nc.close();`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.once('exit', (c) => (c === 0 ? resolve(Number(out.trim())) : reject(new Error(`burst publisher exited ${c}`))));
  });
}

/** In one process: burst published -> first replica, -> all MAX replicas (KEDA activation + HPA step in-process). */
async function inProcess(burst: number): Promise<{ first: number; full: number }> {
  const stream = `FWB2_${randomUUID().slice(0, 8)}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-bench-2l-'));
  const nc = await connect({ servers: '127.0.0.1:4222' });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
  const app = await startApp(parseManifest({ apiVersion: 'featherweight.dev/v1', kind: 'App', metadata: { name: 'b' }, dataDir: dir, components: [component(stream, 'w')] }, { baseDir: dir }), { log: pino({ level: 'silent' }) });
  try {
    const c = app.components.get('worker')!;
    await new Promise((r) => setTimeout(r, 1500)); // settled at zero
    // Date.now() on both sides: performance.timeOrigin of two processes was seen ~0.8 s apart.
    const now = () => Date.now();
    let first = 0;
    let full = 0;
    const watch = setInterval(() => {
      const n = c.pool.replicas;
      if (!first && n > 0) first = now();
      if (!full && n >= MAX) full = now();
    }, 1);
    const t0 = await burstFromChild(stream, burst);
    const end = now() + 60_000;
    while (!full && now() < end) await new Promise((r) => setTimeout(r, 5));
    clearInterval(watch);
    return { first: first - t0, full: full ? full - t0 : NaN };
  } finally {
    await app.close();
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A new "pod": `featherweight up` from dist/ joins the consumer of a waiting burst; spawn -> its first event done. */
async function newProcess(burst: number): Promise<number> {
  const stream = `FWB2_${randomUUID().slice(0, 8)}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-bench-2l-'));
  const nc = await connect({ servers: '127.0.0.1:4222' });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
  await publishBurst(nc, stream, burst);
  const file = path.join(dir, 'featherweight.yaml');
  fs.writeFileSync(file, stringify({ apiVersion: 'featherweight.dev/v1', kind: 'App', metadata: { name: 'b' }, dataDir: dir, components: [component(stream, 'w')] }));
  const t0 = performance.now();
  const child = spawn(process.execPath, [path.join(root, 'bin/featherweight.js'), 'up', file, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FEATHERWEIGHT_LOG_LEVEL: 'info' } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  try {
    let url: string | undefined;
    while (!url && performance.now() - t0 < 120_000) {
      url = /"url":"(http:[^"]+)","components"/.exec(out)?.[1];
      if (!url) await new Promise((r) => setTimeout(r, 5));
    }
    if (!url) throw new Error(`featherweight up did not come up:\n${out.slice(-2000)}`);
    for (;;) {
      const s = (await (await fetch(`${url}/v1/components/worker`)).json()) as { counters: { processed: number } };
      if (s.counters.processed > 0) return performance.now() - t0;
      if (performance.now() - t0 > 120_000) throw new Error('no event processed');
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  if (!fs.existsSync(path.join(root, 'dist/cli/bin.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const trials = Number(process.env.FW_BENCH_TRIALS ?? 5);
  const burst = Number(process.env.FW_BENCH_BURST ?? 5000);
  const firsts: number[] = [];
  const fulls: number[] = [];
  const procs: number[] = [];
  for (let i = 0; i < trials; i++) {
    const r = await inProcess(burst);
    firsts.push(r.first);
    fulls.push(r.full);
    procs.push(await newProcess(burst));
  }
  const load = os.loadavg()[0]!.toFixed(1);
  console.log(`two-level scaling, burst of ${burst} on JetStream, maxReplicaCount ${MAX}, echo guest (node ${process.version}, ${os.availableParallelism()} cores, load average ${load}, ${trials} trials)`);
  console.log(`  in the process: first replica   p50 ${pct(firsts, 0.5).toFixed(1)} ms  max ${Math.max(...firsts).toFixed(1)} ms`);
  const reached = fulls.filter((f) => !Number.isNaN(f));
  console.log(
    reached.length === fulls.length
      ? `  in the process: 0 -> ${MAX} replicas   p50 ${pct(reached, 0.5).toFixed(1)} ms  max ${Math.max(...reached).toFixed(1)} ms`
      : `  in the process: 0 -> ${MAX} replicas   reached in ${reached.length} of ${fulls.length} trials (the others drained the burst first)${reached.length ? `, p50 ${pct(reached, 0.5).toFixed(1)} ms` : ''}`,
  );
  console.log(`  a new process (pod floor): spawn -> first event done   p50 ${pct(procs, 0.5).toFixed(0)} ms  max ${Math.max(...procs).toFixed(0)} ms  ratio ${(pct(procs, 0.5) / pct(firsts, 0.5)).toFixed(0)}x the first in-process replica`);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
