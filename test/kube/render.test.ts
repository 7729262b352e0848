import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { loadManifest, parseManifest, type AppManifest } from '../../src/app/manifest.js';
import { readRawManifest, renderApp, toYaml, RUNWASI_HANDLER } from '../../src/kube/render.js';
import { repoRoot, runCli } from '../helpers/cli.js';

const wasm = Buffer.from('0061736d01000000', 'hex');

function setup(t: { after: (fn: () => void) => void }, manifest: string): { file: string; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-render-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'handler.wasm'), wasm);
  const file = path.join(dir, 'featherweight.yaml');
  fs.writeFileSync(file, manifest);
  return { file, dir };
}

const mailApp = `
apiVersion: featherweight.dev/v1
kind: App
metadata: { name: mail }
components:
  - name: lines
    module: handler.wasm
    limits: { maxMemory: 16MiB, timeout: 2s }
    grants: { env: [MAIL_SECRET] }
    trigger:
      type: smtp
      metadata: { listen: 127.0.0.1:2526, lagThreshold: "5", activationLagThreshold: "0" }
    scaling:
      pollingInterval: 1
      cooldownPeriod: 5
      minReplicaCount: 0
      maxReplicaCount: 8
`;

type K = { kind: string; metadata: { name: string }; spec?: any; data?: any; binaryData?: any; handler?: string };

function render(file: string, opts: Parameters<typeof renderApp>[1] = {}): K[] {
  return renderApp(loadManifest(file, { MAIL_SECRET: 'hunter2' }), { rawDoc: readRawManifest(file), ...opts }) as unknown as K[];
}

test('container mode: ConfigMap with module and pod manifest, Services, Deployment, external-push ScaledObject', (t) => {
  const { file } = setup(t, mailApp);
  const warnings: string[] = [];
  const objs = render(file, { namespace: 'mailns', image: 'registry.local/fw:1', warn: (m) => warnings.push(m) });
  assert.deepEqual(objs.map((o) => `${o.kind}/${o.metadata.name}`), [
    'ConfigMap/mail-lines', 'Service/mail-lines', 'Service/mail-lines-scaler', 'StatefulSet/mail-lines', 'ScaledObject/mail-lines',
  ]);
  const cm = objs[0]!;
  assert.deepEqual(Buffer.from(cm.binaryData['lines.wasm'], 'base64'), wasm);
  const text: string = cm.data['featherweight.yaml'];
  assert.ok(!text.includes('hunter2'), 'env grant values from the host never land in the ConfigMap');

  // The pod manifest is a valid featherweight manifest in the container's layout.
  const podDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-pod-'));
  t.after(() => fs.rmSync(podDir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(podDir, 'lines.wasm'), wasm); // the ConfigMap's file, as mounted in the pod
  const pod = parseManifest(parseYaml(text), { baseDir: podDir, env: { MAIL_SECRET: 'x' } });
  assert.equal(pod.dataDir, '/data');
  assert.equal(pod.server.listen, '0.0.0.0:8080');
  assert.equal(pod.server.kedaScaler, '0.0.0.0:9090');
  assert.equal(pod.components[0]!.module, path.join(podDir, 'lines.wasm'));
  assert.equal(pod.components[0]!.trigger.metadata.listen, '0.0.0.0:2526');

  const smtpSvc = objs[1]!;
  assert.deepEqual(smtpSvc.spec.ports, [{ name: 'smtp', port: 2526, targetPort: 'smtp', protocol: 'TCP' }]);
  const dep = objs[3]!;
  const pod0 = dep.spec.template.spec;
  const c = pod0.containers[0];
  assert.equal(c.image, 'registry.local/fw:1');
  assert.deepEqual(c.args, ['up', '/etc/featherweight/featherweight.yaml']);
  assert.equal(c.readinessProbe.httpGet.path, '/healthz');
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(pod0.securityContext.runAsNonRoot, true);
  assert.equal(c.resources.limits.memory, `${128 + 8 * 16}Mi`);
  assert.deepEqual(c.env.find((e: any) => e.name === 'MAIL_SECRET').valueFrom, { secretKeyRef: { name: 'mail-lines-env', key: 'MAIL_SECRET' } });
  assert.deepEqual(c.ports.map((p: any) => p.containerPort), [8080, 2526, 9090]);
  // The smtp trigger's queue holds mail already answered 250: on a volume claim, never an emptyDir.
  assert.ok(!pod0.volumes.some((v: any) => v.name === 'data'), 'no emptyDir for the queue');
  assert.deepEqual(dep.spec.volumeClaimTemplates.map((v: any) => [v.metadata.name, v.spec.accessModes, v.spec.resources.requests.storage]), [['data', ['ReadWriteOnce'], '1Gi']]);
  assert.ok(c.volumeMounts.some((m: any) => m.name === 'data' && m.mountPath === '/data'));
  assert.equal(dep.spec.podManagementPolicy, 'Parallel');
  assert.deepEqual(c.lifecycle.preStop.exec.command.slice(0, 2), ['node', '-e'], 'preStop lets the Service drop the pod before SIGTERM');
  assert.equal(pod0.terminationGracePeriodSeconds, 5 + 30 + 2 + 10, 'preStop + drain + handler timeout + margin');

  const so = objs[4]!;
  assert.equal(so.spec.scaleTargetRef.name, 'mail-lines');
  assert.equal(so.spec.scaleTargetRef.kind, 'StatefulSet');
  assert.equal(so.spec.maxReplicaCount, 8);
  assert.equal(so.spec.pollingInterval, 1);
  assert.equal(so.spec.minReplicaCount, 1, 'raised: the listener and the scaler live in the pod');
  assert.match(warnings.join('\n'), /minReplicaCount raised to 1/);
  assert.deepEqual(so.spec.triggers, [{
    type: 'external-push',
    metadata: { scalerAddress: 'mail-lines-scaler.mailns.svc.cluster.local:9090', component: 'lines', lagThreshold: '5', activationLagThreshold: '0' },
  }]);
});

test('an smtp listen written as a bare port keeps that port in the pod, its Service and its container', (t) => {
  const { file } = setup(t, mailApp.replace('listen: 127.0.0.1:2526', 'listen: "2527"'));
  const objs = render(file);
  const pod = parseYaml(objs[0]!.data['featherweight.yaml']);
  assert.equal(pod.components[0].trigger.metadata.listen, '0.0.0.0:2527');
  assert.deepEqual(objs[1]!.spec.ports, [{ name: 'smtp', port: 2527, targetPort: 'smtp', protocol: 'TCP' }]);
  assert.deepEqual(objs[3]!.spec.template.spec.containers[0].ports.map((p: any) => p.containerPort), [8080, 2527, 9090]);
});

test('native KEDA trigger for nats-jetstream keeps KEDA keys and drops featherweight connection keys', (t) => {
  const { file } = setup(t, `
apiVersion: featherweight.dev/v1
kind: App
metadata: { name: jobs }
components:
  - name: worker
    module: handler.wasm
    trigger:
      type: nats-jetstream
      metadata:
        servers: nats://nats.nats.svc:4222
        natsServerMonitoringEndpoint: nats.nats.svc:8222
        stream: JOBS
        consumer: workers
        subject: jobs.>
        lagThreshold: "20"
    scaling: { minReplicaCount: 0, maxReplicaCount: 4 }
`);
  const objs = render(file);
  assert.ok(!objs.some((o) => o.metadata.name.endsWith('-scaler')), 'no scaler Service for a native trigger');
  const so = objs.find((o) => o.kind === 'ScaledObject')!;
  assert.equal(so.spec.minReplicaCount, 0, 'a broker trigger can scale to zero');
  assert.deepEqual(so.spec.triggers, [{
    type: 'nats-jetstream',
    metadata: { natsServerMonitoringEndpoint: 'nats.nats.svc:8222', stream: 'JOBS', consumer: 'workers', lagThreshold: '20' },
  }]);
  const pod = parseYaml(objs.find((o) => o.kind === 'ConfigMap')!.data['featherweight.yaml']);
  assert.equal(pod.server.kedaScaler, undefined);
  assert.equal(pod.components[0].trigger.metadata.servers, 'nats://nats.nats.svc:4222', 'the pod still gets its connection keys');

  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/ +natsServerMonitoringEndpoint: .*\n/, ''));
  assert.throws(() => render(file), /components worker: trigger\.metadata\.natsServerMonitoringEndpoint: KEDA's nats-jetstream scaler needs it/);
});

test('runwasi mode: RuntimeClass + runtimeClassName, module from OCI, wasi-command or component only', (t) => {
  const { file } = setup(t, `
apiVersion: featherweight.dev/v1
kind: App
metadata: { name: app }
components:
  - name: cmd
    module: oci://registry.example/team/cmd:v1
    trigger: { type: embedded, metadata: { lagThreshold: "3" } }
    scaling: { minReplicaCount: 0, maxReplicaCount: 5 }
`);
  const objs = render(file, { mode: 'runwasi' });
  assert.deepEqual(objs.map((o) => o.kind), ['RuntimeClass', 'Deployment', 'ScaledObject']);
  assert.equal(objs[0]!.handler, RUNWASI_HANDLER);
  const spec = objs[1]!.spec.template.spec;
  assert.equal(spec.runtimeClassName, objs[0]!.metadata.name);
  assert.equal(spec.containers[0].image, 'registry.example/team/cmd:v1');

  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('    trigger:', '    abi: component\n    trigger:'));
  const comp = render(file, { mode: 'runwasi' });
  assert.equal(comp[1]!.spec.template.spec.runtimeClassName, comp[0]!.metadata.name, 'a wasi:cli/run component runs on the wasmtime shim too');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('    abi: component\n', ''));

  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('oci://registry.example/team/cmd:v1', 'handler.wasm'));
  assert.throws(() => render(file, { mode: 'runwasi' }), /module: runwasi mode needs module: oci:\/\//);
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('module: handler.wasm', 'module: handler.wasm\n    abi: http-wasm').replace('type: embedded, metadata: { lagThreshold: "3" }', 'type: http'));
  assert.throws(() => render(file, { mode: 'runwasi' }), /abi: runwasi runs WASI commands and wasi:cli\/run components only/);
});

test('an object that breaks the Kubernetes/KEDA schema is an error naming the field', () => {
  const app: AppManifest = {
    name: 'bad',
    dataDir: '/tmp/x',
    server: { listen: '127.0.0.1:8080', tokenEnv: 'FEATHERWEIGHT_TOKEN' },
    proxies: [],
    components: [{
      name: 'c',
      module: 'oci://r.example/c:v1',
      abi: 'wasi-command',
      // a timeout the app never validated (this spec skips parseManifest) makes a grace period that is no integer
      limits: { maxMemoryBytes: 1 << 24, timeoutMs: Number.NaN, maxStdinBytes: 1 << 20, maxStdoutBytes: 1 << 20 },
      grants: { env: {}, dirs: [] },
      trigger: { type: 'embedded', metadata: {} },
      scaling: {},
      sink: { type: 'sqlite' },
      delivery: { maxAttempts: 5, backoffMs: 1000, maxBackoffMs: 60000 },
    } as AppManifest['components'][number]],
  };
  assert.throws(() => renderApp(app), /invalid (Deployment|StatefulSet) bad-c: spec\.template\.spec\.terminationGracePeriodSeconds must be integer/);
});

test('toYaml writes one document per object; CLI prints it', async (t) => {
  const { file } = setup(t, mailApp);
  const yamlText = toYaml(render(file));
  const docs = parseAllDocuments(yamlText);
  assert.equal(docs.length, 5);
  assert.deepEqual(docs.map((d) => (d.toJS() as K).kind), ['ConfigMap', 'Service', 'Service', 'StatefulSet', 'ScaledObject']);

  const r = await runCli(['kube', 'render', file, '--namespace', 'prod'], { env: { ...process.env, MAIL_SECRET: 'x' } });
  assert.equal(r.code, 0, r.stderr);
  const cliDocs = parseAllDocuments(r.stdout).map((d) => d.toJS() as K & { metadata: { namespace: string } });
  assert.equal(cliDocs.length, 5);
  assert.ok(cliDocs.every((d) => d.metadata.namespace === 'prod'));
  assert.match(r.stderr, /minReplicaCount raised to 1/);
  // --json: the same objects as one Kubernetes List (what kubectl get -o json prints)
  const j = await runCli(['kube', 'render', file, '--namespace', 'prod', '--json'], { env: { ...process.env, MAIL_SECRET: 'x' } });
  assert.equal(j.code, 0, j.stderr);
  const list = JSON.parse(j.stdout) as { apiVersion: string; kind: string; items: K[] };
  assert.equal(list.kind, 'List');
  assert.deepEqual(list.items, cliDocs);
  const bad = await runCli(['kube', 'render', file, '--mode', 'vm'], { env: { ...process.env, MAIL_SECRET: 'x' } });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--mode must be container or runwasi/);
});

test('extra scaling triggers keep the component own trigger: nats-jetstream + postgresql + KEDA cron (issue 12)', (t) => {
  const { file } = setup(t, `
apiVersion: featherweight.dev/v1
kind: App
metadata: { name: jobs }
components:
  - name: worker
    module: handler.wasm
    trigger:
      type: nats-jetstream
      metadata: { servers: nats://nats:4222, natsServerMonitoringEndpoint: nats:8222, stream: JOBS, consumer: workers, lagThreshold: "20" }
    scaling:
      minReplicaCount: 0
      maxReplicaCount: 4
      triggers:
        - type: postgresql
          name: backlog
          metadata: { connectionFromEnv: PG_URL, query: "SELECT count(*) FROM jobs", targetQueryValue: "10" }
        - type: cron
          metadata: { timezone: Europe/Berlin, start: "0 8 * * 1-5", end: "0 18 * * 1-5", desiredReplicas: "2" }
`);
  const objs = render(file);
  const so = objs.find((o) => o.kind === 'ScaledObject')!;
  assert.deepEqual(so.spec.triggers.map((x: any) => x.type), ['nats-jetstream', 'postgresql', 'cron'], "the component's own trigger stays first and native");
  assert.deepEqual(so.spec.triggers[0].metadata, { natsServerMonitoringEndpoint: 'nats:8222', stream: 'JOBS', consumer: 'workers', lagThreshold: '20' });
  assert.deepEqual(so.spec.triggers[1], { type: 'postgresql', name: 'backlog', metadata: { connectionFromEnv: 'PG_URL', query: 'SELECT count(*) FROM jobs', targetQueryValue: '10' } });
  assert.deepEqual(so.spec.triggers[2], { type: 'cron', metadata: { timezone: 'Europe/Berlin', start: '0 8 * * 1-5', end: '0 18 * * 1-5', desiredReplicas: '2' } }, "KEDA's cron window, not an external-push");
  assert.ok(!objs.some((o) => o.metadata.name.endsWith('-scaler')), 'nothing needs the external scaler');
  const env = objs.find((o) => o.kind === 'Deployment')!.spec.template.spec.containers[0].env;
  assert.deepEqual(env.find((e: any) => e.name === 'PG_URL')?.valueFrom, { secretKeyRef: { name: 'jobs-worker-env', key: 'PG_URL' } }, 'KEDA reads connectionFromEnv from the container env');
});

test('a redis-streams password never renders inline: Secret + TriggerAuthentication for KEDA, passwordFromEnv in the pod (issue 12)', (t) => {
  const { file } = setup(t, `
apiVersion: featherweight.dev/v1
kind: App
metadata: { name: shop }
components:
  - name: orders
    module: handler.wasm
    trigger:
      type: redis-streams
      metadata: { address: redis.shop.svc:6379, password: s3cr3t-pw, stream: orders, consumerGroup: workers, lagCount: "5" }
    scaling: { minReplicaCount: 0, maxReplicaCount: 4 }
`);
  const warnings: string[] = [];
  const objs = render(file, { namespace: 'shop', warn: (m) => warnings.push(m) });
  const yamlText = toYaml(objs as any);
  assert.ok(!yamlText.includes('s3cr3t-pw'), 'the password appears nowhere in the rendered objects');
  const so = objs.find((o) => o.kind === 'ScaledObject')!;
  assert.equal(so.spec.triggers[0].type, 'redis-streams');
  assert.equal(so.spec.triggers[0].metadata.password, undefined);
  assert.deepEqual(so.spec.triggers[0].authenticationRef, { name: 'shop-orders-trigger-auth' });
  const ta = objs.find((o) => o.kind === 'TriggerAuthentication')!;
  assert.equal(ta.metadata.name, 'shop-orders-trigger-auth');
  assert.deepEqual(ta.spec.secretTargetRef, [{ parameter: 'password', name: 'shop-orders-trigger-auth', key: 'password' }]);
  const c = objs.find((o) => o.kind === 'Deployment')!.spec.template.spec.containers[0];
  assert.deepEqual(c.env.find((e: any) => e.name === 'FW_TRIGGER_PASSWORD')?.valueFrom, { secretKeyRef: { name: 'shop-orders-trigger-auth', key: 'password' } });
  const pod = parseYaml(objs.find((o) => o.kind === 'ConfigMap')!.data['featherweight.yaml']);
  assert.equal(pod.components[0].trigger.metadata.password, undefined);
  assert.equal(pod.components[0].trigger.metadata.passwordFromEnv, 'FW_TRIGGER_PASSWORD');
  assert.match(warnings.join('\n'), /kubectl create secret generic shop-orders-trigger-auth -n shop --from-literal=password=\.\.\./);
  assert.ok(!warnings.join('\n').includes('s3cr3t-pw'));
  // the pod manifest is still valid and reads the password from the variable the Secret fills
  const podDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-pod-'));
  t.after(() => fs.rmSync(podDir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(podDir, 'orders.wasm'), wasm);
  assert.equal(parseManifest(pod, { baseDir: podDir }).components[0]!.trigger.metadata.passwordFromEnv, 'FW_TRIGGER_PASSWORD');
});

test('kube render of examples/you-got-mail-nats: the worker scales from zero on KEDA\'s nats-jetstream, the ingress stays up and drains', () => {
  const file = path.join(repoRoot, 'examples/you-got-mail-nats/featherweight.yaml');
  const warnings: string[] = [];
  const objs = renderApp(loadManifest(file), { rawDoc: readRawManifest(file), warn: (m) => warnings.push(m) }) as unknown as K[];
  const so = (n: string) => objs.find((o) => o.kind === 'ScaledObject' && o.metadata.name === n)!;
  const worker = so('you-got-mail-nats-worker');
  assert.equal(worker.spec.minReplicaCount, 0);
  assert.equal(worker.spec.scaleTargetRef.kind, 'Deployment', 'no queue in the worker pod: the backlog is in JetStream');
  assert.deepEqual(worker.spec.triggers, [{
    type: 'nats-jetstream',
    metadata: { natsServerMonitoringEndpoint: 'nats.nats.svc.cluster.local:8222', stream: 'MAIL', consumer: 'mail-lines', lagThreshold: '5', activationLagThreshold: '0' },
  }]);
  const ingress = so('you-got-mail-nats-ingress');
  assert.ok(ingress.spec.minReplicaCount >= 1, 'someone must answer SMTP');
  assert.equal(ingress.spec.scaleTargetRef.kind, 'StatefulSet');
  const sts = objs.find((o) => o.kind === 'StatefulSet')!;
  assert.equal(sts.metadata.name, 'you-got-mail-nats-ingress');
  assert.ok(sts.spec.template.spec.terminationGracePeriodSeconds >= 30 + 5, 'long enough to drain the queue after preStop');
  assert.ok(sts.spec.template.spec.containers[0].lifecycle.preStop);
  const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'you-got-mail-nats-ingress')!;
  assert.equal(cm.binaryData, undefined, 'a forwarder ships no module');
  const pod = parseYaml(cm.data['featherweight.yaml']);
  assert.equal(pod.components[0].module, undefined);
  assert.equal(pod.components[0].sink.type, 'publish');
  assert.ok(!objs.some((o) => o.kind === 'Deployment' && o.metadata.name === 'you-got-mail-nats-ingress'));
});
