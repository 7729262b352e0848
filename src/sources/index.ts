import type { z } from 'zod';
import type { SourceFactory, TriggerPlugin } from '../core/source.js';
import { lookup, registry } from '../core/registry.js';
import { configOrThrow, type Parsed } from '../core/validation.js';
import { plugin as embedded } from './embedded/index.js';
import { plugin as smtp } from './smtp.js';
import { plugin as http } from './http.js';
import { plugin as cron } from './cron.js';
import { plugin as natsJetstream } from './nats-jetstream.js';
import { plugin as redisStreams } from './redis-streams.js';
import { plugin as rabbitmq } from './rabbitmq.js';
import { plugin as mqtt } from './mqtt.js';
// brokers: imports

/** Every trigger type the manifest accepts, by `trigger.type`: the one registry (docs/adding-a-trigger.md). */
export const triggers = registry<TriggerPlugin>([
  embedded,
  smtp,
  http,
  cron,
  natsJetstream,
  redisStreams,
  rabbitmq,
  mqtt,
  // brokers: entries
]);

export const triggerPlugin = (type: string): TriggerPlugin | undefined => lookup(triggers, type);

export interface SourceEntry {
  create: SourceFactory;
  metadata: z.ZodType<Record<string, string>>;
  parse: (md: Record<string, string>) => Parsed<unknown>;
}

/** `sources[type].create(metadata, opts)`: parse, then open, for callers holding raw metadata (the app, dlq retry). */
export const sources: Readonly<Record<string, SourceEntry>> = Object.fromEntries(
  Object.values(triggers).map((p) => [
    p.type,
    { create: (md, opts) => p.open(configOrThrow(`${p.type} trigger`, p.parse(md)), opts), metadata: p.metadata, parse: (md) => p.parse(md) } satisfies SourceEntry,
  ]),
);

/** Trigger types whose events live in <dataDir>/queue.db (dlq retry needs no broker for them). */
export const embeddedQueueTypes: readonly string[] = Object.values(triggers).filter((p) => p.queued).map((p) => p.type);
