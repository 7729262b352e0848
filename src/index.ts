/**
 * featherweight's public API for embedders (`import ... from 'featherweight-wasm'`): load and
 * validate a manifest, start an app and stop it, run one module. Everything else is internal; the
 * scaling semantics are exported separately as 'featherweight-wasm/scaling'.
 */
import type { Logger } from 'pino';
import type { AppManifest } from './app/manifest.js';
import type { RunningApp } from './app/app.js';
import type { ThreadBudget } from './runtime/budget.js';
import { resolveModule } from './app/module.js';
import type { ExternalScalerServer } from './kube/external-scaler.js';
import { parseListen } from './server/http-util.js';
import { loadModule } from './wasm/compile.js';
import { defaultLimits, type Grants, type Limits } from './wasm/limits.js';
import type { GuestRun } from './wasm/result.js';
import { runWasiCommand } from './wasm/wasi-command.js';

export { loadManifest, parseManifest, type AppManifest, type ComponentSpec, type ProxySpec, type ParseOptions } from './app/manifest.js';
export { startApp, selectComponents, type RunningApp, type StartOptions } from './app/app.js';
export type { ModuleSwap, RunningComponent, ComponentState } from './app/component.js';
export { startServer, type RunningServer } from './server/server.js';
export { createLogger } from './app/log.js';
export { validateFile as validateManifest, type Validated } from './app/validate.js';
export { ValidationError } from './core/validation.js';
export { defaultLimits, type Limits, type Grants } from './wasm/limits.js';
export type { GuestRun } from './wasm/result.js';
export type { FwEvent } from './core/event.js';

/** A running middleware proxy of the manifest's `proxies:`. */
export interface RunningProxy { name: string; url: string; close(): Promise<void> }

/**
 * Starts the manifest's http-wasm middleware chains, each in front of its upstream (Dapr's
 * appHttpPipeline), as `up` does; their guests share `budget` (the app's, `app.budget`) when given
 * (decision 122). If one cannot start, those already started are closed.
 */
export async function startProxies(manifest: AppManifest, opts: { log: Logger; budget?: ThreadBudget }): Promise<RunningProxy[]> {
  const started: RunningProxy[] = [];
  if (manifest.proxies.length === 0) return started;
  // Loaded when used, as the KEDA scaler below: a CLI run pays for what it starts (decision 140).
  const { startHttpProxy } = await import('./server/http-proxy.js');
  try {
    for (const p of manifest.proxies) {
      const { host, port } = parseListen(p.listen);
      const middleware = await Promise.all(
        p.middleware.map(async (m, i) => ({
          name: `${p.name}[${i}]`,
          module: (await resolveModule(m.module, manifest.dataDir)).module,
          ...(m.config !== undefined ? { config: new TextEncoder().encode(m.config) } : {}),
        })),
      );
      const proxy = await startHttpProxy({ middleware, upstream: p.upstream, host, port, log: opts.log.child({ proxy: p.name }), instances: p.instances, ...(opts.budget ? { budget: opts.budget } : {}) });
      opts.log.info({ proxy: p.name, url: proxy.url, upstream: p.upstream }, 'http-wasm middleware proxy listening');
      started.push({ name: p.name, url: proxy.url, close: () => proxy.close() });
    }
  } catch (err) {
    await Promise.allSettled(started.map((p) => p.close()));
    throw err;
  }
  return started;
}

/** Serves KEDA's external scaler gRPC service (externalscaler.ExternalScaler) for a running app, as `up --keda-scaler` does. */
export async function startKedaScaler(app: RunningApp, opts: { listen: string }): Promise<ExternalScalerServer> {
  const [{ startExternalScaler }, { scalerProvider }] = await Promise.all([import('./kube/external-scaler.js'), import('./kube/scaler-provider.js')]);
  return startExternalScaler(scalerProvider(app), { listen: opts.listen });
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
