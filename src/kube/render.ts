/**
 * `featherweight kube render`: an app manifest -> Kubernetes objects (Deployment, ConfigMap,
 * Service, KEDA ScaledObject, RuntimeClass), each validated against the Kubernetes and KEDA
 * schemas (kubernetes-models) before it is printed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { RuntimeClass } from 'kubernetes-models/node.k8s.io/v1';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import type { AppManifest, ComponentSpec } from '../app/manifest.js';

export type RenderMode = 'container' | 'runwasi';

export interface RenderOptions {
  mode?: RenderMode;
  namespace?: string;
  /** The featherweight host image (container mode). */
  image?: string;
  /** The parsed-but-unnormalized manifest document: keeps env grants as names, not host values. */
  rawDoc?: unknown;
  /** Notes for the person (printed to stderr by the CLI), e.g. a raised minReplicaCount. */
  warn?: (message: string) => void;
}

export const DEFAULT_IMAGE = 'ghcr.io/featherweight/featherweight:0.1.0';
export const RUNWASI_RUNTIME_CLASS = 'wasmtime';
/** containerd's runwasi wasmtime shim (io.containerd.wasmtime.v1) registered as runtime "wasmtime". */
export const RUNWASI_HANDLER = 'wasmtime';
export const HTTP_PORT = 8080;
export const SCALER_PORT = 9090;
const CONFIG_DIR = '/etc/featherweight';
/** ConfigMaps are capped at 1 MiB by etcd; leave room for the manifest. */
const MAX_CONFIGMAP_MODULE = 900 * 1024;

/** Brokers KEDA scales natively, and the metadata keys its scaler reads (featherweight's own keys are dropped). */
export const nativeKedaKeys: Record<string, readonly string[]> = {
  'nats-jetstream': ['natsServerMonitoringEndpoint', 'account', 'accountID', 'stream', 'consumer', 'lagThreshold', 'activationLagThreshold', 'useHttps'],
  'redis-streams': [
    'address', 'addressFromEnv', 'addresses', 'host', 'hostFromEnv', 'hosts', 'port', 'portFromEnv', 'ports',
    'username', 'usernameFromEnv', 'passwordFromEnv', 'sentinelUsername', 'sentinelUsernameFromEnv',
    'sentinelPasswordFromEnv', 'sentinelMaster', 'sentinelMasterFromEnv', 'stream', 'consumerGroup',
    'pendingEntriesCount', 'streamLength', 'lagCount', 'activationLagCount', 'databaseIndex', 'enableTLS', 'unsafeSsl',
  ],
  rabbitmq: [
    'host', 'hostFromEnv', 'protocol', 'queueName', 'vhostName', 'mode', 'value', 'activationValue', 'queueLength',
    'useRegex', 'pageSize', 'operation', 'excludeUnacknowledged', 'timeout', 'unsafeSsl', 'usernameFromEnv', 'passwordFromEnv',
  ],
  postgresql: [
    'connectionFromEnv', 'host', 'port', 'userName', 'passwordFromEnv', 'dbName', 'sslmode', 'query',
    'targetQueryValue', 'activationTargetQueryValue',
  ],
};

/** KEDA's required keys per native scaler: missing ones are a render error, not a broken ScaledObject. */
const nativeRequired: Record<string, readonly string[]> = {
  'nats-jetstream': ['natsServerMonitoringEndpoint', 'stream', 'consumer'],
  'redis-streams': ['stream'],
  rabbitmq: ['queueName'],
  postgresql: ['query', 'targetQueryValue'],
};

/** Sources that live inside featherweight: scaled by KEDA through featherweight's external-push scaler. */
export const externalPushTypes = ['embedded', 'smtp', 'http', 'mqtt', 'cron'] as const;

const SCALED_OBJECT_KEYS = [
  'pollingInterval', 'cooldownPeriod', 'initialCooldownPeriod', 'idleReplicaCount', 'minReplicaCount',
  'maxReplicaCount', 'fallback', 'advanced',
] as const;

type Obj = Record<string, unknown>;
interface K8sModel { validate(): void; toJSON(): unknown }

function fail(component: string, field: string, message: string): never {
  throw new Error(`components ${component}: ${field}: ${message}`);
}

/** Runs the model's JSON-schema validation; the error names the object and the field path. */
function validated<T extends K8sModel>(obj: T): T {
  try {
    obj.validate();
  } catch (err) {
    const json = obj.toJSON() as { kind?: string; metadata?: { name?: string } };
    const msg = (err as Error).message
      .split(', ')
      .map((part) => part.replace(/^data\//, '').replace(/^data /, '').replace(/^([\w/.-]+)/, (p) => p.replace(/\//g, '.')))
      .join('; ');
    throw new Error(`invalid ${json.kind ?? 'object'} ${json.metadata?.name ?? ''}: ${msg}`);
  }
  return obj;
}

function rawComponent(rawDoc: unknown, name: string): Obj | undefined {
  const comps = (rawDoc as { components?: unknown[] } | undefined)?.components;
  return comps?.find((c) => (c as Obj)?.name === name) as Obj | undefined;
}

/** The port of a listen address; the smtp trigger also takes a bare port ("2526"). */
function listenPort(listen: string | undefined, def: number): number {
  if (!listen) return def;
  const m = /(?:^|:)(\d+)$/.exec(listen.trim());
  return m ? Number(m[1]) : def;
}

/** KEDA triggers for a component (native broker scaler, or featherweight's external-push). */
function kedaTriggers(c: ComponentSpec, scalerAddress: string): { triggers: Obj[]; external: boolean } {
  const given = Array.isArray(c.scaling.triggers) ? (c.scaling.triggers as Obj[]) : [{ type: c.trigger.type, metadata: c.trigger.metadata }];
  let external = false;
  const triggers = given.map((t, i): Obj => {
    const type = String(t.type ?? '');
    const md = Object.fromEntries(Object.entries((t.metadata as Obj | undefined) ?? {}).map(([k, v]) => [k, String(v)]));
    const extra: Obj = {};
    for (const key of ['name', 'metricType', 'useCachedMetrics', 'authenticationRef'] as const) if (t[key] !== undefined) extra[key] = t[key];
    const where = Array.isArray(c.scaling.triggers) ? `scaling.triggers[${i}]` : 'trigger';
    if (type in nativeKedaKeys) {
      const keep = nativeKedaKeys[type]!;
      const metadata = Object.fromEntries(Object.entries(md).filter(([k]) => keep.includes(k)));
      for (const key of nativeRequired[type]!) {
        if (!metadata[key]) {
          fail(c.name, `${where}.metadata.${key}`, `KEDA's ${type} scaler needs it${key === 'natsServerMonitoringEndpoint' ? ' (host:port of the NATS monitoring endpoint as seen from KEDA, e.g. nats.nats.svc:8222)' : ''}`);
        }
      }
      return { type, metadata, ...extra };
    }
    if ((externalPushTypes as readonly string[]).includes(type)) {
      external = true;
      const metadata: Record<string, string> = { scalerAddress, component: c.name };
      for (const key of ['lagThreshold', 'activationLagThreshold']) if (md[key] !== undefined) metadata[key] = md[key];
      return { type: 'external-push', metadata, ...extra };
    }
    // Any other KEDA scaler (cpu, prometheus, ...) written in scaling.triggers goes through unchanged.
    if (Array.isArray(c.scaling.triggers)) return { type, metadata: md, ...extra };
    return fail(c.name, 'trigger.type', `${JSON.stringify(type)} has no KEDA scaler; add scaling.triggers with one KEDA knows`);
  });
  return { triggers, external };
}

/** The manifest the pod runs: this one component, paths inside the container, listeners on all interfaces. */
function podManifest(app: AppManifest, c: ComponentSpec, raw: Obj | undefined, moduleRef: string | undefined, external: boolean): string {
  const comp: Obj = raw ? structuredClone(raw) : {
    name: c.name, abi: c.abi, trigger: c.trigger, scaling: c.scaling, sink: c.sink,
  };
  if (moduleRef === undefined) delete comp.module; // a forwarder runs no guest
  else comp.module = moduleRef;
  if (!raw) {
    // Without the raw document we only know resolved env values: pass names, values come from the Secret.
    comp.grants = { env: Object.keys(c.grants.env), dirs: [] };
  }
  const trigger = (comp.trigger ?? { type: c.trigger.type, metadata: {} }) as { type: string; metadata?: Obj };
  if (trigger.type === 'smtp') {
    trigger.metadata = { ...trigger.metadata, listen: `0.0.0.0:${listenPort(c.trigger.metadata.listen, 2525)}` };
  }
  comp.trigger = trigger;
  const doc = {
    apiVersion: 'featherweight.dev/v1',
    kind: 'App',
    metadata: { name: app.name },
    dataDir: '/data',
    server: {
      listen: `0.0.0.0:${HTTP_PORT}`,
      tokenEnv: 'FEATHERWEIGHT_TOKEN',
      ...(external ? { kedaScaler: `0.0.0.0:${SCALER_PORT}` } : {}),
    },
    components: [comp],
  };
  return stringify(doc);
}

/** Container memory: the Node host plus every in-process replica at its wasm memory cap. */
function memoryLimitMi(c: ComponentSpec): number {
  const maxReplicas = Number(c.scaling.maxReplicaCount ?? 100);
  const perInstance = c.limits.maxMemoryBytes / (1024 * 1024);
  return Math.ceil(128 + Math.min(maxReplicas, 64) * perInstance);
}

function envGrantNames(c: ComponentSpec, raw: Obj | undefined): string[] {
  const env = (raw?.grants as Obj | undefined)?.env;
  if (Array.isArray(env)) return env.map(String);
  if (env && typeof env === 'object') return []; // literal values live in the manifest itself
  return Object.keys(c.grants.env);
}

export function renderApp(app: AppManifest, opts: RenderOptions = {}): Obj[] {
  const mode = opts.mode ?? 'container';
  const namespace = opts.namespace ?? 'default';
  const image = opts.image ?? DEFAULT_IMAGE;
  const warn = opts.warn ?? (() => {});
  const out: K8sModel[] = [];
  let runtimeClass = false;

  for (const c of app.components) {
    const name = `${app.name}-${c.name}`.toLowerCase().replace(/[^a-z0-9-]+/g, '-').slice(0, 63).replace(/-+$/, '');
    const labels = { 'app.kubernetes.io/name': 'featherweight', 'app.kubernetes.io/instance': app.name, 'app.kubernetes.io/component': c.name };
    const raw = rawComponent(opts.rawDoc, c.name);
    const scalerService = `${name}-scaler`;
    const scalerAddress = `${scalerService}.${namespace}.svc.cluster.local:${SCALER_PORT}`;
    const { triggers, external } = kedaTriggers(c, scalerAddress);
    const isOci = c.module?.startsWith('oci://') ?? false;
    const meta = (n: string) => ({ name: n, namespace, labels });

    let podSpec: Obj;
    if (mode === 'runwasi') {
      if (c.abi !== 'wasi-command') fail(c.name, 'abi', `runwasi runs WASI commands only, this component is ${c.abi}; use --mode container`);
      if (!c.module) fail(c.name, 'module', 'a component without a module forwards events inside the featherweight host; render it with --mode container');
      if (!isOci) fail(c.name, 'module', 'runwasi mode needs module: oci://<ref> (the wasmtime shim pulls the module as the container image); push it with `featherweight oci push`');
      runtimeClass = true;
      podSpec = {
        runtimeClassName: RUNWASI_RUNTIME_CLASS,
        containers: [{
          name: c.name,
          image: c.module!.slice('oci://'.length),
          resources: {
            requests: { cpu: '50m', memory: `${Math.ceil(c.limits.maxMemoryBytes / 1048576) + 16}Mi` },
            limits: { memory: `${Math.ceil(c.limits.maxMemoryBytes / 1048576) + 32}Mi` },
          },
        }],
      };
    } else {
      const files: Obj = { data: {} as Record<string, string> };
      let moduleRef = c.module;
      if (c.module !== undefined && !isOci) {
        const bytes = fs.readFileSync(c.module);
        if (bytes.length > MAX_CONFIGMAP_MODULE) {
          fail(c.name, 'module', `${path.basename(c.module)} is ${bytes.length} bytes, too big for a ConfigMap (1 MiB): push it with \`featherweight oci push\` and use module: oci://<ref>`);
        }
        files.binaryData = { [`${c.name}.wasm`]: bytes.toString('base64') };
        moduleRef = `${c.name}.wasm`;
      }
      const smtp = c.trigger.type === 'smtp';
      const smtpPort = listenPort(c.trigger.metadata.listen, 2525);
      (files.data as Record<string, string>)['featherweight.yaml'] = podManifest(app, c, raw, moduleRef, external);
      out.push(validated(new ConfigMap({ metadata: meta(name), ...files })));

      const ports: Obj[] = [{ name: 'http', containerPort: HTTP_PORT, protocol: 'TCP' }];
      if (smtp) ports.push({ name: 'smtp', containerPort: smtpPort, protocol: 'TCP' });
      if (external) ports.push({ name: 'keda-scaler', containerPort: SCALER_PORT, protocol: 'TCP' });
      const env: Obj[] = [
        { name: 'FEATHERWEIGHT_TOKEN', valueFrom: { secretKeyRef: { name: `${app.name}-token`, key: 'token', optional: true } } },
        ...envGrantNames(c, raw).map((n) => ({ name: n, valueFrom: { secretKeyRef: { name: `${name}-env`, key: n } } })),
      ];
      if (isOci) {
        for (const n of ['FEATHERWEIGHT_OCI_USERNAME', 'FEATHERWEIGHT_OCI_PASSWORD']) {
          env.push({ name: n, valueFrom: { secretKeyRef: { name: `${app.name}-registry`, key: n.slice('FEATHERWEIGHT_OCI_'.length).toLowerCase(), optional: true } } });
        }
      }
      const probe = (initial: number) => ({ httpGet: { path: '/healthz', port: 'http' }, initialDelaySeconds: initial, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3 });
      if (c.grants.dirs.length) warn(`${c.name}: grants.dirs name host folders that do not exist in the pod; add volumes to the Deployment by hand`);
      podSpec = {
        securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
        // Draining in-flight events on SIGTERM can take up to the handler timeout.
        terminationGracePeriodSeconds: Math.max(30, Math.ceil(c.limits.timeoutMs / 1000) + 10),
        containers: [{
          name: 'featherweight',
          image,
          args: ['up', `${CONFIG_DIR}/featherweight.yaml`],
          ports,
          env,
          resources: {
            requests: { cpu: '100m', memory: '96Mi' },
            limits: { memory: `${memoryLimitMi(c)}Mi` },
          },
          readinessProbe: probe(1),
          livenessProbe: probe(10),
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          volumeMounts: [
            { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
            { name: 'data', mountPath: '/data' },
            { name: 'tmp', mountPath: '/tmp' },
          ],
        }],
        volumes: [
          { name: 'config', configMap: { name } },
          { name: 'data', emptyDir: {} },
          { name: 'tmp', emptyDir: {} },
        ],
      };
      const servicePorts: Obj[] = [];
      if (smtp) servicePorts.push({ name: 'smtp', port: smtpPort, targetPort: 'smtp', protocol: 'TCP' });
      if (c.trigger.type === 'http') servicePorts.push({ name: 'http', port: HTTP_PORT, targetPort: 'http', protocol: 'TCP' });
      if (servicePorts.length) {
        out.push(validated(new Service({ metadata: meta(name), spec: { selector: labels, ports: servicePorts } } as unknown as ConstructorParameters<typeof Service>[0])));
      }
      if (external) {
        out.push(validated(new Service({
          metadata: meta(scalerService),
          spec: { selector: labels, ports: [{ name: 'grpc', port: SCALER_PORT, targetPort: 'keda-scaler', protocol: 'TCP', appProtocol: 'grpc' }] },
        })));
      }
    }

    out.push(validated(new Deployment({
      metadata: meta(name),
      spec: {
        // KEDA owns the replica count once the ScaledObject exists; start with one.
        replicas: 1,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: podSpec },
      },
    } as unknown as ConstructorParameters<typeof Deployment>[0])));

    const spec: Obj = { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name } };
    for (const key of SCALED_OBJECT_KEYS) if (c.scaling[key] !== undefined) spec[key] = c.scaling[key];
    if (external && mode === 'container' && Number(spec.minReplicaCount ?? 0) < 1) {
      // The listener, the queue and the scaler all live in the pod: at zero pods nobody accepts
      // mail or reports lag, so KEDA could never wake the Deployment.
      warn(`${c.name}: minReplicaCount raised to 1 on Kubernetes: the ${c.trigger.type} trigger and its queue live in the pod, so one pod stays up to accept events and report lag; use a broker trigger (nats-jetstream, redis-streams, rabbitmq, postgresql) to scale to zero`);
      spec.minReplicaCount = 1;
      delete spec.idleReplicaCount;
    }
    spec.triggers = triggers;
    const annotations = c.scaling.annotations as Record<string, string> | undefined;
    out.push(validated(new ScaledObject({
      metadata: { ...meta(name), ...(annotations ? { annotations } : {}) },
      spec,
    } as unknown as ConstructorParameters<typeof ScaledObject>[0])));
  }

  if (runtimeClass) {
    out.unshift(validated(new RuntimeClass({ metadata: { name: RUNWASI_RUNTIME_CLASS }, handler: RUNWASI_HANDLER })));
  }
  return out.map((o) => o.toJSON() as Obj);
}

/** Multi-document YAML, one object per document. */
export function toYaml(objects: Obj[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}

/** Reads the raw YAML beside loadManifest's typed result (env grant names must not become values). */
export function readRawManifest(file: string): unknown {
  return parseYaml(fs.readFileSync(file, 'utf8'));
}
