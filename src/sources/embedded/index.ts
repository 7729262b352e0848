import type { Source, SourceFactory, SourceOptions, TriggerPlugin } from '../../core/source.js';
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

export const plugin: TriggerPlugin<Config> = {
  type: 'embedded',
  metadata,
  parse,
  open,
  scaler: 'embedded',
  queued: true,
  kube: { kind: 'external-push' },
};
