import { z } from 'zod';
import type { SourceFactory, SourceOptions } from '../core/source.js';
import { parseSize } from '../core/units.js';
import { configOrThrow, parseWith, type Parsed } from '../core/validation.js';
import { checkQueueKeys, createEmbeddedQueue, queueTrigger, newEventId, queueMetadataKeys, queueOptions, type EmbeddedSource } from './embedded/index.js';

/**
 * HTTP ingress: `POST /v1/components/:name/events` (served by src/server) calls acceptHttpEvent,
 * which writes the event to this component's embedded queue and returns its id for the 202. The
 * request is answered only after the queue has committed, so a 202 is never a lost event.
 */

export const metadata = z.strictObject({
  ...queueMetadataKeys,
  maxBody: z.string().optional(),
}) as unknown as z.ZodType<Record<string, string>>;

export const defaultMaxBody = 10 * 1024 * 1024;

export interface HttpSource extends EmbeddedSource {
  readonly maxBody: number;
}

/** An error with the HTTP status the server should answer. */
export class HttpIngressError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'HttpIngressError';
    this.status = status;
  }
}

export interface HttpConfig {
  m: Record<string, string | undefined>;
  maxBody: number;
}

/** The http trigger's metadata as open uses it; pure, every problem at once. */
export const parse = (md: Record<string, string>): Parsed<HttpConfig> =>
  parseWith(metadata, md, (raw, ctx) => {
    const m = raw as Record<string, string | undefined>;
    checkQueueKeys(m, ctx);
    let maxBody = defaultMaxBody;
    if (m.maxBody !== undefined) {
      try {
        maxBody = parseSize(m.maxBody);
      } catch (err) {
        ctx.problem('maxBody', (err as Error).message);
      }
    }
    return { m, maxBody };
  });

export const open = ({ m, maxBody }: HttpConfig, opts: SourceOptions): HttpSource =>
  Object.assign(createEmbeddedQueue(opts.dataDir, queueOptions(m, opts), 'http'), { maxBody }) as HttpSource;

export const create: SourceFactory = (md, opts) => open(configOrThrow('http trigger metadata', parse(md)), opts);

// Events arrive on the host's HTTP server (POST /v1/components/:name/events), which the Service exposes.
export const plugin = queueTrigger<HttpConfig>({ type: 'http', metadata, parse, open, ingress: { name: 'http' }, posts: true });

/** Request headers that describe the connection or carry credentials: never part of an event. */
const droppedHeaders = new Set([
  'authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'host', 'connection', 'keep-alive',
  'content-length', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect',
]);

const eventIdPattern = /^[A-Za-z0-9._:@-]{1,200}$/;

export interface HttpEventInput {
  body: Buffer | Uint8Array;
  headers: Record<string, string | string[] | undefined>;
  contentType?: string;
}

/**
 * Validates and enqueues one POSTed event. `Idempotency-Key` (if given) becomes the event id, so a
 * client retrying a POST whose answer it lost does not create a second event while the first is
 * still queued, and sinks dedupe by it afterwards. Throws HttpIngressError (413, 400, 503).
 */
export async function acceptHttpEvent(source: { publish: EmbeddedSource['publish']; maxBody?: number; queue?: string }, req: HttpEventInput): Promise<{ id: string }> {
  const max = source.maxBody ?? defaultMaxBody;
  if (req.body.byteLength > max) {
    throw new HttpIngressError(413, `event body is ${req.body.byteLength} bytes, more than this component's maxBody of ${max} bytes`);
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    const name = k.toLowerCase();
    if (v === undefined || droppedHeaders.has(name) || name.startsWith('proxy-')) continue;
    headers[name] = Array.isArray(v) ? v.join(', ') : v;
  }
  if (req.contentType) headers['content-type'] = req.contentType;
  let id = newEventId();
  const key = headers['idempotency-key'];
  if (key !== undefined) {
    if (!eventIdPattern.test(key)) {
      throw new HttpIngressError(400, 'Idempotency-Key must be 1-200 characters of letters, digits and . _ : @ -');
    }
    id = key;
  }
  try {
    await source.publish({ id, source: 'http', subject: source.queue ?? 'http', headers, body: req.body });
  } catch (err) {
    throw new HttpIngressError(503, `could not enqueue the event: ${(err as Error).message}`);
  }
  return { id };
}
