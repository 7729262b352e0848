/**
 * KEDA's view equals ours: KEDA's nats-jetstream scaler reads the NATS monitoring endpoint
 * (`/jsz?acc=<account>&consumers=true&config=true`), finds the account by id or name, the stream
 * and the consumer by name, and scales on num_pending + num_ack_pending. A worker process (a
 * separate `featherweight up --only worker`) must report that same number in its API and in
 * /metrics. The machine's NATS is used when it serves monitoring on 8222; otherwise the test starts
 * its own nats-server with -js -m on free ports (and fails under CI when it cannot).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { stringify } from 'yaml';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { guest, tempDir, waitUntil } from './helpers.js';
import { freePort, killAll, startUp, type UpProcess } from './multi-host-procs.js';

interface Nats { client: string; monitor: string; stop(): Promise<void> }

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

/** A NATS with JetStream and monitoring: the machine's (4222 + 8222) or one of our own. */
async function natsWithMonitoring(t: TestContext): Promise<Nats | undefined> {
  if (await answers('http://127.0.0.1:8222/jsz')) return { client: 'nats://127.0.0.1:4222', monitor: '127.0.0.1:8222', stop: async () => {} };
  const which = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  const bin = which.stdout.trim();
  if (!bin) {
    const reason = 'no NATS monitoring on 127.0.0.1:8222 and no nats-server binary to start one with -js -m';
    if (process.env.CI) throw new Error(`${reason} (CI is set, so this fails instead of skipping)`);
    console.log(`# SKIP ${t.name}: ${reason}`);
    t.skip(reason);
    return undefined;
  }
  const [port, mport] = [await freePort(), await freePort()];
  const store = tempDir('fw-nats-');
  const child: ChildProcess = spawn(bin, ['-a', '127.0.0.1', '-p', String(port), '-m', String(mport), '-js', '-sd', store], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitUntil(`nats-server on ${port} (monitoring ${mport}) to answer /jsz; its log: ${err.slice(-500)}`, () => answers(`http://127.0.0.1:${mport}/jsz`), 60_000);
  return {
    client: `nats://127.0.0.1:${port}`,
    monitor: `127.0.0.1:${mport}`,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      fs.rmSync(store, { recursive: true, force: true });
    },
  };
}

interface Jsz { account_details?: Array<{ id: string; name: string; stream_detail?: Array<{ name: string; consumer_detail?: Array<{ name: string; num_pending: number; num_ack_pending: number }> }> }> }

/** The lag as KEDA's nats-jetstream scaler computes it from the monitoring endpoint. */
async function kedaLag(monitor: string, account: string, stream: string, consumer: string): Promise<{ lag: number; pending: number; ackPending: number }> {
  const q = new URLSearchParams({ acc: account, consumers: 'true', config: 'true' });
  const jsz = (await (await fetch(`http://${monitor}/jsz?${q}`)).json()) as Jsz;
  const acc = jsz.account_details?.find((a) => a.id === account || a.name === account);
  const c = acc?.stream_detail?.find((s) => s.name === stream)?.consumer_detail?.find((x) => x.name === consumer);
  if (!c) throw new Error(`consumer ${consumer} of stream ${stream} not in /jsz`);
  return { lag: c.num_pending + c.num_ack_pending, pending: c.num_pending, ackPending: c.num_ack_pending };
}

const metricValue = (text: string, name: string, component: string): number | undefined => {
  const re = new RegExp(`^${name}\\{[^}]*component="${component}"[^}]*\\} (\\S+)$`, 'm');
  const m = re.exec(text);
  return m ? Number(m[1]) : undefined;
};

test("KEDA's nats-jetstream lag (/jsz num_pending + num_ack_pending) equals the worker's API and /metrics", { timeout: 300_000 }, async (t) => {
  const nats = await natsWithMonitoring(t);
  if (!nats) return;
  const stream = `FWKL_${randomUUID().slice(0, 8)}`;
  const dir = tempDir('fw-keda-lag-');
  const file = path.join(dir, 'featherweight.yaml');
  // A guest that never finishes (within the test): the replicas hold their messages (num_ack_pending)
  // while the rest waits in the stream (num_pending), so the two numbers are both non-zero and stable.
  fs.writeFileSync(file, stringify({
    apiVersion: 'featherweight.dev/v1',
    kind: 'App',
    metadata: { name: 'kl' },
    components: [{
      name: 'worker',
      module: guest('loop'),
      limits: { timeout: '5m' },
      trigger: { type: 'nats-jetstream', metadata: { servers: nats.client, stream, subject: `${stream}.>`, consumer: 'workers', ackWait: '10s', natsServerMonitoringEndpoint: nats.monitor, lagThreshold: '1' } },
      scaling: { pollingInterval: 1, cooldownPeriod: 300, minReplicaCount: 0, maxReplicaCount: 3 },
      sink: { type: 'sqlite' },
    }],
  }));
  const nc = await connect({ servers: nats.client });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
  let worker: UpProcess | undefined;
  try {
    worker = await startUp('worker', file, 'worker', path.join(dir, 'w'));
    const js = jetstream(nc);
    for (let i = 0; i < 20; i++) await js.publish(`${stream}.in`, new TextEncoder().encode(`event ${i}`));

    let last: { keda: number; api: number; metric: number | undefined; scaler: number | undefined; pending: number; ackPending: number } | undefined;
    await waitUntil('KEDA, the API and /metrics agree on a lag with messages both pending and held', async () => {
      const keda = await kedaLag(nats.monitor, '$G', stream, 'workers');
      const state = await worker!.state('worker');
      const metrics = await worker!.metrics();
      const again = await kedaLag(nats.monitor, '$G', stream, 'workers');
      last = {
        keda: keda.lag,
        api: state.lag,
        metric: metricValue(metrics, 'featherweight_lag', 'worker'),
        scaler: metricValue(metrics, 'featherweight_scaler_metrics_value', 'worker'),
        pending: keda.pending,
        ackPending: keda.ackPending,
      };
      // Compared only while the broker's numbers stand still between the two reads. The scaler's
      // value is its last poll's (as KEDA's keda_scaler_metrics_value is), so it may trail the lag,
      // which every read refreshes, by up to one pollingInterval: it is waited for, not sampled once.
      return keda.lag === again.lag && keda.ackPending === again.ackPending && keda.ackPending > 0 && keda.pending > 0 && last.api === keda.lag && last.metric === keda.lag && last.scaler === keda.lag;
    }, 120_000).catch((err: Error) => {
      throw new Error(`${err.message}; last seen ${JSON.stringify(last)}`);
    });
    assert.equal(last!.keda, 20, 'nothing was acknowledged: the lag is every message');
    assert.equal(last!.api, last!.keda);
    assert.equal(last!.metric, last!.keda);
    assert.equal(last!.scaler, last!.keda, "featherweight_scaler_metrics_value (KEDA's keda_scaler_metrics_value) is the same number");
  } finally {
    killAll([worker]);
    await worker?.exited;
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
    await nats.stop();
  }
});
