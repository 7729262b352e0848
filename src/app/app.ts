import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import { openDeadLetters, type DeadLetters } from '../sources/dead-letters.js';
import type { AppManifest, ComponentSpec } from './manifest.js';
import { resolveGuest, resolveModule } from './module.js';
import { componentWorld, type ComponentImage } from '../wasm/component/index.js';
import { startComponent, type ComponentState, type ModuleSwap, type RunningComponent } from './component.js';
import { createMetrics, type AppMetrics } from './metrics.js';
import { createThreadBudget, type ThreadBudget } from '../runtime/budget.js';

/** One sample of every component, for the dashboard's charts (server-sent events). */
export interface AppSample { t: number; components: ComponentState[] }

/**
 * An http-wasm component, or an `abi: component` one exporting wasi:http/incoming-handler: the server
 * answers its requests with the guest (no queue, no sink).
 */
export interface HttpHandlerComponent { spec: ComponentSpec; module: WebAssembly.Module; component?: ComponentImage }

export interface RunningApp {
  manifest: AppManifest;
  components: Map<string, RunningComponent>;
  httpHandlers: Map<string, HttpHandlerComponent>;
  deadLetters: DeadLetters;
  metrics: AppMetrics;
  /** One thread budget for the whole host (~cores), shared fairly by the components and http-wasm guests (decision 122). */
  budget: ThreadBudget;
  /** Recent samples, oldest first (a few minutes at sampleMs). */
  history(): AppSample[];
  onSample(cb: (s: AppSample) => void): () => void;
  /** Puts a dead letter back on its component's source and removes it from the store. */
  retryDeadLetter(id: string): Promise<void>;
  /**
   * Swaps a component's module for `bytes`, or for its manifest module read again (`up --watch`),
   * without losing or repeating an event: see RunningComponent.swapModule. On any failure it throws
   * and the old module keeps serving.
   */
  reload(component: string, bytes?: Uint8Array): Promise<ModuleSwap>;
  close(): Promise<void>;
}

export interface StartOptions {
  log: Logger;
  /** Sampling period of the dashboard history. */
  sampleMs?: number;
  historySize?: number;
  /** Drain bound of components with an accepting source (see defaultDrainMs). */
  drainMs?: number;
}

/**
 * The app narrowed to the named components and proxies (`up --only`), so each process of a
 * multi-host app runs one part of it: N processes running the same broker-fed component share its
 * consumer (competing consumers). Unknown names are an error that lists the known ones.
 */
export function selectComponents(manifest: AppManifest, only: readonly string[]): AppManifest {
  const names = [...new Set(only.map((n) => n.trim()).filter(Boolean))];
  const known = [...manifest.components.map((c) => c.name), ...manifest.proxies.map((p) => p.name)];
  const unknown = names.filter((n) => !known.includes(n));
  if (names.length === 0) throw new Error(`--only needs at least one component name (this app has: ${known.join(', ')})`);
  if (unknown.length) throw new Error(`--only: no component or proxy named ${unknown.map((n) => JSON.stringify(n)).join(', ')} in app ${manifest.name} (it has: ${known.join(', ')})`);
  return {
    ...manifest,
    components: manifest.components.filter((c) => names.includes(c.name)),
    proxies: manifest.proxies.filter((p) => names.includes(p.name)),
  };
}

export async function startApp(manifest: AppManifest, opts: StartOptions): Promise<RunningApp> {
  mkdirSync(manifest.dataDir, { recursive: true });
  const deadLetters = openDeadLetters(manifest.dataDir);
  const components = new Map<string, RunningComponent>();
  const httpHandlers = new Map<string, HttpHandlerComponent>();
  const states = () => [...components.values()].map((c) => c.state());
  const metrics = createMetrics(states, (name) => deadLetters.count(name));
  const budget = createThreadBudget();
  try {
    for (const spec of manifest.components) {
      if (spec.abi === 'http-wasm') {
        // checks.ts refuses an http-wasm component without a module
        httpHandlers.set(spec.name, { spec, module: (await resolveModule(spec.module!, manifest.dataDir, spec.limits)).module });
        continue;
      }
      if (spec.abi === 'component' && spec.module !== undefined) {
        const guest = await resolveGuest(spec.module, spec.abi, manifest.dataDir, spec.limits);
        if (guest.component && componentWorld(guest.component) === 'http') {
          httpHandlers.set(spec.name, { spec, module: guest.module, component: guest.component });
          continue;
        }
      }
      components.set(
        spec.name,
        await startComponent(spec, {
          dataDir: manifest.dataDir,
          log: opts.log,
          deadLetters,
          onOutcome: (name, o) => metrics.observe(name, o),
          ...(opts.drainMs !== undefined ? { drainMs: opts.drainMs } : {}),
          budget,
        }),
      );
    }
  } catch (err) {
    await Promise.allSettled([...components.values()].map((c) => c.close()));
    deadLetters.close();
    throw err;
  }

  const sampleMs = opts.sampleMs ?? 250;
  const historySize = opts.historySize ?? 1200;
  const samples: AppSample[] = [];
  const listeners = new Set<(s: AppSample) => void>();
  const timer = setInterval(() => {
    const sample = { t: Date.now(), components: states() };
    samples.push(sample);
    if (samples.length > historySize) samples.shift();
    for (const cb of listeners) cb(sample);
  }, sampleMs);
  timer.unref();

  return {
    manifest,
    components,
    httpHandlers,
    deadLetters,
    metrics,
    budget,
    history: () => samples.slice(),
    onSample(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    async retryDeadLetter(id) {
      const entry = deadLetters.get(id);
      if (!entry) throw new Error(`no dead letter with id ${id}`);
      const component = components.get(entry.component);
      if (!component) throw new Error(`dead letter ${id} belongs to component ${entry.component}, which this app does not run`);
      const { attempt: _attempt, enqueuedAt: _enqueuedAt, ...event } = entry.event;
      await component.source.publish(event);
      deadLetters.remove(id);
    },
    async reload(name, bytes) {
      const component = components.get(name);
      if (!component) {
        if (httpHandlers.has(name)) throw new Error(`component ${name} is an http-wasm handler, whose module is not swapped while running: restart up to load a new one`);
        throw new Error(`no component named ${name} in app ${manifest.name} (it runs: ${[...components.keys()].join(', ') || 'none'})`);
      }
      return component.swapModule(bytes);
    },
    async close() {
      clearInterval(timer);
      await Promise.allSettled([...components.values()].map((c) => c.close()));
      deadLetters.close();
    },
  };
}
