import type { z } from 'zod';
import type { Parsed } from './validation.js';
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

/**
 * What the scaler sees for this source. `lag` is the scaling metric: the backlog computed the way
 * KEDA's scaler for this broker computes it, with the events this process holds un-acknowledged
 * included (NATS num_ack_pending and RabbitMQ's HTTP `messages` already include them; add them
 * where KEDA's metric does not, e.g. AMQP's ready-only count or Redis' group lag). So a replica
 * busy with an event keeps the metric up and is never scaled away under it.
 */
export interface LagReport {
  /** The scaling metric described above. */
  lag: number;
  /** Delivered to this process and not yet settled (for display; already inside `lag`). */
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
  /**
   * Sources that accept events themselves (smtp): refuse new ones from now on (SMTP 421) so the
   * component can drain what it holds before it stops; close() follows.
   */
  stopAccepting?(): Promise<void>;
  /**
   * Turns an event as the source stored it into the one its handler sees, after the delivery and
   * before the guest (or the forward) gets it; absent when they are the same. The smtp source stores
   * the mail as received and parses its MIME here, off the SMTP connection's critical path (decision
   * 250). Throws PreparationError for an event that can never be prepared (dead-lettered as stored);
   * any other error is the host's and the event is redelivered.
   */
  prepare?(event: FwEvent): Promise<FwEvent>;
  /** Put an event (back) on the source, e.g. `dlq retry` or `queue send`. */
  publish(event: Omit<FwEvent, 'attempt' | 'enqueuedAt'> & Partial<Pick<FwEvent, 'attempt' | 'enqueuedAt'>>): Promise<void>;
  close(): Promise<void>;
}

/** What every source factory receives besides the trigger's own metadata. */
export interface SourceOptions {
  /** Component name: default queue/consumer/group name. */
  component: string;
  /** Directory for local state (SQLite queue, dead letters): ./.featherweight by default. */
  dataDir: string;
  /** Upper bound on events held un-acked at once (the component's maxReplicaCount). */
  prefetch: number;
  /**
   * Largest event body the component can run (its maxStdin); a source that builds the body itself
   * (smtp) refuses a larger one at ingress instead of accepting an event that can only dead-letter.
   */
  maxEventBytes?: number;
}

/** Each source file exports one of these as `create`. Metadata values are strings, as in KEDA. */
export type SourceFactory = (metadata: Record<string, string>, opts: SourceOptions) => Source;

/**
 * How KEDA scales a trigger on Kubernetes: its own scaler for the broker (`native`: KEDA's trigger
 * type, the metadata keys that scaler reads, the ones it requires, and the keys holding a secret,
 * which render moves to a Secret + TriggerAuthentication), or featherweight's external-push scaler
 * for a trigger that lives in the pod (its queue or its held messages are what the pod reports).
 */
export type KubeTrigger =
  | { kind: 'native'; type: string; keys: readonly string[]; required: readonly string[]; secrets: readonly string[]; hints?: Readonly<Record<string, string>> }
  | { kind: 'external-push'; ingress?: KubeIngress };

/**
 * A trigger that accepts events itself, which the rendered Service exposes under `name`: on its own
 * listener (`listen`: the metadata key of its address, rebound on all interfaces in the pod, and
 * the port when the key is absent), or, without `listen`, on the host's HTTP server.
 */
export interface KubeIngress {
  name: string;
  listen?: { key: string; defaultPort: number };
}

/**
 * One trigger type, declared once (src/sources/<type>.ts); every table keyed by the type string
 * (the source registry, the scaler type, metric readers, the Kubernetes mapping, which triggers
 * keep their events in queue.db) is derived from the registry of these in src/sources/index.ts.
 */
export interface TriggerPlugin<C = any> {
  /** `trigger.type` in the manifest. */
  readonly type: string;
  /** Strict schema of the metadata: the connection keys plus KEDA's keys for the type. */
  readonly metadata: z.ZodType<Record<string, string>>;
  /** Pure: every check open() relies on, every problem at once; files it will read are named, not read. */
  parse(metadata: Record<string, string>): Parsed<C>;
  /** The Source over a parsed config (environment lookups such as *FromEnv happen here, not in parse). */
  open(config: C, opts: SourceOptions): Source;
  /**
   * The scaler type (src/scaling/triggers.ts) its lag scales as: the broker's KEDA scaler, or the
   * queue-lag scaler of a featherweight trigger (cron's is 'cron-source': KEDA's `cron` is a window).
   */
  readonly scaler: string;
  /** Its events live in <dataDir>/queue.db: dlq retry needs no broker, and on Kubernetes a volume keeps them. */
  readonly queued: boolean;
  /** Events may be POSTed to it on the host's API (`/v1/components/<name>/events`). */
  readonly posts?: boolean;
  readonly kube: KubeTrigger;
}
