import type { z } from 'zod';
import type { FwEvent } from './event.js';

/** One output record: a flat object whose keys become columns. */
export type SinkRecord = Record<string, unknown>;

export interface RowsQuery {
  limit: number;
  offset: number;
  /** Substring filter over the record's text columns. */
  filter?: string;
}

export interface Sink {
  readonly type: string;
  start(): Promise<void>;
  /**
   * Writes every record of one event in one transaction keyed by (eventId, record index), so that
   * a redelivered event never duplicates a row. Resolves once committed.
   */
  write(eventId: string, records: SinkRecord[]): Promise<void>;
  /**
   * Only sinks that publish to a broker: puts the event itself on the broker, body byte for byte,
   * with its headers and its id as the dedupe key, for a component without a module (a forwarder,
   * decision 160). Resolves once the broker has confirmed it.
   */
  forward?(event: FwEvent): Promise<void>;
  /** Optional read-back for the API and dashboard. */
  rows?(q: RowsQuery): Promise<{ total: number; rows: SinkRecord[] }>;
  close(): Promise<void>;
}

/** What every sink receives besides its own config. */
export interface SinkOptions {
  /** Directory for local state: the sqlite sink's default file is <dataDir>/rows.db. */
  dataDir: string;
  /** Component name: the default table name (non-identifier characters become _). */
  component: string;
}

/** One sink type, declared once (src/sinks/<type>.ts) and registered in src/sinks/index.ts. */
export interface SinkPlugin<C = any> {
  /** `sink.type` in the manifest. */
  readonly type: string;
  /** Strict schema of the manifest's `sink:` object, including `type`; validation reports its problems. */
  readonly config: z.ZodType<C>;
  /** `config` is the manifest's `sink:` object, already parsed by `config`. */
  create(config: C, opts: SinkOptions): Sink;
}
