/** Small pieces shared by the broker sources (nats-jetstream, redis-streams, rabbitmq, mqtt). */
import { z } from 'zod';
import { parseDuration } from '../core/units.js';
import type { ParseContext } from '../core/validation.js';

/**
 * Validates trigger metadata against a strict zod object of string fields. Unknown keys and bad
 * values become one error naming the key and what is allowed.
 */
export function parseMetadata<S extends z.ZodObject>(type: string, schema: S, metadata: Record<string, string>): z.infer<S> {
  const allowed = Object.keys(schema.shape);
  const unknown = Object.keys(metadata).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new Error(`${type} trigger: unknown metadata key ${unknown.map((k) => JSON.stringify(k)).join(', ')}; allowed: ${allowed.join(', ')}`);
  }
  const r = schema.safeParse(metadata);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new Error(`${type} trigger: metadata ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return r.data;
}

/** A duration key that must be at least `minMs` (a shorter one would redeliver running events); 0 when bad. */
export function durationAtLeast(v: string, key: string, minMs: number, ctx: ParseContext): number {
  let ms: number;
  try {
    ms = parseDuration(v);
  } catch (err) {
    ctx.problem(key, (err as Error).message);
    return 0;
  }
  if (ms < minMs) ctx.problem(key, `must be at least ${minMs >= 1000 ? `${minMs / 1000}s` : `${minMs}ms`} (got ${v})`);
  return ms;
}

/** A string field holding a non-negative number (KEDA passes every metadata value as a string). */
export const numeric = (def: string) =>
  z.string().regex(/^\d+(\.\d+)?$/, 'must be a non-negative number').default(def);
export const optionalNumeric = () => z.string().regex(/^\d+(\.\d+)?$/, 'must be a non-negative number').optional();
export const bool = (def: 'true' | 'false') => z.enum(['true', 'false']).default(def);

/**
 * The local hand-off between a broker's push callbacks and the pull-based `next()`. Waiters are
 * served in order; `close()` resolves every waiter with null.
 */
export class Inbox<T> {
  private items: T[] = [];
  private head = 0;
  private waiters: Array<(v: T | null) => void> = [];
  private closed = false;

  get size(): number {
    return this.items.length - this.head;
  }

  /** Returns true when the inbox was empty (new lag appeared). */
  push(item: T): boolean {
    if (this.closed) return false;
    const w = this.waiters.shift();
    if (w) {
      w(item);
      return false;
    }
    this.items.push(item);
    return this.size === 1;
  }

  next(signal: AbortSignal): Promise<T | null> {
    if (this.size > 0) {
      const item = this.items[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      return Promise.resolve(item);
    }
    if (this.closed || signal.aborted) return Promise.resolve(null);
    return new Promise((resolve) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(null);
      };
      const waiter = (v: T | null) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      };
      this.waiters.push(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Takes every buffered item out (e.g. to hand them back to the broker). */
  drain(): T[] {
    const out = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return out;
  }

  /** Drops buffered items matching the predicate (e.g. those of a dead connection). */
  remove(pred: (item: T) => boolean): void {
    const keep = this.items.slice(this.head).filter((x) => !pred(x));
    this.items = keep;
    this.head = 0;
  }

  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w(null);
  }
}

/** Settles a delivery at most once: later calls are ignored (the dispatcher calls exactly one). */
export function once<A extends unknown[]>(fn: (...a: A) => Promise<void>): (...a: A) => Promise<void> {
  let done = false;
  return async (...a: A) => {
    if (done) return;
    done = true;
    await fn(...a);
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A reading loop's capacity gate: `wait()` parks the one loop until `release()` (a settle freed room,
 * or close); the loop then checks its condition again.
 */
export function gate(): { wait(): Promise<void>; release(): void } {
  let wake: (() => void) | undefined;
  return {
    wait: () => new Promise<void>((r) => (wake = r)),
    release() {
      const w = wake;
      wake = undefined;
      w?.();
    },
  };
}

/** KEDA's *FromEnv keys: the value of the environment variable `name` (metadata key `key`), or undefined without one. */
export function fromEnv(type: string, key: string, name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const v = process.env[name];
  if (v === undefined) throw new Error(`${type} trigger: metadata ${key}: environment variable ${name} is not set`);
  return v;
}

/** Reads a header value as a positive integer, or undefined. */
export function intHeader(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : Buffer.isBuffer(v) ? Number(v.toString()) : NaN;
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** Header carrying featherweight's event id when an event is put (back) on a broker. */
export const EVENT_ID_HEADER = 'fw-event-id';
/** Header carrying the attempt number where the broker keeps no delivery count. */
export const ATTEMPT_HEADER = 'x-featherweight-attempt';
/** Header carrying the first-accept time (epoch ms) across republishing. */
export const ENQUEUED_HEADER = 'fw-enqueued-at';
