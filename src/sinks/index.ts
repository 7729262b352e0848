import { lookup, registry } from '../core/registry.js';
import type { SinkPlugin } from '../core/sink.js';
import { plugin as sqlite } from './sqlite.js';
import { plugin as postgres } from './postgres.js';
import { plugin as publish } from './publish.js';
// brokers: imports

export type { SinkOptions, SinkPlugin } from '../core/sink.js';
/** The registry's entry type (each sink file's `plugin`). */
export type SinkEntry = SinkPlugin;

/** Every sink type the manifest accepts, by `sink.type`: one plugin object per sink. */
export const sinks = registry<SinkPlugin>([
  sqlite,
  postgres,
  publish,
  // brokers: entries
]);

export const sinkPlugin = (type: string): SinkPlugin | undefined => lookup(sinks, type);
