/**
 * MQTT source (mqtt.js v5, MQTT 5 by default): QoS 1 subscription on a persistent session
 * (clean start off, session expiry), optionally shared ($share/<group>/<topic>). The PUBACK of a
 * message goes out only when the delivery is acked: mqtt.js sends it right after
 * `handleMessage`, so we let handleMessage return at once (other packets, pings included, keep
 * flowing) and hold that one PUBACK back until ack(). MQTT has no nack: nack(delay) keeps the
 * message un-acked and hands it out again locally after the delay. A crash before ack relies on
 * the broker resending un-acked messages when the same client id reconnects to its session.
 * Lag = messages received and not yet acked (MQTT exposes no queue depth).
 * See docs/decisions/043-mqtt-source.md.
 */
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import mqtt from 'mqtt';
import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt';
import type { Delivery, LagReport, Source, SourceContext, SourceFactory, SourceOptions, TriggerPlugin } from '../core/source.js';
import type { FwEvent } from '../core/event.js';
import { configOrThrow, parseWith, type Parsed } from '../core/validation.js';
import { ATTEMPT_HEADER, ENQUEUED_HEADER, EVENT_ID_HEADER, Inbox, durationAtLeast, intHeader, parseMetadata } from './broker-common.js';

export const type = 'mqtt';

export const metadata = z.strictObject({
  url: z.string().default('mqtt://127.0.0.1:1883'),
  topic: z.string().min(1, 'set the topic (filter) to subscribe to'),
  // QoS 2 is refused (decision 150): mqtt.js sends its PUBREC on receipt, so the broker would count
  // an event as delivered before its rows were committed, and a crash would lose it.
  qos: z
    .enum(['1'], {
      error: 'must be "1": an event is acknowledged (QoS 1 PUBACK) only after its rows are committed, and rows are keyed by event id so a redelivery never doubles them; QoS 2 would acknowledge on receipt',
    })
    .default('1'),
  sharedGroup: z.string().optional(),
  clientId: z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  protocolVersion: z.enum(['4', '5']).default('5'),
  sessionExpiry: z.string().default('168h'),
  // scaling keys: checked and defaulted once, by the scaling layer (src/scaling/triggers.ts)
  lagThreshold: z.string().regex(/^\d+$/, 'must be a whole number').optional(),
  activationLagThreshold: z.string().regex(/^\d+$/, 'must be a whole number').optional(),
});

interface Held {
  gen: number;
  packet: IPublishPacket;
  delivery: Delivery;
}

/**
 * mqtt.js leaves Nagle's algorithm on. Our PUBACKs go out as small writes (those of one turn together):
 * with Nagle a PUBACK waits for the ACK of the previous segment, and with the broker's delayed ACK
 * that stalled the in-flight window for up to 40 ms.
 */
function noDelay(cl: MqttClient): void {
  const s = cl.stream as unknown as { setNoDelay?: (on: boolean) => void };
  s.setNoDelay?.(true);
}

type SendPacket = (packet: Record<string, unknown>, cb?: (err?: Error) => void) => void;

type Config = z.infer<typeof metadata> & { sessionExpiryMs: number };

/** The mqtt trigger's metadata as open uses it; pure, every problem at once. */
export const parse = (md: Record<string, string>): Parsed<Config> =>
  parseWith(metadata, md, (m, ctx) => ({ ...m, sessionExpiryMs: durationAtLeast(m.sessionExpiry, 'sessionExpiry', 0, ctx) }));

export const create: SourceFactory = (md: Record<string, string>, opts: SourceOptions): Source => {
  parseMetadata(type, metadata, md);
  return open(configOrThrow(`${type} trigger`, parse(md)), opts);
};

export function open(m: Config, opts: SourceOptions): Source {
  const clientId = m.clientId ?? `fw-${opts.component}-${os.hostname()}`.slice(0, 64);
  const filter = m.sharedGroup ? `$share/${m.sharedGroup}/${m.topic}` : m.topic;
  const prefetch = Math.max(1, opts.prefetch);
  const sessionExpirySec = Math.round(m.sessionExpiryMs / 1000);
  const inbox = new Inbox<Held>();
  const holding = new Set<Held>();
  const deferred = new Set<number>(); // message ids whose PUBACK waits for ack()
  let client: MqttClient | undefined; // the session (consumer) connection
  let publisher: MqttClient | undefined;
  let session: Promise<{ subscribed: Promise<void>; pending: boolean }> | undefined; // resolves at the CONNACK
  let sendPacket: SendPacket | undefined;
  let gen = 0;
  let ctx: SourceContext | undefined;
  let closed = false;

  const settledNow = Promise.resolve();
  // The PUBACKs of one event-loop turn go out together, corked into one write at setImmediate: a
  // sequential next()+ack() loop otherwise wrote one TCP segment per message (decision 240's
  // addendum). Each waits a turn at most; a crash before it leaves the message unacknowledged, so the
  // broker redelivers it, as a crash just before ack() would.
  let pubacks: Array<{ messageId: number; gen: number }> = [];
  const flushPubacks = () => {
    const list = pubacks;
    pubacks = [];
    const stream = client?.stream as unknown as { cork?: () => void; uncork?: () => void } | undefined;
    stream?.cork?.();
    try {
      // Only on the connection that delivered it: message ids are per connection, and after a
      // reconnect the broker resends the message itself.
      for (const p of list) if (p.gen === gen && sendPacket) sendPacket({ cmd: 'puback', messageId: p.messageId });
    } finally {
      stream?.uncork?.();
    }
  };
  // the session once its subscription is confirmed: next() then skips awaiting begin()
  let ready: { subscribed: Promise<void>; pending: boolean } | undefined;

  const deliver = (packet: IPublishPacket, attempt: number, g: number, id: string, enqueuedAt: number) => {
    const props = (packet.properties?.userProperties ?? {}) as Record<string, string | string[]>;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(props)) headers[k] = Array.isArray(v) ? v.join(',') : String(v);
    const body = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const event: FwEvent = {
      id,
      source: type,
      subject: packet.topic,
      headers,
      body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
      attempt,
      enqueuedAt,
    };
    const held = { gen: g, packet } as Held;
    // after a reconnect the broker resends the message itself: the old copy is void
    const live = () => holding.has(held) && held.gen === gen;
    let settled = false;
    const settleOnce = () => {
      if (settled) return false;
      settled = true;
      return true;
    };
    const puback = () => {
      if (live() && packet.messageId !== undefined && pubacks.push({ messageId: packet.messageId, gen: g }) === 1) setImmediate(flushPubacks);
      holding.delete(held);
    };
    held.delivery = {
      event,
      ack: () => {
        if (settleOnce()) puback();
        return settledNow;
      },
      // nothing to hand back to the broker: the message is done for good
      reject: (_reason: string) => {
        if (settleOnce()) puback();
        return settledNow;
      },
      nack: async (delayMs: number) => {
        if (!settleOnce()) return;
        setTimeout(() => {
          if (!live() || closed) return void holding.delete(held);
          holding.delete(held);
          deliver(packet, attempt + 1, g, id, enqueuedAt);
        }, Math.max(0, delayMs));
      },
    };
    holding.add(held);
    if (inbox.push(held)) ctx?.notify();
  };

  const onPublish = (packet: IPublishPacket) => {
    const up = (packet.properties?.userProperties ?? {}) as Record<string, string>;
    const base = intHeader(up[ATTEMPT_HEADER]) ?? 1;
    // dup: the broker resends it (we crashed or the connection dropped before the PUBACK)
    const attempt = base + (packet.dup ? 1 : 0);
    const id = up[EVENT_ID_HEADER] || randomUUID();
    deliver(packet, attempt, gen, id, intHeader(up[ENQUEUED_HEADER]) ?? Date.now());
  };

  // The session connection is the consumer: a persistent session starts delivering on connect.
  const openSession = async () => {
    const protocolVersion = Number(m.protocolVersion) as 4 | 5;
    const options: IClientOptions = {
      clientId,
      clean: false,
      protocolVersion,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      ...(m.username ? { username: m.username } : {}),
      ...(m.password ? { password: m.password } : {}),
      // MQTT 5: the session outlives the connection, and the broker keeps at most `prefetch` un-acked
      ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: sessionExpirySec, receiveMaximum: Math.min(prefetch, 65535) } } : {}),
      manualConnect: true,
    };
    const cl = mqtt.connect(m.url, options);
    client = cl;
    const original = (cl as unknown as { _sendPacket: SendPacket })._sendPacket.bind(cl);
    sendPacket = original;
    (cl as unknown as { _sendPacket: SendPacket })._sendPacket = (packet, cb) => {
      if (packet.cmd === 'puback' && deferred.delete(packet.messageId as number)) {
        cb?.(); // withheld until ack(); let mqtt.js move on to the next packet
        return;
      }
      original(packet, cb);
    };
    cl.handleMessage = (packet, cb) => {
      if (packet.qos === 1 && packet.messageId !== undefined) deferred.add(packet.messageId);
      onPublish(packet);
      cb();
    };
    cl.on('close', () => {
      // the connection is gone: every un-acked message comes back when the session resumes
      gen++;
      deferred.clear();
      inbox.remove((h) => h.gen !== gen);
      for (const h of holding) if (h.gen !== gen) holding.delete(h);
    });
    cl.on('error', (err) => ctx?.log.warn({ err: String(err), clientId }, 'mqtt: client error'));
    cl.on('connect', () => noDelay(cl));
    await new Promise<void>((resolve, reject) => {
      cl.once('connect', () => resolve());
      cl.once('error', reject);
      cl.connect();
      noDelay(cl);
    });
    const subscribed = cl.subscribeAsync(filter, { qos: 1 }).then(
      () => undefined,
      (err: unknown) => {
        fail();
        throw new Error(`${type}: cannot subscribe ${clientId} to ${filter} at ${m.url}: ${String(err)}`);
      },
    );
    const state = { subscribed, pending: true };
    subscribed.then(
      () => (state.pending = false),
      () => undefined, // next() reports it; a lag()-only user must not crash on it
    );
    return state;
  };

  // The session opens when the component runs: its first next() or its scaler's first lag(). A
  // publish-only user (dlq retry: start, publish, close) calls neither, so it never takes over the
  // running consumer's client id.
  const fail = () => {
    session = undefined;
    ready = undefined;
    client?.end(true);
  };
  const begin = () =>
    (session ??= openSession().catch((err) => {
      fail();
      throw new Error(`${type}: cannot open the session ${clientId} at ${m.url}: ${String(err)}`);
    }));

  return {
    type,
    async start(c: SourceContext) {
      ctx = c;
      // a clean, separately named connection for publish(); also proves the broker is reachable.
      publisher = await mqtt.connectAsync(m.url, {
        clean: true,
        protocolVersion: Number(m.protocolVersion) as 4 | 5,
        reconnectPeriod: 1000,
        connectTimeout: 10_000,
        ...(m.username ? { username: m.username } : {}),
        ...(m.password ? { password: m.password } : {}),
      });
      publisher.on('error', (err) => ctx?.log.warn({ err: String(err) }, 'mqtt: publisher error'));
    },
    async next(signal: AbortSignal) {
      if (closed) return null;
      const sub = ready ?? (await begin());
      if (!sub.pending) {
        ready = sub;
        const h = await inbox.next(signal);
        return h ? h.delivery : null;
      }
      // A resumed session delivers its queued messages right after the CONNACK, before the SUBACK,
      // and the SUBACK can trail them by the broker's Nagle delay (Mosquitto leaves TCP_NODELAY off)
      // while our PUBACKs are withheld: waiting for it stalled every connect by ~40 ms. So deliveries
      // are handed out as they come; a failed subscription ends the wait with its error.
      const failed = new AbortController();
      let err: unknown;
      sub.subscribed.catch((e: unknown) => {
        err = e;
        failed.abort();
      });
      const h = await inbox.next(AbortSignal.any([signal, failed.signal]));
      if (!h && err !== undefined && !signal.aborted) throw err;
      return h ? h.delivery : null;
    },
    async lag(): Promise<LagReport> {
      if (publisher && !closed) void begin().catch((err: unknown) => ctx?.log.warn({ err: String(err) }, 'mqtt: session not open'));
      return { lag: holding.size, inFlight: holding.size };
    },
    async publish(e) {
      if (!publisher) throw new Error(`${type}: publish() before start()`);
      const topic = e.subject || m.topic;
      if (/[+#]/.test(topic)) throw new Error(`${type}: cannot publish to the wildcard filter ${topic}; give the event a subject`);
      const userProperties = { ...e.headers, [EVENT_ID_HEADER]: e.id, [ENQUEUED_HEADER]: String(e.enqueuedAt ?? Date.now()), ...(e.attempt !== undefined ? { [ATTEMPT_HEADER]: String(e.attempt) } : {}) };
      await publisher.publishAsync(topic, Buffer.from(e.body), { qos: 1, ...(m.protocolVersion === '5' ? { properties: { userProperties } } : {}) });
    },
    async close() {
      if (closed) return;
      closed = true;
      inbox.close();
      holding.clear();
      flushPubacks(); // what was acked is acknowledged before the DISCONNECT
      // DISCONNECT without the held PUBACKs: the session keeps those messages for the next connect
      await session?.catch(() => undefined);
      if (client) await client.endAsync(false).catch(() => client?.end(true));
      if (publisher) await publisher.endAsync().catch(() => publisher?.end(true));
    },
  };
}

export const plugin: TriggerPlugin<Config> = {
  type,
  metadata,
  parse,
  open,
  scaler: 'mqtt',
  queued: false,
  // MQTT exposes no queue depth KEDA could read: the pod reports the messages it holds.
  kube: { kind: 'external-push' },
};
