/**
 * NATS JetStream source: a durable pull consumer (`js.consumers.get` + `fetch`), explicit acks.
 * Messages come in fetch() batches of the free room (never more than prefetch held).
 * ack = +ACK, nack(delay) = NAK with delay, reject = TERM, `working()` keeps a long event alive.
 * Lag = num_pending + num_ack_pending of the consumer, as KEDA's nats-jetstream scaler computes it
 * (KEDA reads them from the monitoring endpoint's /jsz; the consumer info API returns the same
 * numbers, so the monitoring port may stay off). See docs/decisions/040-nats-jetstream-source.md.
 */
import { z } from 'zod';
import { connect, headers as natsHeaders, nanos, type NatsConnection, type MsgHdrs } from '@nats-io/transport-node';
import {
  AckPolicy,
  jetstream,
  jetstreamManager,
  type Consumer,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { Delivery, LagReport, Source, SourceContext, SourceFactory, SourceOptions, TriggerPlugin } from '../core/source.js';
import type { FwEvent } from '../core/event.js';
import { ATTEMPT_HEADER, ENQUEUED_HEADER, EVENT_ID_HEADER, Inbox, bool, durationAtLeast, gate, intHeader, optionalNumeric, parseMetadata, sleep } from './broker-common.js';
import { configOrThrow, parseWith, type Parsed } from '../core/validation.js';

export const type = 'nats-jetstream';

export const metadata = z.strictObject({
  // featherweight's connection key (KEDA only talks to the monitoring endpoint)
  servers: z.string().default('nats://127.0.0.1:4222'),
  // KEDA's keys
  natsServerMonitoringEndpoint: z.string().optional(),
  account: z.string().default('$G'),
  stream: z.string().min(1, 'set the JetStream stream name'),
  consumer: z.string().optional(),
  // KEDA's scaling keys: checked and defaulted once, by the scaling layer (src/scaling/triggers.ts)
  lagThreshold: optionalNumeric(),
  activationLagThreshold: optionalNumeric(),
  useHttps: bool('false'),
  // featherweight's keys
  subject: z.string().optional(),
  createStream: bool('true'),
  createConsumer: bool('true'),
  ackWait: z.string().default('30s'),
});

interface Held {
  msg: JsMsg;
  delivery: Delivery;
}

/** The metadata as the open step uses it; pure, every problem at once. */
type Config = z.infer<typeof metadata> & { ackWaitMs: number };

export const parse = (md: Record<string, string>): Parsed<Config> =>
  parseWith(metadata, md, (m, ctx) => ({ ...m, ackWaitMs: durationAtLeast(m.ackWait, 'ackWait', 1000, ctx) }));

export const create: SourceFactory = (md: Record<string, string>, opts: SourceOptions): Source => {
  parseMetadata(type, metadata, md);
  return open(configOrThrow(`${type} trigger`, parse(md)), opts);
};

export function open(m: Config, opts: SourceOptions): Source {
  const durable = m.consumer ?? opts.component;
  const ackWaitMs = m.ackWaitMs;
  const prefetch = Math.max(1, opts.prefetch);
  const inbox = new Inbox<Held>();
  // every message taken from the client and not settled: in the inbox or handed to the dispatcher
  const holding = new Set<Held>();
  let nc: NatsConnection | undefined;
  let jsm: JetStreamManager | undefined;
  let js: JetStreamClient | undefined;
  let ctx: SourceContext | undefined;
  let closed = false;
  let termWithReason = false;
  let heartbeat: NodeJS.Timeout | undefined;
  let pumpDone: Promise<void> = Promise.resolve();
  let consumer: Consumer | undefined;
  let pumping = false;
  // capacity gate: the pump takes a message from the client only while fewer than `prefetch` are held
  const { wait, release } = gate();
  const held = () => holding.size;
  // +ACKs of one burst of settles go out together: nats.js flushes its outbound buffer in a
  // microtask after the first command, so a sequential next()+ack() loop wrote one socket frame per
  // ack. They wait for the event loop's next turn (setImmediate), no longer; a crash in between
  // leaves them un-acked, i.e. redelivered, as a crash just before ack() would.
  let acks: JsMsg[] = [];
  const flushAcks = () => {
    const a = acks;
    acks = [];
    for (const msg of a) msg.ack();
  };
  const ackSoon = (msg: JsMsg) => {
    if (acks.push(msg) === 1) setImmediate(flushAcks);
  };

  const toDelivery = (msg: JsMsg): Held => {
    const h = msg.headers;
    const hdrs: Record<string, string> = {};
    if (h) for (const k of h.keys()) hdrs[k] = h.get(k);
    const base = intHeader(h?.get(ATTEMPT_HEADER)) ?? 1;
    const event: FwEvent = {
      id: h?.get(EVENT_ID_HEADER) || h?.get('Nats-Msg-Id') || `${msg.info.stream}:${msg.seq}`,
      source: type,
      subject: msg.subject,
      headers: hdrs,
      body: msg.data,
      attempt: base - 1 + msg.info.deliveryCount,
      enqueuedAt: intHeader(h?.get(ENQUEUED_HEADER)) ?? Number(msg.timestampNanos / 1_000_000n),
    };
    const entry = { msg } as Held;
    // at most once: the first settle (or close) takes the entry out of `holding`
    const settle = async (f: () => void) => {
      if (!holding.delete(entry)) return;
      f();
      release();
    };
    entry.delivery = {
      event,
      ack: () => settle(() => ackSoon(msg)),
      nack: (delayMs: number) => settle(() => msg.nak(Math.max(0, Math.round(delayMs)))),
      // servers before 2.11 do not parse "+TERM <reason>" and would redeliver the message
      reject: (reason: string) => settle(() => (termWithReason ? msg.term(reason.slice(0, 200)) : msg.term())),
    };
    return entry;
  };

  // Batches of fetch() rather than consume(): consume() keeps its own read-ahead buffer, whose
  // messages we cannot +WPI, so under load they outlived ack_wait and came back as redeliveries.
  // A fetch asks for at most the free room, and every message it yields is held (and heartbeated).
  // Fetches overlap: the next is asked for once half the window is free, while earlier ones
  // may still be arriving, so the server always has a pull request to fill (one fetch at a time,
  // refilled at half the window, left the inbox empty for a pull round trip every ~64 messages).
  // `requested` counts what the open fetches may still bring: held + requested <= prefetch.
  let requested = 0;
  const fetches = new Set<ConsumerMessages>();
  const reads = new Set<Promise<void>>();
  let failures = 0;
  let retryAt = 0;
  const failed = (err: unknown) => {
    failures++;
    retryAt = Date.now() + Math.min(100 * 2 ** (failures - 1), 5000);
    ctx?.log.warn({ err: String(err), stream: m.stream, consumer: durable }, 'nats-jetstream: fetch failed, retrying');
  };
  const read = async (batch: ConsumerMessages, n: number) => {
    let got = 0;
    try {
      for await (const msg of batch) {
        got++;
        requested--;
        if (closed) {
          msg.nak();
          continue;
        }
        const h = toDelivery(msg);
        holding.add(h);
        if (inbox.push(h)) ctx?.notify();
      }
      failures = 0;
    } catch (err) {
      if (!closed) failed(err);
    } finally {
      requested -= n - got;
      fetches.delete(batch);
      release();
    }
  };
  const pump = async (c: Consumer) => {
    // Half, not a quarter: each fetch is a pull request and a subscription of nats.js' own, and at a
    // quarter their setup was ~8% of a fast drain's CPU profile (decision 240's addendum).
    const step = Math.max(1, Math.floor(prefetch / 2));
    const room = () => prefetch - held() - requested;
    // With no fetch open, any room is asked for: a consumer that holds everything (long events)
    // still fills its whole window instead of stopping a step short of it.
    const enough = () => room() >= (requested === 0 ? 1 : step);
    while (!closed) {
      while (!closed && !enough()) await wait();
      if (closed) break;
      // after a failed fetch the next waits, doubling from 100 ms to 5 s until one ends cleanly
      const pause = retryAt - Date.now();
      if (pause > 0) {
        await sleep(pause);
        if (closed || !enough()) continue;
      }
      const n = room();
      requested += n;
      try {
        const batch = await c.fetch({ max_messages: n, expires: 5000 });
        if (closed) batch.stop();
        fetches.add(batch);
        const r = read(batch, n).finally(() => reads.delete(r));
        reads.add(r);
      } catch (err) {
        requested -= n;
        if (closed) break;
        failed(err);
      }
    }
  };

  // Fetching starts when the component runs: its first next() or its scaler's first lag(). A
  // publish-only user (dlq retry: start, publish, close) calls neither and takes nothing.
  const begin = () => {
    if (pumping || !consumer || closed) return;
    pumping = true;
    pumpDone = pump(consumer).catch((err) => {
      if (!closed) ctx?.log.error({ err: String(err), stream: m.stream, consumer: durable }, 'nats-jetstream consumer stopped');
    });
  };

  return {
    type,
    async start(c: SourceContext) {
      ctx = c;
      nc = await connect({ servers: m.servers.split(',').map((s) => s.trim()), name: `featherweight:${opts.component}`, maxReconnectAttempts: -1 });
      const [major = 0, minor = 0] = (nc.info?.version ?? '0.0').split('.').map(Number);
      termWithReason = major > 2 || (major === 2 && minor >= 11);
      jsm = await jetstreamManager(nc);
      js = jetstream(nc);
      if (m.createStream === 'true') {
        try {
          await jsm.streams.info(m.stream);
        } catch {
          await jsm.streams.add({ name: m.stream, subjects: [m.subject ?? `${m.stream}.>`] });
        }
      }
      let exists = true;
      try {
        await jsm.consumers.info(m.stream, durable);
      } catch {
        exists = false;
      }
      if (!exists) {
        if (m.createConsumer !== 'true') throw new Error(`${type}: consumer ${durable} does not exist on stream ${m.stream} (createConsumer is false)`);
        await jsm.consumers.add(m.stream, {
          durable_name: durable,
          ack_policy: AckPolicy.Explicit,
          ack_wait: nanos(ackWaitMs),
          ...(m.subject ? { filter_subject: m.subject } : {}),
        });
      }
      consumer = await js.consumers.get(m.stream, durable);
      // a long event keeps its message: +WPI resets ack_wait before it runs out
      heartbeat = setInterval(() => {
        for (const h of holding) h.msg.working();
      }, Math.max(500, ackWaitMs / 3));
      heartbeat.unref();
    },
    async next(signal: AbortSignal) {
      begin();
      const h = await inbox.next(signal);
      return h ? h.delivery : null;
    },
    async lag(): Promise<LagReport> {
      if (!jsm) throw new Error(`${type}: lag() before start()`);
      begin();
      const ci = await jsm.consumers.info(m.stream, durable);
      const inFlight = held();
      return { lag: ci.num_pending + ci.num_ack_pending, inFlight };
    },
    async publish(e) {
      if (!js) throw new Error(`${type}: publish() before start()`);
      const h: MsgHdrs = natsHeaders();
      for (const [k, v] of Object.entries(e.headers)) h.set(k, v);
      h.set(EVENT_ID_HEADER, e.id);
      if (e.attempt !== undefined) h.set(ATTEMPT_HEADER, String(e.attempt));
      h.set(ENQUEUED_HEADER, String(e.enqueuedAt ?? Date.now()));
      const subject = e.subject || (m.subject && !/[*>]/.test(m.subject) ? m.subject : `${m.stream}.events`);
      await js.publish(subject, e.body, { headers: h });
    },
    async close() {
      if (closed) return;
      closed = true;
      if (heartbeat) clearInterval(heartbeat);
      inbox.close();
      release();
      // hand back what this process still holds so another consumer gets it now, not after ack_wait
      inbox.drain();
      flushAcks();
      for (const h of holding) h.msg.nak();
      holding.clear();
      for (const b of fetches) b.stop();
      await pumpDone;
      await Promise.all(reads);
      if (nc) await nc.drain().catch(() => nc?.close());
    },
  };
}

export const plugin: TriggerPlugin<Config> = {
  type,
  metadata,
  parse,
  open,
  scaler: 'nats-jetstream',
  queued: false,
  kube: {
    kind: 'native',
    type: 'nats-jetstream',
    keys: ['natsServerMonitoringEndpoint', 'account', 'accountID', 'stream', 'consumer', 'lagThreshold', 'activationLagThreshold', 'useHttps'],
    required: ['natsServerMonitoringEndpoint', 'stream', 'consumer'],
    secrets: [],
    hints: { natsServerMonitoringEndpoint: 'host:port of the NATS monitoring endpoint as seen from KEDA, e.g. nats.nats.svc:8222' },
  },
};
