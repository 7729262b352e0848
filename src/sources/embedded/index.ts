import type { SourceFactory } from '../../core/source.js';
import { parseOrThrow } from '../../core/validation.js';
import { createEmbeddedQueue } from './source.js';
import { metadata, queueOptions } from './options.js';

// The embedded queue, split by concern: store.ts (queue.db), source.ts (a Source over one queue),
// options.ts (the keys every queue-backed trigger shares), handle.ts (queue send/stats without a source).
export { defaultPollIntervalMs, type QueueStats } from './store.js';
export { createEmbeddedQueue, defaultLeaseBatch, defaultVisibilityTimeoutMs, type EmbeddedQueueOptions, type EmbeddedSource } from './source.js';
export { metadata, newEventId, queueMetadataKeys, queueOptions, unitKey } from './options.js';
export { openQueue, type QueueHandle } from './handle.js';

export const create: SourceFactory = (md, opts) => {
  const m = parseOrThrow(metadata, md, 'embedded trigger metadata', 'metadata') as Record<string, string | undefined>;
  return createEmbeddedQueue(opts.dataDir, queueOptions(m, opts), 'embedded');
};

