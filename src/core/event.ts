/** One event as every source delivers it and every guest ABI receives it. */
export interface FwEvent {
  /** Stable across redeliveries: sinks key rows by (id, record index). */
  id: string;
  /** Trigger type that produced it: embedded, smtp, http, cron, nats-jetstream, ... */
  source: string;
  /** Queue, subject, stream, topic or recipient the event came through. */
  subject: string;
  headers: Record<string, string>;
  body: Uint8Array;
  /** 1 on first delivery, +1 on each redelivery. */
  attempt: number;
  /** Epoch milliseconds when the event was first accepted. */
  enqueuedAt: number;
}
