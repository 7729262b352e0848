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
