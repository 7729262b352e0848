import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseDuration } from '../core/units.js';
import { ValidationError, formatZodIssues, under } from '../core/validation.js';
import { sinkPlugin, sinks } from '../sinks/index.js';
import { triggerPlugin, triggers } from '../sources/index.js';
import { componentSchema, loadManifest, manifestSchema, normalizeComponent, type AppManifest, type ComponentSpec, type ParseOptions } from './manifest.js';
import { resolveScaling } from './scaling.js';

/**
 * The validation stage. `featherweight validate`, `up`, `kube render` and `simulate` all go through
 * it (loadManifest and parseManifest are its throwing form): the manifest's shape, then for each
 * component the checks owned by other layers (its trigger plugin's pure parse, its sink's schema,
 * the scaling spec, the files it will open), every problem with its path, all at once.
 */
export type Validated = { ok: true; manifest: AppManifest } | { ok: false; problems: string[] };

/** Validates a parsed manifest document; relative paths resolve against `opts.baseDir`. */
export function validate(doc: unknown, opts: ParseOptions): Validated {
  const result = manifestSchema.safeParse(doc);
  if (!result.success) {
    const problems = formatZodIssues(result.error, '', manifestSchema);
    // A shape error elsewhere does not hide the problems of the well-formed components.
    const raw = (doc as { components?: unknown } | null)?.components;
    if (Array.isArray(raw)) {
      raw.forEach((c, i) => {
        if (result.error.issues.some((is) => is.path[0] === 'components' && is.path[1] === i)) return;
        const r = componentSchema.safeParse(c);
        if (r.success) problems.push(...checkComponent(normalizeComponent(r.data, i, opts, problems), `components[${i}]`));
      });
    }
    return { ok: false, problems };
  }
  const raw = result.data;
  const problems: string[] = [];
  const components = raw.components.map((c, i) => normalizeComponent(c, i, opts, problems));
  components.forEach((c, i) => problems.push(...checkComponent(c, `components[${i}]`)));
  if (problems.length) return { ok: false, problems };
  return {
    ok: true,
    manifest: {
      name: raw.metadata.name,
      dataDir: path.resolve(opts.baseDir, raw.dataDir),
      server: raw.server,
      components,
      proxies: raw.proxies.map((p) => ({
        ...p,
        middleware: p.middleware.map((m) => ({ ...m, module: m.module.startsWith('oci://') ? m.module : path.resolve(opts.baseDir, m.module) })),
      })),
      ...(opts.file ? { file: opts.file } : {}),
    },
  };
}

/** Reads and validates a manifest file: an unreadable file or bad YAML is a problem like any other. */
export function validateFile(file: string, env: NodeJS.ProcessEnv = process.env): Validated {
  try {
    return { ok: true, manifest: loadManifest(file, env) };
  } catch (err) {
    return { ok: false, problems: err instanceof ValidationError ? err.problems : [(err as Error).message] };
  }
}

/**
 * Validation owned by other layers: the trigger's metadata (its plugin's parse), the sink's config
 * (its plugin's schema) and the scaling spec (scaling/). Returns one problem line per bad field.
 */
export function checkComponent(c: ComponentSpec, where: string): string[] {
  const problems: string[] = [];
  const trigger = triggerPlugin(c.trigger.type);
  if (!trigger) {
    problems.push(`${where}.trigger.type: unknown trigger ${JSON.stringify(c.trigger.type)} (allowed: ${Object.keys(triggers).join(', ')})`);
  } else {
    const r = trigger.parse(c.trigger.metadata);
    if (!r.ok) problems.push(...r.problems.map((p) => under(`${where}.trigger.metadata`, p)));
    else problems.push(...r.files.flatMap((f) => missingFile(f.path, `${where}.trigger.metadata.${f.key}`)));
  }
  if (c.module !== undefined && !c.module.startsWith('oci://')) problems.push(...missingFile(c.module, `${where}.module`));
  const sink = sinkPlugin(c.sink.type);
  if (!sink) {
    problems.push(`${where}.sink.type: unknown sink ${JSON.stringify(c.sink.type)} (allowed: ${Object.keys(sinks).join(', ')})`);
  } else {
    const r = sink.config.safeParse(c.sink);
    if (!r.success) problems.push(...formatZodIssues(r.error, `${where}.sink`, sink.config));
  }
  const visibility = c.trigger.metadata.visibilityTimeout;
  if (visibility !== undefined && trigger?.queued) {
    let ms: number | undefined;
    try {
      ms = parseDuration(visibility);
    } catch {
      // the plugin's parse has reported it
    }
    if (ms !== undefined && ms <= c.limits.timeoutMs) {
      problems.push(`${where}.trigger.metadata.visibilityTimeout: ${visibility} must be longer than limits.timeout (${c.limits.timeoutMs} ms), or running events would be redelivered while they run`);
    }
  }
  if (c.module === undefined) {
    if (c.abi !== 'wasi-command') problems.push(`${where}.module: an ${c.abi} component needs a module`);
    else if (c.sink.type !== 'publish') {
      problems.push(`${where}.module: missing; a component without a module forwards each event unchanged to its sink, so the sink must be \`type: publish\` (got ${c.sink.type}); give \`module:\` to run a handler`);
    }
  }
  if (c.abi === 'http-wasm') {
    // An http-wasm component answers HTTP requests itself: no queue, no sink, no scaling.
    if (c.trigger.type !== 'http') problems.push(`${where}.trigger.type: an http-wasm component answers HTTP requests, so its trigger must be http (got ${c.trigger.type})`);
    return problems;
  }
  if (c.config !== undefined) problems.push(`${where}.config: only http-wasm components take a guest config`);
  if (c.abi === 'exports') {
    problems.push(`${where}.abi: "exports" components cannot handle events (use wasi-command, or http-wasm with an http trigger); call exports with \`featherweight call\``);
  }
  try {
    resolveScaling(c, `${where}.scaling`);
  } catch (err) {
    const e = err as Error & { problems?: string[] };
    problems.push(...(e.problems ?? [e.message]));
  }
  return problems;
}

/** A file the component reads at open that is not there (checked here so `validate` says so before `up`). */
function missingFile(file: string, where: string): string[] {
  // The path as open reads it (module paths are already absolute, resolved against the manifest).
  const abs = path.resolve(file);
  if (!existsSync(abs)) return [`${where}: no such file ${abs}; fix the path or create the file`];
  if (!statSync(abs).isFile()) return [`${where}: ${abs} is not a file`];
  return [];
}
