import type { z } from 'zod';
import type { Sink } from '../core/sink.js';
import * as sqlite from './sqlite.js';
import * as postgres from './postgres.js';
import * as publish from './publish.js';
// brokers: imports

export interface SinkOptions {
  /** Directory for local state: the sqlite sink's default file is <dataDir>/rows.db. */
  dataDir: string;
  /** Component name: the default table name (non-identifier characters become _). */
  component: string;
}

export interface SinkEntry {
  /** `config` is the manifest's `sink:` object, already parsed by `config`. */
  create(config: any, opts: SinkOptions): Sink;
  /** Strict schema of the manifest's `sink:` object, including `type`. */
  config: z.ZodType;
}

/** Every sink type the manifest accepts, by `sink.type`. */
export const sinks: Record<string, SinkEntry> = {
  sqlite: { create: sqlite.create, config: sqlite.config },
  postgres: { create: postgres.create, config: postgres.config },
  publish: { create: publish.create, config: publish.config },
  // brokers: entries
};
