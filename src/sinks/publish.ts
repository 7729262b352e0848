/**
 * Publish sink: each output record becomes one JSON message on a NATS subject (JetStream), a
 * Redis stream, a RabbitMQ exchange or an MQTT topic. Every message carries the event id and the
 * record index (headers `fw-event-id`, `fw-record-index`; NATS also `Nats-Msg-Id` and RabbitMQ
 * `message_id` = "<event id>:<index>") so that consumers can drop the copies a redelivered event
 * publishes again. write() resolves once the broker has confirmed every message: the JetStream
 * publish ack, the XADD reply, the publisher confirm, the QoS 1 PUBACK.
 * See docs/decisions/044-publish-sink.md.
 */
import { z } from 'zod';
import type { Sink, SinkPlugin, SinkRecord } from '../core/sink.js';
import { writeSlice } from './table.js';
import type { FwEvent } from '../core/event.js';

export const config = z
  .strictObject({
    type: z.literal('publish'),
    broker: z.enum(['nats', 'redis', 'rabbitmq', 'mqtt']),
    url: z.string().min(1).optional(),
    subject: z.string().min(1).optional(),
    stream: z.string().min(1).optional(),
    exchange: z.string().optional(),
    routingKey: z.string().optional(),
    topic: z.string().min(1).optional(),
  })
  .superRefine((c, ctx) => {
    const need = { nats: 'subject', redis: 'stream', rabbitmq: 'exchange', mqtt: 'topic' } as const;
    const key = need[c.broker];
    if (c[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `broker ${c.broker} needs \`${key}\`` });
    if (c.broker === 'mqtt' && c.topic && /[+#]/.test(c.topic)) ctx.addIssue({ code: 'custom', path: ['topic'], message: 'cannot publish to a wildcard topic' });
  });
export type PublishSinkConfig = z.infer<typeof config>;

const defaultUrls = {
  nats: 'nats://127.0.0.1:4222',
  redis: 'redis://127.0.0.1:6379',
  rabbitmq: 'amqp://guest:guest@127.0.0.1:5672/',
  mqtt: 'mqtt://127.0.0.1:1883',
};

type Message = { body: Buffer; headers: Record<string, string>; msgId: string };
interface Driver {
  start(): Promise<void>;
  send(msgs: Message[]): Promise<void>;
  close(): Promise<void>;
}

function natsDriver(url: string, subject: string): Driver {
  let nc: import('@nats-io/transport-node').NatsConnection | undefined;
  let js: import('@nats-io/jetstream').JetStreamClient | undefined;
  let mkHeaders: typeof import('@nats-io/transport-node').headers;
  return {
    async start() {
      const t = await import('@nats-io/transport-node');
      const j = await import('@nats-io/jetstream');
      mkHeaders = t.headers;
      nc = await t.connect({ servers: url.split(',').map((s) => s.trim()), maxReconnectAttempts: -1 });
      js = j.jetstream(nc);
    },
    async send(msgs) {
      await Promise.all(
        msgs.map(async (m) => {
          const h = mkHeaders();
          for (const [k, v] of Object.entries(m.headers)) h.set(k, v);
          try {
            await js!.publish(subject, m.body, { headers: h, msgID: m.msgId });
          } catch (err) {
            if (/no responders|503/i.test(String(err))) throw new Error(`publish sink: no JetStream stream captures subject ${subject}: create one (nats stream add) or change \`subject\``);
            throw err;
          }
        }),
      );
    },
    async close() {
      await nc?.drain().catch(() => nc?.close());
    },
  };
}

function redisDriver(url: string, stream: string): Driver {
  let client: ReturnType<typeof import('redis').createClient> | undefined;
  return {
    async start() {
      const { createClient } = await import('redis');
      client = createClient({ url });
      client.on('error', () => undefined); // node-redis reconnects; a failed command rejects write()
      await client.connect();
    },
    async send(msgs) {
      const multi = client!.multi();
      for (const m of msgs) multi.xAdd(stream, '*', { ...m.headers, body: m.body });
      await multi.exec();
    },
    async close() {
      await client?.close().catch(() => client?.destroy());
    },
  };
}

function rabbitDriver(url: string, exchange: string, routingKey: string): Driver {
  type Amqp = typeof import('amqplib');
  let amqp: Amqp;
  let conn: import('amqplib').ChannelModel | undefined;
  let ch: import('amqplib').ConfirmChannel | undefined;
  let opening: Promise<import('amqplib').ConfirmChannel> | undefined;
  let closed = false;
  // a dropped connection is re-opened by the next write (which the caller retries on failure)
  const channel = () =>
    ch
      ? Promise.resolve(ch)
      : (opening ??= (async () => {
          const c = await amqp.connect(url);
          c.on('error', () => undefined);
          c.on('close', () => {
            if (conn === c) (conn = undefined), (ch = undefined);
          });
          const confirm = await c.createConfirmChannel();
          if (exchange) await confirm.checkExchange(exchange);
          conn = c;
          ch = confirm;
          return confirm;
        })().finally(() => (opening = undefined)));
  return {
    async start() {
      amqp = (await import('amqplib')).default;
      try {
        await channel();
      } catch (err) {
        throw new Error(`publish sink: RabbitMQ exchange ${JSON.stringify(exchange)} is not usable at ${url.replace(/\/\/[^@]*@/, '//***@')}: ${String(err)}`);
      }
    },
    async send(msgs) {
      if (closed) throw new Error('publish sink is closed');
      const c = await channel();
      await Promise.all(
        msgs.map(
          (m) =>
            new Promise<void>((resolve, reject) => {
              c.publish(exchange, routingKey, m.body, { headers: m.headers, messageId: m.msgId, persistent: true, contentType: 'application/json' }, (err) =>
                err ? reject(new Error(`publish sink: RabbitMQ did not confirm: ${String(err)}`)) : resolve(),
              );
            }),
        ),
      );
    },
    async close() {
      closed = true;
      await conn?.close().catch(() => undefined);
    },
  };
}

function mqttDriver(url: string, topic: string): Driver {
  let client: import('mqtt').MqttClient | undefined;
  return {
    async start() {
      const mqtt = (await import('mqtt')).default;
      client = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 1000 });
      client.on('error', () => undefined);
    },
    async send(msgs) {
      await Promise.all(msgs.map((m) => client!.publishAsync(topic, m.body, { qos: 1, properties: { userProperties: m.headers, contentType: 'application/json' } })));
    },
    async close() {
      await client?.endAsync().catch(() => client?.end(true));
    },
  };
}

export function create(c: PublishSinkConfig, _opts?: { dataDir: string; component: string }): Sink {
  const url = c.url ?? defaultUrls[c.broker];
  const driver =
    c.broker === 'nats'
      ? natsDriver(url, c.subject!)
      : c.broker === 'redis'
        ? redisDriver(url, c.stream!)
        : c.broker === 'rabbitmq'
          ? rabbitDriver(url, c.exchange ?? '', c.routingKey ?? '')
          : mqttDriver(url, c.topic!);
  return {
    type: 'publish',
    start: () => driver.start(),
    async write(eventId: string, records: SinkRecord[]) {
      // Slices of writeSlice messages: the encoding of a large event never holds the event loop for
      // long, and at most one slice is unconfirmed at a time (decision 130).
      for (let from = 0; from < records.length; from += writeSlice) {
        const msgs = records.slice(from, from + writeSlice).map((r, k) => ({
          body: Buffer.from(JSON.stringify(r)),
          headers: { 'fw-event-id': eventId, 'fw-record-index': String(from + k) },
          msgId: `${eventId}:${from + k}`,
        }));
        await driver.send(msgs);
      }
    },
    // A forwarder (decision 160): the event as it came, its id as the dedupe key (Nats-Msg-Id), so a
    // consumer that reads fw-event-id keys its rows by the id the ingress answered 250 with.
    async forward(e: FwEvent) {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(e.headers)) headers[k] = v.replace(/[\r\n]+/g, ' ');
      headers['fw-event-id'] = e.id;
      headers['fw-enqueued-at'] = String(e.enqueuedAt);
      await driver.send([{ body: Buffer.from(e.body), headers, msgId: e.id }]);
    },
    close: () => driver.close(),
  };
}

export const plugin: SinkPlugin<PublishSinkConfig> = { type: 'publish', config, create };
