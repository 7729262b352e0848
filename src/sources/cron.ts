import { Cron } from 'croner';
import { z } from 'zod';
import type { SourceFactory, SourceOptions } from '../core/source.js';
import { configOrThrow, parseWith, type Parsed } from '../core/validation.js';
import { checkQueueKeys, createEmbeddedQueue, queueTrigger, queueMetadataKeys, queueOptions, type EmbeddedSource } from './embedded/index.js';

/**
 * Cron trigger: each tick of `schedule` publishes one event into the component's embedded queue.
 * The event id is derived from the scheduled second, so a tick published twice (two processes, or a
 * restart within the same second) is one event while queued and one set of rows in the sink.
 */

export const metadata = z.strictObject({
  ...queueMetadataKeys,
  schedule: z.string().min(1),
  /** IANA zone as in KEDA's cron scaler (e.g. Europe/Berlin); the host's zone when absent. */
  timezone: z.string().min(1).optional(),
  /** Payload of every tick; default: JSON {"scheduledAt": ISO time}. */
  body: z.string().optional(),
}) as unknown as z.ZodType<Record<string, string>>;

/** The cron trigger's metadata as its open step uses it; pure, every problem at once. */
export const parse = (md: Record<string, string>): Parsed<Record<string, string | undefined>> =>
  parseWith(metadata, md, (raw, ctx) => {
    const m = raw as Record<string, string | undefined>;
    checkQueueKeys(m, ctx);
    const schedule = m.schedule!;
    const fields = schedule.trim().split(/\s+/).length;
    if (fields !== 5 && fields !== 6) {
      ctx.problem('schedule', `${JSON.stringify(schedule)} has ${fields} fields: use 5 (minute hour day month weekday) or 6 (second first)`);
    }
    let zoneOk = true;
    if (m.timezone !== undefined) {
      try {
        new Intl.DateTimeFormat('en', { timeZone: m.timezone });
      } catch {
        zoneOk = false;
        ctx.problem('timezone', `${JSON.stringify(m.timezone)} is not an IANA time zone (e.g. UTC, Europe/Berlin)`);
      }
    }
    if ((fields === 5 || fields === 6) && zoneOk) {
      try {
        new Cron(schedule, { paused: true, mode: '5-or-6-parts', ...(m.timezone ? { timezone: m.timezone } : {}) }).stop();
      } catch (err) {
        ctx.problem('schedule', `${JSON.stringify(schedule)}: ${(err as Error).message}`);
      }
    }
    return m;
  });

export const create: SourceFactory = (md, opts) => open(configOrThrow('cron trigger', parse(md)), opts);

export function open(m: Record<string, string | undefined>, opts: SourceOptions): EmbeddedSource {
  const schedule = m.schedule!;
  const q: EmbeddedSource = createEmbeddedQueue(opts.dataDir, queueOptions(m, opts), 'cron');
  let job: Cron | null = null;
  return {
    ...q,
    async start(ctx) {
      await q.start(ctx);
      job = new Cron(
        schedule,
        {
          mode: '5-or-6-parts',
          ...(m.timezone ? { timezone: m.timezone } : {}),
          catch: (err) => ctx.log.error({ err, queue: q.queue }, 'cron tick could not be queued'),
        },
        async (self: Cron) => {
          // croner fires on the scheduled second (a few ms late at most): that second names the tick.
          const at = Math.floor((self.currentRun()?.getTime() ?? Date.now()) / 1000) * 1000;
          const scheduledAt = new Date(at).toISOString();
          const body = m.body !== undefined ? m.body : JSON.stringify({ scheduledAt });
          await q.publish({
            id: `cron:${q.queue}:${scheduledAt}`,
            source: 'cron',
            subject: q.queue,
            headers: { scheduledAt, schedule },
            body: Buffer.from(body),
            enqueuedAt: at,
          });
        },
      );
    },
    async close() {
      job?.stop();
      job = null;
      await q.close();
    },
  } satisfies EmbeddedSource;
}

// Scales on its queue's backlog; KEDA's `cron` (a start..end window) is an extra scaling trigger (src/app/scalers/cron.ts).
export const plugin = queueTrigger<Record<string, string | undefined>>({ type: 'cron', metadata, parse, open, scaler: 'cron-source' });
