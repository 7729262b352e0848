import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { sources, embeddedQueueTypes } from '../sources/index.js';
import { parseDuration } from '../core/units.js';
import { sinks } from '../sinks/index.js';
import { formatZodIssues, under } from '../core/validation.js';
import type { ComponentSpec } from './manifest.js';
import { resolveScaling } from './scaling.js';

/**
 * Validation owned by other layers: the trigger's metadata (sources/), the sink's config (sinks/)
 * and the scaling spec (scaling/). Returns one problem line per bad field.
 */
export function checkComponent(c: ComponentSpec, where: string): string[] {
  const problems: string[] = [];
  // Own keys only: a type such as "constructor" is unknown, not Object.prototype's.
  const source = Object.hasOwn(sources, c.trigger.type) ? sources[c.trigger.type] : undefined;
  if (!source) {
    problems.push(`${where}.trigger.type: unknown trigger ${JSON.stringify(c.trigger.type)} (allowed: ${Object.keys(sources).join(', ')})`);
  } else if (source.parse) {
    const r = source.parse(c.trigger.metadata);
    if (!r.ok) problems.push(...r.problems.map((p) => under(`${where}.trigger.metadata`, p)));
    else problems.push(...r.files.flatMap((f) => missingFile(f.path, `${where}.trigger.metadata.${f.key}`)));
  } else {
    const r = source.metadata.safeParse(c.trigger.metadata);
    if (!r.success) problems.push(...formatZodIssues(r.error, `${where}.trigger.metadata`, source.metadata));
  }
  if (c.module !== undefined && !c.module.startsWith('oci://')) problems.push(...missingFile(c.module, `${where}.module`));
  const sink = Object.hasOwn(sinks, c.sink.type) ? sinks[c.sink.type] : undefined;
  if (!sink) {
    problems.push(`${where}.sink.type: unknown sink ${JSON.stringify(c.sink.type)} (allowed: ${Object.keys(sinks).join(', ')})`);
  } else {
    const r = sink.config.safeParse(c.sink);
    if (!r.success) problems.push(...formatZodIssues(r.error, `${where}.sink`, sink.config));
  }
  const visibility = c.trigger.metadata.visibilityTimeout;
  if (visibility !== undefined && (embeddedQueueTypes as readonly string[]).includes(c.trigger.type)) {
    try {
      if (parseDuration(visibility) <= c.limits.timeoutMs) {
        problems.push(`${where}.trigger.metadata.visibilityTimeout: ${visibility} must be longer than limits.timeout (${c.limits.timeoutMs} ms), or running events would be redelivered while they run`);
      }
    } catch (err) {
      problems.push(`${where}.trigger.metadata.visibilityTimeout: ${(err as Error).message}`);
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
