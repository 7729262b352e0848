/**
 * featherweight's public API for embedders (`import ... from 'featherweight-wasm'`): load and
 * validate a manifest, start an app and stop it, run one module. Everything else is internal; the
 * scaling semantics are exported separately as 'featherweight-wasm/scaling'.
 */
import { loadManifest } from './app/manifest.js';
import { ValidationError } from './core/validation.js';
import { loadModule } from './wasm/compile.js';
import { defaultLimits, type Grants, type Limits } from './wasm/limits.js';
import type { GuestRun } from './wasm/result.js';
import { runWasiCommand } from './wasm/wasi-command.js';

export { loadManifest, parseManifest, type AppManifest, type ComponentSpec, type ProxySpec, type ParseOptions } from './app/manifest.js';
export { startApp, selectComponents, type RunningApp, type StartOptions } from './app/app.js';
export type { ModuleSwap } from './app/component.js';
export { startServer, type RunningServer } from './server/server.js';
export { ValidationError } from './core/validation.js';
export { defaultLimits, type Limits, type Grants } from './wasm/limits.js';
export type { GuestRun } from './wasm/result.js';
export type { FwEvent } from './core/event.js';

/** Validates a manifest file without starting anything: every problem with its path, as `featherweight validate`. */
export function validateManifest(file: string, env: NodeJS.ProcessEnv = process.env): { ok: true; manifest: ReturnType<typeof loadManifest> } | { ok: false; problems: string[] } {
  try {
    return { ok: true, manifest: loadManifest(file, env) };
  } catch (err) {
    if (err instanceof ValidationError) return { ok: false, problems: err.problems };
    return { ok: false, problems: [(err as Error).message] };
  }
}

export interface RunModuleOptions {
  stdin?: Uint8Array | string;
  env?: Record<string, string>;
  args?: string[];
  /** Overrides of the default limits (64 MiB memory, 5 s timeout, ...). */
  limits?: Partial<Limits>;
  /** Nothing of the host is granted unless given here. */
  grants?: Grants;
}

/** Runs one wasi-command module once on this thread, as `featherweight run` does: stdin in, stdout out. */
export function runModule(file: string, opts: RunModuleOptions = {}): GuestRun {
  const limits: Limits = { ...defaultLimits, ...opts.limits };
  const { module } = loadModule(file, limits.maxTableElements !== undefined ? { maxTableElements: limits.maxTableElements } : {});
  const stdin = typeof opts.stdin === 'string' ? Buffer.from(opts.stdin) : (opts.stdin ?? new Uint8Array());
  return runWasiCommand(module, { stdin, env: opts.env ?? {}, args: opts.args ?? [] }, limits, opts.grants);
}
