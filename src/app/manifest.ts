import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseDuration, parseSize } from '../core/units.js';
import { ValidationError } from '../core/validation.js';
import { validate } from './validate.js';
import { parseOutboundHost } from '../wasm/component/wasi-p2/outbound.js';
import { defaultLimits, type Limits, type Grants, type DirGrant } from '../wasm/limits.js';

/**
 * The app manifest (`featherweight.yaml`): its shape (zod) and its normalized form. Validation is
 * one stage, src/app/validate.ts (the shape, then each trigger's, sink's and scaling spec's checks
 * by the layer that owns them), which every entry point goes through (validate, up, kube render,
 * simulate), so one run names every problem of the file with its path.
 */

/** A number, or a string in human units parsed by `parse` (its message names what is accepted). */
const unit = (parse: (v: string | number) => number) =>
  z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
    try {
      return parse(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });
const size = unit(parseSize);
const duration = unit(parseDuration);

const limitsSchema = z
  .object({
    maxMemory: size.optional(),
    timeout: duration.optional(),
    maxStdin: size.optional(),
    maxStdout: size.optional(),
    /** Captured stderr, apart from stdout's cap (default 1 MiB; decision 122). */
    maxStderr: size.optional(),
    /** Table elements per instance, all tables together (decision 120). */
    maxTableElements: z.number().int().min(0).optional(),
    /** WASI fds one instance may hold open (decision 100). */
    maxOpenFiles: z.number().int().min(4).optional(),
    /** Output records (NDJSON lines) one event may produce; more is a record-limit failure. */
    maxRecords: z.number().int().min(1).optional(),
  })
  .strict();

const dirGrantSchema = z.union([
  z.string().transform((s): DirGrant => {
    // "host::guest" like wasmtime --dir; ":rw" suffix makes it writable.
    const writable = s.endsWith(':rw');
    const spec = writable ? s.slice(0, -3) : s;
    const [host, guest] = spec.split('::');
    return { host: host!, guest: guest ?? host!, writable };
  }),
  z.object({ host: z.string().min(1), guest: z.string().min(1).optional(), writable: z.boolean().default(false) }).strict()
    .transform((d): DirGrant => ({ host: d.host, guest: d.guest ?? d.host, writable: d.writable })),
]);

type EnvGrant = string | Record<string, string>;
const envNameRe = /^[A-Za-z_][A-Za-z0-9_]*$/;
const envShape = 'a list of host variable names and NAME: value pairs, e.g. [HOME, {LOG_LEVEL: debug}], or a map {NAME: value}';

/** grants.env with messages that say what is wrong where (a zod union only says "Invalid input"). */
const envGrantsSchema = z.unknown().transform((v, ctx): EnvGrant[] => {
  const entries = Array.isArray(v) ? v : v !== null && typeof v === 'object' ? [v] : null;
  if (!entries) {
    ctx.addIssue({ code: 'custom', message: `expected ${envShape}, got ${JSON.stringify(v)}` });
    return [];
  }
  const at = (i: number) => (Array.isArray(v) ? [i] : []);
  const badName = (n: string) => `${JSON.stringify(n)} is not an environment variable name (letters, digits and _, not starting with a digit)`;
  return entries.map((e, i): EnvGrant => {
    if (typeof e === 'string') {
      if (!envNameRe.test(e)) ctx.addIssue({ code: 'custom', path: at(i), message: badName(e) });
      return e;
    }
    if (e === null || typeof e !== 'object' || Array.isArray(e)) {
      ctx.addIssue({ code: 'custom', path: at(i), message: `${JSON.stringify(e)} is neither a host variable name nor a NAME: value pair (${envShape})` });
      return {};
    }
    const pairs: Record<string, string> = {};
    for (const [name, value] of Object.entries(e)) {
      if (!envNameRe.test(name)) ctx.addIssue({ code: 'custom', path: [...at(i), name], message: badName(name) });
      else if (typeof value !== 'string') ctx.addIssue({ code: 'custom', path: [...at(i), name], message: `the value must be a string: quote it (${name}: "${String(value)}")` });
      else pairs[name] = value;
    }
    return pairs;
  });
});

const grantsSchema = z
  .object({
    /** Names of host variables to pass through, or NAME: value pairs to set. */
    // [HOME, PATH], {X: v}, or both mixed in a list: [HOME, {X: v}] passes HOME through and sets X.
    env: envGrantsSchema.default([]),
    dirs: z.array(dirGrantSchema).default([]),
    /** Components: hosts wasi:http/outgoing-handler may reach, e.g. ["https://api.example.com", "https://*.example.com"] (decision 221). */
    outboundHosts: z.array(z.string().superRefine((s, ctx) => {
      try {
        parseOutboundHost(s);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    })).default([]),
  })
  .strict();

const triggerSchema = z
  .object({
    type: z.string().min(1),
    metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
  })
  .strict();

const deliverySchema = z
  .object({
    /** Attempts before an event goes to the dead-letter store. */
    maxAttempts: z.number().int().min(1).default(5),
    /** First retry delay; doubles per attempt up to maxBackoff. */
    backoff: duration.default(1000),
    maxBackoff: duration.default(60_000),
  })
  .strict();

export const abis = ['wasi-command', 'exports', 'http-wasm', 'component'] as const;

export const componentSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a DNS-1123 label: lower-case letters, digits and "-"').max(63),
    /** Left out: the component runs no guest and forwards each event to its publish sink (decision 160). */
    module: z.string().min(1).optional(),
    /** A shell command that builds the module, run by `featherweight build` in the manifest's folder (like spin's component.build). */
    build: z.string().min(1).optional(),
    abi: z.enum(abis).default('wasi-command'),
    limits: limitsSchema.default({}),
    grants: grantsSchema.default({ env: [], dirs: [], outboundHosts: [] }),
    trigger: triggerSchema.default({ type: 'embedded', metadata: {} }),
    scaling: z.record(z.string(), z.unknown()).default({}),
    /** The HPA step's period (Kubernetes' --horizontal-pod-autoscaler-sync-period); 1s in-process by default. */
    hpaSyncPeriod: duration.optional(),
    sink: z.object({ type: z.string().min(1) }).passthrough().default({ type: 'sqlite' }),
    delivery: deliverySchema.default({ maxAttempts: 5, backoff: 1000, maxBackoff: 60_000 }),
    /** http-wasm only: the bytes `get_config` returns to the guest. */
    config: z.string().optional(),
  })
  .strict();

const proxySchema = z
  .object({
    name: z.string().min(1),
    listen: z.string().default('127.0.0.1:0'),
    /** The service the chain runs in front of (Dapr's appHttpPipeline). */
    upstream: z.string().url(),
    middleware: z.array(z.object({ module: z.string().min(1), config: z.string().optional() }).strict()).min(1),
    instances: z.enum(['pooled', 'fresh']).default('pooled'),
  })
  .strict();

const serverSchema = z
  .object({
    listen: z.string().default('127.0.0.1:8080'),
    /** Env var holding the bearer token required for mutating calls when bound beyond loopback. */
    tokenEnv: z.string().default('FEATHERWEIGHT_TOKEN'),
    /** Serve KEDA's external scaler gRPC service here (e.g. 127.0.0.1:9090). */
    kedaScaler: z.string().optional(),
  })
  .strict();

export const manifestSchema = z
  .object({
    apiVersion: z.literal('featherweight.dev/v1'),
    kind: z.literal('App'),
    metadata: z.object({ name: z.string().min(1) }).passthrough(),
    dataDir: z.string().default('./.featherweight'),
    server: serverSchema.default({ listen: '127.0.0.1:8080', tokenEnv: 'FEATHERWEIGHT_TOKEN' }),
    components: z.array(componentSchema).default([]),
    /** http-wasm middleware chains in front of other services. */
    proxies: z.array(proxySchema).default([]),
  })
  .strict()
  .superRefine((app, ctx) => {
    if (app.components.length === 0 && app.proxies.length === 0) ctx.addIssue({ code: 'custom', path: ['components'], message: 'an app needs at least one component or proxy' });
    const seen = new Set<string>();
    app.components.forEach((c, i) => {
      if (seen.has(c.name)) ctx.addIssue({ code: 'custom', path: ['components', i, 'name'], message: `duplicate component name "${c.name}"` });
      seen.add(c.name);
    });
  });

type RawManifest = z.infer<typeof manifestSchema>;
export type RawComponent = RawManifest['components'][number];

export interface ComponentSpec {
  name: string;
  /** Absolute path, or an oci:// reference; absent for a forwarder (no guest, publish sink; decision 160). */
  module?: string;
  /** The shell command that builds the module (`featherweight build`), run in the manifest's folder. */
  build?: string;
  abi: (typeof abis)[number];
  /** The guest's limits plus the app's own: maxRecords (default 100,000, records.ts). */
  limits: Limits & { maxRecords?: number };
  grants: Grants;
  trigger: { type: string; metadata: Record<string, string> };
  /** The KEDA ScaledObject spec fields as written (validated by scaling/). */
  scaling: Record<string, unknown>;
  /** HPA sync period in ms, when the manifest sets one (else the scaling loop's in-process default). */
  hpaSyncMs?: number;
  sink: { type: string } & Record<string, unknown>;
  delivery: { maxAttempts: number; backoffMs: number; maxBackoffMs: number };
  /** http-wasm: guest config for get_config. */
  config?: string;
}

export interface ProxySpec {
  name: string;
  listen: string;
  upstream: string;
  /** Absolute paths or oci:// references, first sees the request first. */
  middleware: Array<{ module: string; config?: string }>;
  instances: 'pooled' | 'fresh';
}

export interface AppManifest {
  name: string;
  /** Absolute. */
  dataDir: string;
  server: { listen: string; tokenEnv: string; kedaScaler?: string };
  components: ComponentSpec[];
  proxies: ProxySpec[];
  /** The file it came from, for messages. */
  file?: string;
}

/** Reads and validates a manifest file; relative paths resolve against the file's folder. */
export function loadManifest(file: string, env: NodeJS.ProcessEnv = process.env): AppManifest {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read manifest ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    // The yaml library's message ends with a code frame (the line and a caret): keep it, indented.
    const [first, ...frame] = (err as Error).message.trimEnd().split('\n');
    throw new ValidationError(`manifest ${file}`, [`not valid YAML: ${first}${frame.length ? `\n${frame.map((l) => `    ${l}`).join('\n')}` : ''}`]);
  }
  return parseManifest(doc, { baseDir: path.dirname(path.resolve(file)), env, file });
}

export interface ParseOptions { baseDir: string; env?: NodeJS.ProcessEnv; file?: string }

/** The validation stage (src/app/validate.ts) as a throwing call: the manifest, or a ValidationError listing every problem. */
export function parseManifest(doc: unknown, opts: ParseOptions): AppManifest {
  const r = validate(doc, opts);
  if (!r.ok) throw new ValidationError(`manifest ${opts.file ?? ''}`.trim(), r.problems);
  return r.manifest;
}

export function normalizeComponent(c: RawComponent, i: number, opts: ParseOptions, problems: string[]): ComponentSpec {
  const env = opts.env ?? process.env;
  const grantEnv: Record<string, string> = {};
  for (const entry of c.grants.env) {
    if (typeof entry !== 'string') {
      Object.assign(grantEnv, entry);
      continue;
    }
    const value = env[entry];
    if (value === undefined) problems.push(`components[${i}].grants.env: host variable ${entry} is not set`);
    else grantEnv[entry] = value;
  }
  return {
    name: c.name,
    ...(c.module !== undefined ? { module: c.module.startsWith('oci://') ? c.module : path.resolve(opts.baseDir, c.module) } : {}),
    abi: c.abi,
    limits: {
      maxMemoryBytes: c.limits.maxMemory ?? defaultLimits.maxMemoryBytes,
      timeoutMs: c.limits.timeout ?? defaultLimits.timeoutMs,
      maxStdinBytes: c.limits.maxStdin ?? defaultLimits.maxStdinBytes,
      maxStdoutBytes: c.limits.maxStdout ?? defaultLimits.maxStdoutBytes,
      maxStderrBytes: c.limits.maxStderr ?? defaultLimits.maxStderrBytes!,
      maxTableElements: c.limits.maxTableElements ?? defaultLimits.maxTableElements,
      maxOpenFiles: c.limits.maxOpenFiles ?? defaultLimits.maxOpenFiles,
      ...(c.limits.maxRecords !== undefined ? { maxRecords: c.limits.maxRecords } : {}),
    },
    grants: { env: grantEnv, dirs: c.grants.dirs.map((d) => ({ ...d, host: path.resolve(opts.baseDir, d.host) })), outboundHosts: c.grants.outboundHosts },
    trigger: { type: c.trigger.type, metadata: c.trigger.metadata },
    scaling: c.scaling,
    ...(c.hpaSyncPeriod !== undefined ? { hpaSyncMs: c.hpaSyncPeriod } : {}),
    // A relative sqlite path is relative to the manifest, like every other path in it.
    sink: typeof c.sink.path === 'string' && !path.isAbsolute(c.sink.path) ? { ...c.sink, path: path.resolve(opts.baseDir, c.sink.path) } : c.sink,
    delivery: { maxAttempts: c.delivery.maxAttempts, backoffMs: c.delivery.backoff, maxBackoffMs: c.delivery.maxBackoff },
    ...(c.config !== undefined ? { config: c.config } : {}),
    ...(c.build !== undefined ? { build: c.build } : {}),
  };
}
