import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { SourceOptions } from '../../core/source.js';
import { parseDuration } from '../../core/units.js';
import type { ParseContext } from '../../core/validation.js';
import { defaultVisibilityTimeoutMs, type EmbeddedQueueOptions } from './source.js';
import { defaultPollIntervalMs } from './store.js';

/** Keys every embedded-queue-backed trigger accepts (the scaler's keys are read by the app). */
export const queueMetadataKeys = {
  queue: z.string().min(1).optional(),
  visibilityTimeout: z.string().optional(),
  pollInterval: z.string().optional(),
  lagThreshold: z.string().optional(),
  activationLagThreshold: z.string().optional(),
} as const;

export const metadata = z.strictObject({ ...queueMetadataKeys }) as unknown as z.ZodType<Record<string, string>>;

/** Time-ordered unique id (sortable like a ULID, readable in logs). */
export function newEventId(): string {
  return `${Date.now().toString(36).padStart(9, '0')}-${randomUUID().slice(0, 18)}`;
}

/** Parses a unit-valued metadata key (a duration, a size) or returns the fallback; the error names the key. */
export function unitKey(m: Record<string, string | undefined>, key: string, parse: (v: string) => number, fallback: number): number {
  const v = m[key];
  if (v === undefined) return fallback;
  try {
    return parse(v);
  } catch (err) {
    throw new Error(`trigger metadata ${key}: ${(err as Error).message}`);
  }
}

/** Reads the keys every embedded-queue-backed trigger shares, with errors naming the key. */
export function queueOptions(m: Record<string, string | undefined>, opts: SourceOptions): EmbeddedQueueOptions {
  return {
    queue: m.queue ?? opts.component,
    visibilityTimeoutMs: unitKey(m, 'visibilityTimeout', parseDuration, defaultVisibilityTimeoutMs),
    pollIntervalMs: unitKey(m, 'pollInterval', parseDuration, defaultPollIntervalMs),
    prefetch: opts.prefetch,
  };
}


/** The queue keys' checks, pure, for a queue-backed trigger's parse (queueOptions then cannot throw at open). */
export function checkQueueKeys(m: Record<string, string | undefined>, ctx: ParseContext): void {
  for (const key of ['visibilityTimeout', 'pollInterval']) {
    const v = m[key];
    if (v === undefined) continue;
    try {
      parseDuration(v);
    } catch (err) {
      ctx.problem(key, (err as Error).message);
    }
  }
}
