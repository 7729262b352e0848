/**
 * `featherweight kube render`: an app manifest -> Kubernetes objects (Deployment, ConfigMap,
 * Service, KEDA ScaledObject, RuntimeClass), each validated against the Kubernetes and KEDA
 * schemas (kubernetes-models) before it is printed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { parseHostPort } from '../core/address.js';
import type { KubeIngress } from '../core/source.js';
import { triggerPlugin } from '../sources/index.js';
import { scalerPlugin } from '../app/scalers/index.js';
import { defaultDrainMs } from '../app/component.js';
import { RuntimeClass } from 'kubernetes-models/node.k8s.io/v1';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import type { AppManifest, ComponentSpec } from '../app/manifest.js';
import { refinesOwn, resolveScaling } from '../app/scaling.js';

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
/** preStop pause of a queue-holding pod: time for the endpoints to drop it before SIGTERM. */
const PRESTOP_SECONDS = 5;
/** The volume claim of an embedded queue. */
const QUEUE_STORAGE = '1Gi';
/** ConfigMaps are capped at 1 MiB by etcd; leave room for the manifest. */
const MAX_CONFIGMAP_MODULE = 900 * 1024;

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
  return parseHostPort(listen, { hostOptional: true })?.port ?? def;
}

/** How the component's trigger takes events from outside the pod, as its plugin says (none for a broker or a queue). */
function ingressOf(c: ComponentSpec): KubeIngress | undefined {
  const kube = triggerPlugin(c.trigger.type)?.kube;
  return kube?.kind === 'external-push' ? kube.ingress : undefined;
}

/** One trigger's secret moved out of the manifest: KEDA reads it through `auth`, the pod through `env`. */
interface MovedSecret {
  /** Index in the resolved triggers (0 = the component's own). */
  index: number;
  key: string;
  /** The pod's environment variable (the pod manifest says <key>FromEnv: <env>). */
  env: string;
  /** Key in the Secret <name>-trigger-auth. */
  secretKey: string;
}

interface RenderedTriggers {
  triggers: Obj[];
  external: boolean;
  secrets: MovedSecret[];
  /** Environment variables KEDA's *FromEnv keys name: the container must define them (from <name>-env). */
  fromEnv: string[];
}

/**
 * KEDA triggers from the component's resolved scaling spec: triggers[0] is its own trigger (native
 * broker scaler, or featherweight's external-push for the triggers that live in the pod), then the
 * extra scaling triggers of scaling.triggers (KEDA's cron and postgresql scalers, rendered natively).
 */
function kedaTriggers(c: ComponentSpec, scalerAddress: string, secretName: string): RenderedTriggers {
  const resolved = resolveScaling(c).triggers;
  let external = false;
  const secrets: MovedSecret[] = [];
  const fromEnv = new Set<string>();
  const triggers = resolved.map((t, i): Obj => {
    const where = i === 0 ? 'trigger' : `scaling.triggers (${t.name})`;
    const md = t.metadata;
    const extra: Obj = {};
    if (t.named) extra.name = t.name;
    if (t.metricType !== 'AverageValue') extra.metricType = t.metricType;
    if (t.useCachedMetrics) extra.useCachedMetrics = true;
    if (t.authenticationRef) extra.authenticationRef = t.authenticationRef;
    // The component's own trigger maps as its plugin says; an extra one as its scaler plugin (KEDA's cron, postgresql).
    const kube = i === 0 ? triggerPlugin(c.trigger.type)?.kube : scalerPlugin(t.type)?.kube;
    if (!kube) return fail(c.name, `${where}.type`, `${JSON.stringify(t.type)} has no KEDA scaler`);
    if (kube.kind === 'external-push') {
      external = true;
      const metadata: Record<string, string> = { scalerAddress, component: c.name };
      for (const key of ['lagThreshold', 'activationLagThreshold']) if (md[key] !== undefined) metadata[key] = md[key]!;
      return { type: 'external-push', metadata, ...extra };
    }
    const metadata = Object.fromEntries(Object.entries(md).filter(([k]) => kube.keys.includes(k)));
    for (const key of kube.required) {
      if (!metadata[key]) fail(c.name, `${where}.metadata.${key}`, `KEDA's ${kube.type} scaler needs it${kube.hints?.[key] ? ` (${kube.hints[key]})` : ''}`);
    }
    for (const [k, v] of Object.entries(metadata)) if (k.endsWith('FromEnv')) fromEnv.add(v);
    for (const key of kube.secrets) {
      if (md[key] === undefined) continue;
      if (t.authenticationRef) fail(c.name, `${where}.metadata.${key}`, `an inline ${key} and an authenticationRef: put the ${key} in the TriggerAuthentication's Secret and remove it here`);
      const suffix = i === 0 ? '' : `_${i}`;
      secrets.push({ index: i, key, env: `FW_TRIGGER${suffix}_${key.toUpperCase()}`, secretKey: `${key}${suffix ? `-${i}` : ''}` });
      extra.authenticationRef = { name: `${secretName}${i === 0 ? '' : `-${i}`}` };
    }
    return { type: kube.type, metadata, ...extra };
  });
  return { triggers, external, secrets, fromEnv: [...fromEnv] };
}

/**
 * The pod manifest reads each moved secret from its environment (KEDA's <key>FromEnv form, which
 * the sources and extra triggers understand), so the ConfigMap never holds it.
 */
function moveSecretsToEnv(comp: Obj, c: ComponentSpec, secrets: MovedSecret[]): void {
  const listed = Array.isArray((comp.scaling as Obj | undefined)?.triggers) ? ((comp.scaling as Obj).triggers as Obj[]) : [];
  const extras = listed.filter((t) => !refinesOwn(c, t));
  for (const m of secrets) {
    const targets: Obj[] = [];
    if (m.index === 0) {
      const trigger = comp.trigger as Obj;
      trigger.metadata = { ...(trigger.metadata as Obj | undefined) };
      targets.push(trigger);
      for (const t of listed) if (refinesOwn(c, t)) targets.push(t);
    } else if (extras[m.index - 1]) targets.push(extras[m.index - 1]!);
    for (const t of targets) {
      const md = { ...((t.metadata as Obj | undefined) ?? {}) };
      delete md[m.key];
      t.metadata = md;
    }
    const md = targets[0]!.metadata as Obj;
    md[`${m.key}FromEnv`] = m.env;
  }
}

/** The manifest the pod runs: this one component, paths inside the container, listeners on all interfaces. */
function podManifest(app: AppManifest, c: ComponentSpec, raw: Obj | undefined, moduleRef: string | undefined, external: boolean, secrets: MovedSecret[]): string {
  // A copy either way: the pod's changes (listen, moved secrets) never reach the app's own spec.
  const comp: Obj = structuredClone(raw ?? { name: c.name, abi: c.abi, trigger: c.trigger, scaling: c.scaling, sink: c.sink });
  if (moduleRef === undefined) delete comp.module; // a forwarder runs no guest
  else comp.module = moduleRef;
  if (!raw) {
    // Without the raw document we only know resolved env values: pass names, values come from the Secret.
    comp.grants = { env: Object.keys(c.grants.env), dirs: [] };
  }
  const trigger = (comp.trigger ?? { type: c.trigger.type, metadata: {} }) as { type: string; metadata?: Obj };
  const listen = ingressOf(c)?.listen;
  if (listen) trigger.metadata = { ...trigger.metadata, [listen.key]: `0.0.0.0:${listenPort(c.trigger.metadata[listen.key], listen.defaultPort)}` };
  comp.trigger = trigger;
  moveSecretsToEnv(comp, c, secrets);
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
    const authName = `${name}-trigger-auth`;
    const { triggers, external, secrets, fromEnv } = kedaTriggers(c, scalerAddress, authName);
    const isOci = c.module?.startsWith('oci://') ?? false;
    // Its trigger keeps events in the pod's embedded queue (smtp, http, embedded, cron).
    const queued = triggerPlugin(c.trigger.type)?.queued ?? false;
    const meta = (n: string) => ({ name: n, namespace, labels });

    let podSpec: Obj;
    if (mode === 'runwasi') {
      // The wasmtime shim runs a preview1 command or a WASI 0.2 wasi:cli/run component as the container's process.
      if (c.abi !== 'wasi-command' && c.abi !== 'component') fail(c.name, 'abi', `runwasi runs WASI commands and wasi:cli/run components only, this component is ${c.abi}; use --mode container`);
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
      // A trigger with its own listener (smtp) gets a container port; one on the host's server (http) uses 'http'.
      const ingress = ingressOf(c);
      const ownPort = ingress?.listen ? listenPort(c.trigger.metadata[ingress.listen.key], ingress.listen.defaultPort) : undefined;
      (files.data as Record<string, string>)['featherweight.yaml'] = podManifest(app, c, raw, moduleRef, external, secrets);
      out.push(validated(new ConfigMap({ metadata: meta(name), ...files })));

      const ports: Obj[] = [{ name: 'http', containerPort: HTTP_PORT, protocol: 'TCP' }];
      if (ingress && ownPort !== undefined) ports.push({ name: ingress.name, containerPort: ownPort, protocol: 'TCP' });
      if (external) ports.push({ name: 'keda-scaler', containerPort: SCALER_PORT, protocol: 'TCP' });
      const env: Obj[] = [
        { name: 'FEATHERWEIGHT_TOKEN', valueFrom: { secretKeyRef: { name: `${app.name}-token`, key: 'token', optional: true } } },
        ...[...new Set([...envGrantNames(c, raw), ...fromEnv])].map((n) => ({ name: n, valueFrom: { secretKeyRef: { name: `${name}-env`, key: n } } })),
        ...secrets.map((m) => ({ name: m.env, valueFrom: { secretKeyRef: { name: authName, key: m.secretKey } } })),
      ];
      if (isOci) {
        for (const n of ['FEATHERWEIGHT_OCI_USERNAME', 'FEATHERWEIGHT_OCI_PASSWORD']) {
          env.push({ name: n, valueFrom: { secretKeyRef: { name: `${app.name}-registry`, key: n.slice('FEATHERWEIGHT_OCI_'.length).toLowerCase(), optional: true } } });
        }
      }
      const probe = (initial: number) => ({ httpGet: { path: '/healthz', port: 'http' }, initialDelaySeconds: initial, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3 });
      if (c.grants.dirs.length) warn(`${c.name}: grants.dirs name host folders that do not exist in the pod; add volumes to the Deployment by hand`);
      const handlerSeconds = Math.ceil(c.limits.timeoutMs / 1000);
      podSpec = {
        securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
        // SIGTERM drains: in-flight events finish (up to the handler timeout); a queue-holding
        // component first refuses new events and empties its queue (decision 161), after preStop.
        terminationGracePeriodSeconds: queued
          ? PRESTOP_SECONDS + Math.ceil(defaultDrainMs / 1000) + handlerSeconds + 10
          : Math.max(30, handlerSeconds + 10),
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
          // The Service stops routing here before SIGTERM makes the listener answer 421.
          ...(queued ? { lifecycle: { preStop: { exec: { command: ['node', '-e', `setTimeout(() => {}, ${PRESTOP_SECONDS * 1000})`] } } } } : {}),
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          volumeMounts: [
            { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
            { name: 'data', mountPath: '/data' },
            { name: 'tmp', mountPath: '/tmp' },
          ],
        }],
        volumes: [
          { name: 'config', configMap: { name } },
          // a queue that holds acknowledged events lives on the StatefulSet's volume claim, never here
          ...(queued ? [] : [{ name: 'data', emptyDir: {} }]),
          { name: 'tmp', emptyDir: {} },
        ],
      };
      const servicePorts: Obj[] = [];
      if (ingress) servicePorts.push({ name: ingress.name, port: ownPort ?? HTTP_PORT, targetPort: ownPort !== undefined ? ingress.name : 'http', protocol: 'TCP' });
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

    const workload = queued && mode === 'container' ? 'StatefulSet' : 'Deployment';
    if (workload === 'StatefulSet') {
      out.push(validated(new StatefulSet({
        metadata: meta(name),
        spec: {
          replicas: 1,
          serviceName: name,
          // KEDA adds pods in one step, not one ordinal at a time
          podManagementPolicy: 'Parallel',
          selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: podSpec },
          // The embedded queue (accepted mail, acknowledged events) outlives the pod: a restarted
          // or rescheduled pod of the same ordinal finds it; a pod scaled in drains it first.
          volumeClaimTemplates: [{
            metadata: { name: 'data', labels },
            spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: QUEUE_STORAGE } } },
          }],
          persistentVolumeClaimRetentionPolicy: { whenScaled: 'Retain', whenDeleted: 'Retain' },
        },
      } as unknown as ConstructorParameters<typeof StatefulSet>[0])));
    } else {
      out.push(validated(new Deployment({
        metadata: meta(name),
        spec: {
          // KEDA owns the replica count once the ScaledObject exists; start with one.
          replicas: 1,
          selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: podSpec },
        },
      } as unknown as ConstructorParameters<typeof Deployment>[0])));
    }

    const spec: Obj = { scaleTargetRef: { apiVersion: 'apps/v1', kind: workload, name } };
    for (const key of SCALED_OBJECT_KEYS) if (c.scaling[key] !== undefined) spec[key] = c.scaling[key];
    if (external && mode === 'container' && Number(spec.minReplicaCount ?? 0) < 1) {
      // The listener, the queue and the scaler all live in the pod: at zero pods nobody accepts
      // mail or reports lag, so KEDA could never wake the Deployment.
      warn(`${c.name}: minReplicaCount raised to 1 on Kubernetes: the ${c.trigger.type} trigger and its queue live in the pod, so one pod stays up to accept events and report lag; use a broker trigger (nats-jetstream, redis-streams, rabbitmq, postgresql) to scale to zero`);
      spec.minReplicaCount = 1;
      delete spec.idleReplicaCount;
    }
    spec.triggers = triggers;
    for (const m of secrets) {
      out.push(validated(new TriggerAuthentication({
        metadata: meta(`${authName}${m.index === 0 ? '' : `-${m.index}`}`),
        spec: { secretTargetRef: [{ parameter: m.key, name: authName, key: m.secretKey }] },
      } as unknown as ConstructorParameters<typeof TriggerAuthentication>[0])));
    }
    if (secrets.length) {
      // The value itself is never printed: it would end up in a repository with the rest of the YAML.
      warn(`${c.name}: the trigger's ${secrets.map((m) => m.key).join(', ')} moved to Secret ${authName} (read by KEDA through TriggerAuthentication, by the pod as ${secrets.map((m) => m.env).join(', ')}); create it: kubectl create secret generic ${authName} -n ${namespace} ${secrets.map((m) => `--from-literal=${m.secretKey}=...`).join(' ')}`);
    }
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
