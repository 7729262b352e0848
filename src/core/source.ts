import type { FwEvent } from './event.js';

/** A delivered, not yet acknowledged event. Exactly one of ack/nack/reject is called. */
export interface Delivery {
  event: FwEvent;
  /** The sink has committed: the source may forget the event. */
  ack(): Promise<void>;
  /** Failed: redeliver after delayMs (at-least-once). */
  nack(delayMs: number): Promise<void>;
  /** Failed for good (after maxAttempts, already written to the dead-letter store): never redeliver. */
  reject(reason: string): Promise<void>;
}

/** Backlog as KEDA's scaler for this broker computes it, plus events delivered and not yet settled. */
export interface LagReport {
  /** The value KEDA's scaler for this trigger type would report (e.g. num_pending + num_ack_pending). */
  lag: number;
  /** Delivered to this process and not yet acked/nacked. */
  inFlight: number;
}

export interface SourceContext {
  /** Called when new lag appears (push): the scaler activates at once instead of at the next poll. */
  notify(): void;
  log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
}

/**
 * One trigger. Pull-based so that backpressure is natural: the dispatcher asks for the next
 * event only when a replica is free.
 */
export interface Source {
  readonly type: string;
  start(ctx: SourceContext): Promise<void>;
  /** Resolves with the next delivery, or null once the source is closed or the signal aborts. */
  next(signal: AbortSignal): Promise<Delivery | null>;
  lag(): Promise<LagReport>;
  /** Put an event (back) on the source, e.g. `dlq retry` or `queue send`. */
  publish(event: Omit<FwEvent, 'attempt' | 'enqueuedAt'> & Partial<Pick<FwEvent, 'attempt' | 'enqueuedAt'>>): Promise<void>;
  close(): Promise<void>;
}
