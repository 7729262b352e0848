import type { KubeIngress, Source, SourceFactory, SourceOptions, TriggerPlugin } from '../../core/source.js';
import { configOrThrow, parseWith, type Parsed } from '../../core/validation.js';
import { createEmbeddedQueue } from './source.js';
import { checkQueueKeys, metadata, queueOptions } from './options.js';

// The embedded queue, split by concern: store.ts (queue.db), source.ts (a Source over one queue),
// options.ts (the keys every queue-backed trigger shares), handle.ts (queue send/stats without a source).
export { defaultPollIntervalMs, type QueueStats } from './store.js';
export { createEmbeddedQueue, defaultLeaseBatch, defaultVisibilityTimeoutMs, type EmbeddedQueueOptions, type EmbeddedSource } from './source.js';
export { checkQueueKeys, metadata, newEventId, queueMetadataKeys, queueOptions, unitKey } from './options.js';
export { openQueue, type QueueHandle } from './handle.js';

type Config = Record<string, string | undefined>;

/** The embedded trigger's metadata as open uses it; pure, every problem at once. */
export const parse = (md: Record<string, string>): Parsed<Config> =>
  parseWith(metadata, md, (m, ctx) => {
    checkQueueKeys(m, ctx);
    return m as Config;
  });

export const open = (m: Config, opts: SourceOptions): Source => createEmbeddedQueue(opts.dataDir, queueOptions(m, opts), 'embedded');

export const create: SourceFactory = (md, opts) => open(configOrThrow('embedded trigger metadata', parse(md)), opts);

/**
 * A trigger whose events live in the embedded queue (embedded, http, smtp, cron): queued, so dlq
 * retry needs no broker and Kubernetes keeps the queue on a volume; scaled on Kubernetes through
 * featherweight's external-push scaler (the queue is in the pod); scaling as its own type unless said.
 */
export function queueTrigger<C>(p: Pick<TriggerPlugin<C>, 'type' | 'metadata' | 'parse' | 'open'> & { scaler?: string; ingress?: KubeIngress; posts?: boolean }): TriggerPlugin<C> {
  const { ingress, ...rest } = p;
  return { scaler: p.type, ...rest, queued: true, kube: { kind: 'external-push', ...(ingress ? { ingress } : {}) } };
}

export const plugin = queueTrigger<Config>({ type: 'embedded', metadata, parse, open, posts: true });
