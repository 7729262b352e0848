/**
 * RabbitMQ source (amqplib): one consumer on a confirm channel with prefetch = opts.prefetch and
 * manual acks. nack(delay) holds the message for the delay, then republishes a copy carrying
 * `x-featherweight-attempt` = attempt + 1 (confirmed) and acks the original: classic queues keep
 * no delivery count, so the count travels with the message. reject = basic.nack(requeue=false),
 * which RabbitMQ routes to the queue's dead-letter exchange (declared as `<queue>.dlx` with a
 * `<queue>.dead-letter` queue). The connection is re-opened with backoff when it drops.
 * Lag = ready messages (passive declare, as KEDA's AMQP mode) + messages this process holds
 * un-acked, which is KEDA's HTTP-mode `messages`. See docs/decisions/042-rabbitmq-source.md.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import amqp from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import type { Delivery, LagReport, Source, SourceContext, SourceFactory, SourceOptions, TriggerPlugin } from '../core/source.js';
import type { FwEvent } from '../core/event.js';
import { ATTEMPT_HEADER, ENQUEUED_HEADER, EVENT_ID_HEADER, Inbox, bool, fromEnv, intHeader, once, optionalNumeric, parseMetadata, sleep } from './broker-common.js';
import { configOrThrow, parseWith, type Parsed } from '../core/validation.js';

export const type = 'rabbitmq';

export const metadata = z.strictObject({
  // KEDA's keys (QueueLength mode only: the rate modes need the management API)
  host: z.string().optional(),
  hostFromEnv: z.string().optional(), // KEDA: name of an environment variable holding host
  protocol: z.enum(['auto', 'amqp']).default('auto'),
  queueName: z.string().optional(),
  vhostName: z.string().optional(),
  mode: z.enum(['QueueLength']).default('QueueLength'),
  // scaling keys: checked and defaulted once, by the scaling layer (src/scaling/triggers.ts)
  value: optionalNumeric(),
  queueLength: optionalNumeric(),
  activationValue: optionalNumeric(),
  excludeUnacknowledged: bool('false'),
  // featherweight's keys
  deadLetterExchange: z.string().optional(),
});

interface Held {
  gen: number;
  msg: ConsumeMessage;
  delivery: Delivery;
}

interface Conn {
  gen: number;
  model: ChannelModel;
  ch: ConfirmChannel;
  lagCh: Channel;
  /** Delivery tags the broker holds un-acked on `ch`, in delivery order. */
  order: number[];
  /** Acked by the dispatcher, basic.ack not sent yet (see flushAcks). */
  acked: Map<number, ConsumeMessage>;
  flushQueued: boolean;
}

function connectionUrl(host: string, vhost: string | undefined): string {
  if (!/^amqps?:\/\//.test(host)) {
    throw new Error(`${type} trigger: metadata host: featherweight consumes over AMQP, so host must be amqp://user:pass@host:5672/vhost (got ${host.replace(/\/\/[^@]*@/, '//***@')})`);
  }
  if (vhost === undefined) return host;
  const u = new URL(host);
  u.pathname = `/${encodeURIComponent(vhost)}`;
  return u.toString();
}

/** The metadata as the open step uses it; pure (hostFromEnv is read at open), every problem at once. */
type Config = z.infer<typeof metadata>;

export const parse = (md: Record<string, string>): Parsed<Config> =>
  parseWith(metadata, md, (m, ctx) => {
    if (m.host !== undefined && !/^amqps?:\/\//.test(m.host)) {
      ctx.problem('host', `featherweight consumes over AMQP, so host must be amqp://user:pass@host:5672/vhost (got ${m.host.replace(/\/\/[^@]*@/, '//***@')})`);
    }
    return m;
  });

export const create: SourceFactory = (md: Record<string, string>, opts: SourceOptions): Source => {
  parseMetadata(type, metadata, md);
  return open(configOrThrow(`${type} trigger`, parse(md)), opts);
};

export function open(m: Config, opts: SourceOptions): Source {
  const queue = m.queueName ?? opts.component;
  const host = m.host ?? fromEnv(type, 'hostFromEnv', m.hostFromEnv);
  const url = connectionUrl(host ?? 'amqp://guest:guest@127.0.0.1:5672/', m.vhostName);
  const dlx = m.deadLetterExchange ?? `${queue}.dlx`;
  const prefetch = Math.max(1, opts.prefetch);
  const inbox = new Inbox<Held>();
  const holding = new Set<Held>();
  let conn: Conn | undefined;
  let gen = 0;
  let ctx: SourceContext | undefined;
  let closed = false;
  let reconnecting: Promise<void> | undefined;
  let consuming = false;

  const attemptOf = (msg: ConsumeMessage): number => {
    const h = msg.properties.headers ?? {};
    const base = intHeader(h[ATTEMPT_HEADER]) ?? 1;
    const quorumCount = typeof h['x-delivery-count'] === 'number' ? h['x-delivery-count'] : undefined;
    if (quorumCount !== undefined) return base + quorumCount;
    return base + (msg.fields.redelivered ? 1 : 0);
  };

  const settled = (c: Conn, tag: number) => {
    const i = c.order.indexOf(tag);
    if (i >= 0) c.order.splice(i, 1);
  };

  // Acks of one event-loop turn go out together: the longest run of acked tags at the head of the
  // channel's un-acked tags as one basic.ack(multiple), the others one by one. `multiple` covers only
  // tags the dispatcher acked (a held, nacked or rejected one ends the run), so nothing is acked that
  // ack() was not called for; a crash before the flush leaves them un-acked, i.e. redelivered.
  const flushAcks = (c: Conn) => {
    c.flushQueued = false;
    if (c.acked.size === 0) return;
    if (conn !== c) return void c.acked.clear(); // the broker requeued them with the connection
    try {
      let n = 0;
      while (n < c.order.length && c.acked.has(c.order[n]!)) n++;
      if (n > 0) {
        const last = c.order[n - 1]!;
        c.ch.ack(c.acked.get(last)!, true);
        for (const tag of c.order.splice(0, n)) c.acked.delete(tag);
      }
      for (const [tag, msg] of c.acked) {
        c.ch.ack(msg);
        settled(c, tag);
      }
    } catch (err) {
      ctx?.log.warn({ err: String(err), queue }, 'rabbitmq: ack not sent; the broker redelivers those messages');
    }
    c.acked.clear();
  };
  const ackSoon = (c: Conn, msg: ConsumeMessage) => {
    c.acked.set(msg.fields.deliveryTag, msg);
    if (!c.flushQueued) {
      c.flushQueued = true;
      setImmediate(flushAcks, c);
    }
  };

  const toHeld = (c: Conn, msg: ConsumeMessage): Held => {
    const h = msg.properties.headers ?? {};
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(h)) if (v !== undefined && v !== null) headers[k] = Buffer.isBuffer(v) ? v.toString() : typeof v === 'object' ? JSON.stringify(v) : String(v);
    const id = (h[EVENT_ID_HEADER] as string | undefined) || (msg.properties.messageId as string | undefined) || randomUUID();
    const attempt = attemptOf(msg);
    const enqueuedAt = intHeader(h[ENQUEUED_HEADER]) ?? (typeof msg.properties.timestamp === 'number' ? msg.properties.timestamp * 1000 : Date.now());
    const event: FwEvent = {
      id,
      source: type,
      subject: queue,
      headers,
      body: new Uint8Array(msg.content.buffer, msg.content.byteOffset, msg.content.byteLength),
      attempt,
      enqueuedAt,
    };
    const held = { gen: c.gen, msg } as Held;
    // a message of a dropped connection is already back in the queue: settling it is a no-op
    const live = () => holding.has(held) && conn?.gen === held.gen;
    held.delivery = {
      event,
      ack: once(async () => {
        if (live()) ackSoon(c, msg);
        holding.delete(held);
      }),
      reject: once(async (_reason: string) => {
        if (live()) {
          c.ch.nack(msg, false, false); // to the dead-letter exchange
          settled(c, msg.fields.deliveryTag);
        }
        holding.delete(held);
      }),
      nack: once(async (delayMs: number) => {
        setTimeout(() => {
          if (!live()) return void holding.delete(held);
          const props: Options.Publish = {
            ...(msg.properties as Options.Publish),
            headers: { ...h, [EVENT_ID_HEADER]: id, [ATTEMPT_HEADER]: attempt + 1, [ENQUEUED_HEADER]: enqueuedAt },
            persistent: true,
          };
          c.ch.sendToQueue(queue, msg.content, props, (err) => {
            if (err || !live()) {
              // not confirmed: leave the original un-acked, the broker redelivers it on reconnect
              if (err) ctx?.log.warn({ err: String(err), queue }, 'rabbitmq: republish after nack not confirmed');
              return;
            }
            c.ch.ack(msg);
            settled(c, msg.fields.deliveryTag);
            holding.delete(held);
          });
        }, Math.max(0, delayMs));
      }),
    };
    return held;
  };

  const consume = async (c: Conn) => {
    await c.ch.consume(
      queue,
      (msg) => {
        if (!msg) {
          // consumer cancelled by the broker (queue deleted): start over
          if (!closed) void c.model.close().catch(() => undefined);
          return;
        }
        const h = toHeld(c, msg);
        c.order.push(msg.fields.deliveryTag);
        holding.add(h);
        if (inbox.push(h)) ctx?.notify();
      },
      { noAck: false },
    );
  };

  const open = async (): Promise<Conn> => {
    const model = await amqp.connect(url, { clientProperties: { connection_name: `featherweight:${opts.component}:${queue}` } });
    try {
      let ch = await model.createConfirmChannel();
      if (dlx) {
        await ch.assertExchange(dlx, 'fanout', { durable: true });
        await ch.assertQueue(`${queue}.dead-letter`, { durable: true });
        await ch.bindQueue(`${queue}.dead-letter`, dlx, '');
      }
      try {
        await ch.assertQueue(queue, { durable: true, ...(dlx ? { arguments: { 'x-dead-letter-exchange': dlx } } : {}) });
      } catch (err) {
        // the queue exists with other arguments (PRECONDITION_FAILED closes the channel): use it as it is
        ctx?.log.warn({ err: String(err), queue }, 'rabbitmq: queue exists with different arguments; consuming it without the dead-letter exchange');
        ch = await model.createConfirmChannel();
        await ch.checkQueue(queue);
      }
      await ch.prefetch(prefetch);
      const lagCh = await model.createChannel();
      const c: Conn = { gen: ++gen, model, ch, lagCh, order: [], acked: new Map(), flushQueued: false };
      model.on('error', (err: unknown) => ctx?.log.warn({ err: String(err), queue }, 'rabbitmq: connection error'));
      model.on('close', () => {
        if (closed || conn !== c) return;
        conn = undefined;
        // deliveries of the old connection are requeued by the broker: drop our copies
        inbox.remove((h) => h.gen === c.gen);
        for (const h of holding) if (h.gen === c.gen) holding.delete(h);
        void reconnect();
      });
      if (consuming) await consume(c);
      return c;
    } catch (err) {
      await model.close().catch(() => undefined);
      throw err;
    }
  };

  const reconnect = () =>
    (reconnecting ??= (async () => {
      let delay = 100;
      while (!closed) {
        try {
          conn = await open();
          ctx?.log.info({ queue }, 'rabbitmq: reconnected');
          break;
        } catch (err) {
          ctx?.log.warn({ err: String(err), queue, retryInMs: delay }, 'rabbitmq: reconnect failed');
          await sleep(delay);
          delay = Math.min(delay * 2, 5000);
        }
      }
    })().finally(() => (reconnecting = undefined)));

  // basic.consume starts when the component runs: its first next() or its scaler's first lag(). A
  // publish-only user (dlq retry: start, publish, close) calls neither and takes nothing.
  const begin = async () => {
    if (consuming || !conn || closed) return;
    consuming = true;
    const c = conn;
    await consume(c).catch((err) => {
      ctx?.log.warn({ err: String(err), queue }, 'rabbitmq: basic.consume failed; reconnecting');
      void c.model.close().catch(() => undefined);
    });
  };

  return {
    type,
    async start(c: SourceContext) {
      ctx = c;
      conn = await open();
    },
    async next(signal: AbortSignal) {
      await begin();
      const h = await inbox.next(signal);
      return h ? h.delivery : null;
    },
    async lag(): Promise<LagReport> {
      const c = conn;
      if (!c) throw new Error(`${type}: not connected to ${queue} (reconnecting)`);
      void begin();
      const q = await c.lagCh.checkQueue(queue);
      const inFlight = holding.size;
      return { lag: q.messageCount + (m.excludeUnacknowledged === 'true' ? 0 : inFlight), inFlight };
    },
    async publish(e) {
      const c = conn;
      if (!c) throw new Error(`${type}: not connected to ${queue} (reconnecting)`);
      const headers = { ...e.headers, [EVENT_ID_HEADER]: e.id, [ENQUEUED_HEADER]: e.enqueuedAt ?? Date.now(), ...(e.attempt !== undefined ? { [ATTEMPT_HEADER]: e.attempt } : {}) };
      await new Promise<void>((resolve, reject) =>
        c.ch.sendToQueue(queue, Buffer.from(e.body), { headers, messageId: e.id, persistent: true }, (err) => (err ? reject(err) : resolve())),
      );
    },
    async close() {
      if (closed) return;
      closed = true;
      inbox.close();
      holding.clear();
      await reconnecting;
      // closing the connection hands every un-acked message back to the queue at once
      if (conn) {
        flushAcks(conn);
        await conn.model.close().catch(() => undefined);
      }
      conn = undefined;
    },
  };
}

export const plugin: TriggerPlugin<Config> = {
  type,
  metadata,
  parse,
  open,
  scaler: 'rabbitmq',
  queued: false,
  kube: {
    kind: 'native',
    type: 'rabbitmq',
    keys: [
      'host', 'hostFromEnv', 'protocol', 'queueName', 'vhostName', 'mode', 'value', 'activationValue', 'queueLength',
      'useRegex', 'pageSize', 'operation', 'excludeUnacknowledged', 'timeout', 'unsafeSsl', 'usernameFromEnv', 'passwordFromEnv',
    ],
    required: ['queueName'],
    secrets: [],
  },
};
