import type { z } from 'zod';
import type { SourceFactory } from '../core/source.js';
import type { Parsed } from '../core/validation.js';
import * as embedded from './embedded/index.js';
import * as smtp from './smtp.js';
import * as http from './http.js';
import * as cron from './cron.js';
import * as natsJetstream from './nats-jetstream.js';
import * as redisStreams from './redis-streams.js';
import * as rabbitmq from './rabbitmq.js';
import * as mqtt from './mqtt.js';
// brokers: imports

export interface SourceEntry {
  create: SourceFactory;
  /** Strict schema of the trigger's metadata: KEDA's keys for the type plus featherweight's connection keys. */
  metadata: z.ZodType<Record<string, string>>;
  /** Pure parse of the metadata with every check create() makes (validation calls it); the schema alone when absent. */
  parse?: (md: Record<string, string>) => Parsed<unknown>;
}

/** Every trigger type the manifest accepts, by `trigger.type`. */
export const sources: Record<string, SourceEntry> = {
  embedded: { create: embedded.create, metadata: embedded.metadata },
  smtp: { create: smtp.create, metadata: smtp.metadata, parse: smtp.parse },
  http: { create: http.create, metadata: http.metadata },
  cron: { create: cron.create, metadata: cron.metadata, parse: cron.parse },
  'nats-jetstream': { create: natsJetstream.create, metadata: natsJetstream.metadata, parse: natsJetstream.parse },
  'redis-streams': { create: redisStreams.create, metadata: redisStreams.metadata, parse: redisStreams.parse },
  rabbitmq: { create: rabbitmq.create, metadata: rabbitmq.metadata, parse: rabbitmq.parse },
  mqtt: { create: mqtt.create, metadata: mqtt.metadata },
  // brokers: entries
};

/** Trigger types whose events live in <dataDir>/queue.db (dlq retry needs no broker for them). */
export const embeddedQueueTypes = ['embedded', 'smtp', 'http', 'cron'] as const;
