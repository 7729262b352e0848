/**
 * Redis Streams source: one consumer of a consumer group (node-redis v6).
 * Reads with XREADGROUP BLOCK on a dedicated connection, takes over entries stuck with a dead
 * consumer with XAUTOCLAIM, acks with XACK (the entry stays in the stream: stream semantics).
 * nack(delay) leaves the entry pending and, after the delay, XCLAIMs it back to this consumer
 * (which bumps Redis' delivery counter: that counter is the attempt). A heartbeat XCLAIM JUSTID
 * keeps held entries from looking idle to other consumers' XAUTOCLAIM.
 * Lag follows KEDA's mode selection; see docs/decisions/041-redis-streams-source.md.
 */
import os from 'node:os';
import { z } from 'zod';
import { createClient, RESP_TYPES } from 'redis';
import type { Delivery, LagReport, Source, SourceContext, SourceFactory, SourceOptions, TriggerPlugin } from '../core/source.js';
import type { FwEvent } from '../core/event.js';
import { configOrThrow, parseWith, type Parsed } from '../core/validation.js';
import { ATTEMPT_HEADER, ENQUEUED_HEADER, EVENT_ID_HEADER, Inbox, bool, durationAtLeast, fromEnv, gate, intHeader, numeric, optionalNumeric, parseMetadata, sleep } from './broker-common.js';

export const type = 'redis-streams';

export const metadata = z.strictObject({
  // KEDA's connection keys
  address: z.string().optional(),
  host: z.string().optional(),
  port: z.string().regex(/^\d+$/, 'must be a port number').optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  databaseIndex: numeric('0'),
  enableTLS: bool('false'),
  // KEDA's *FromEnv forms: the name of an environment variable holding the value
  addressFromEnv: z.string().optional(),
  hostFromEnv: z.string().optional(),
  portFromEnv: z.string().optional(),
  usernameFromEnv: z.string().optional(),
  passwordFromEnv: z.string().optional(),
  // KEDA's scaler keys (the counts are checked and defaulted once, by src/scaling/triggers.ts)
  stream: z.string().min(1, 'set the stream name'),
  consumerGroup: z.string().optional(),
  pendingEntriesCount: optionalNumeric(),
  streamLength: optionalNumeric(),
  lagCount: optionalNumeric(),
  activationLagCount: optionalNumeric(),
  // featherweight's keys
  consumerName: z.string().optional(),
  claimIdleTime: z.string().default('30s'),
});

type Fields = Record<string, Buffer>;
interface Entry {
  id: Buffer;
  message: Fields | null;
}
interface Held {
  id: string;
  delivery: Delivery;
}

/** Which of KEDA's three redis-streams metrics this trigger reports. */
export function lagMode(md: Readonly<Record<string, unknown>> & { consumerGroup?: string | undefined; lagCount?: string | undefined }): 'lag' | 'pending' | 'length' {
  // KEDA: consumerGroup + lagCount -> lag; consumerGroup -> pending entries; else XLEN. featherweight
  // always consumes through a group (the component name by default), but the metric follows what
  // the metadata says, as src/scaling/triggers.ts does for the target.
  if (md.consumerGroup) return md.lagCount !== undefined ? 'lag' : 'pending';
  return 'length';
}

function redisUrl(m: z.infer<typeof metadata>): string {
  const scheme = m.enableTLS === 'true' ? 'rediss' : 'redis';
  const addr = m.address ?? `${m.host ?? '127.0.0.1'}:${m.port ?? '6379'}`;
  return /^rediss?:\/\//.test(addr) ? addr : `${scheme}://${addr}`;
}

/** The metadata as the open step uses it; pure (the *FromEnv keys are read at open), every problem at once. */
type Config = z.infer<typeof metadata> & { claimIdleMs: number };

export const parse = (md: Record<string, string>): Parsed<Config> =>
  parseWith(metadata, md, (m, ctx) => ({ ...m, claimIdleMs: durationAtLeast(m.claimIdleTime, 'claimIdleTime', 500, ctx) }));

export const create: SourceFactory = (md: Record<string, string>, opts: SourceOptions): Source => {
  parseMetadata(type, metadata, md);
  return open(configOrThrow(`${type} trigger`, parse(md)), opts);
};

export function open(parsed: Config, opts: SourceOptions): Source {
  const m = {
    ...parsed,
    address: parsed.address ?? fromEnv(type, 'addressFromEnv', parsed.addressFromEnv),
    host: parsed.host ?? fromEnv(type, 'hostFromEnv', parsed.hostFromEnv),
    port: parsed.port ?? fromEnv(type, 'portFromEnv', parsed.portFromEnv),
    username: parsed.username ?? fromEnv(type, 'usernameFromEnv', parsed.usernameFromEnv),
    password: parsed.password ?? fromEnv(type, 'passwordFromEnv', parsed.passwordFromEnv),
  };
  const group = m.consumerGroup ?? opts.component;
  const consumer = m.consumerName ?? `${os.hostname()}-${process.pid}`;
  const claimIdleMs = parsed.claimIdleMs;
  const mode = lagMode(parsed);
  const prefetch = Math.max(1, opts.prefetch);
  const maxDelayed = 16 * prefetch;
  const refillAt = Math.min(prefetch - 1, Math.max(1, Math.floor(prefetch / 4))); // room >= 1 when reading
  // node-redis retries a connection forever by default, so a Redis that is down at start kept
  // `up` waiting with no error. Until a client has connected once it gives up after 3 tries (the
  // start fails, naming the address); after that it reconnects for as long as it takes.
  const clientFor = () => {
    let connected = false;
    const c = createClient({
      url: redisUrl(m),
      database: Number(m.databaseIndex),
      ...(m.username ? { username: m.username } : {}),
      ...(m.password ? { password: m.password } : {}),
      socket: {
        connectTimeout: 5000,
        reconnectStrategy: (retries: number, cause: Error) => (!connected && retries >= 2 ? cause : Math.min(100 * 2 ** retries, 5000)),
      },
    });
    c.on('ready', () => (connected = true));
    return c;
  };
  const cmd = clientFor();
  const blk = clientFor(); // XREADGROUP BLOCK holds its connection
  const bin = cmd.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  const binBlk = blk.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  const inbox = new Inbox<Held>();
  const holding = new Map<string, Held>(); // taken from Redis, not settled
  const delayed = new Map<string, NodeJS.Timeout>(); // nacked, waiting for their delay
  let ctx: SourceContext | undefined;
  let closed = false;
  // lag() may be asked before start() (the scaler polls every source): connect on first use
  let cmdReady: Promise<unknown> | undefined;
  // a failed first connect is tried again at the next call, not remembered
  const ready = () =>
    (cmdReady ??= cmd.connect().catch((err: unknown) => {
      cmdReady = undefined;
      throw err;
    }));
  let loop: Promise<void> = Promise.resolve();
  let reading = false;
  let started = false;
  let heartbeat: NodeJS.Timeout | undefined;
  const { wait, release } = gate();

  const toHeld = (e: Entry, attempt: number): Held => {
    const id = e.id.toString();
    const fields = e.message ?? {};
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(fields)) if (k !== 'body') headers[k] = v.toString();
    const body = fields.body ?? Buffer.from(JSON.stringify(headers));
    const base = intHeader(headers[ATTEMPT_HEADER]) ?? 1;
    const event: FwEvent = {
      id: headers[EVENT_ID_HEADER] || `${m.stream}:${id}`,
      source: type,
      subject: m.stream,
      headers,
      body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
      attempt: base - 1 + attempt,
      enqueuedAt: intHeader(headers[ENQUEUED_HEADER]) ?? Number(id.split('-')[0]),
    };
    const finish = async () => {
      await cmd.xAck(m.stream, group, id);
    };
    // at most once: the first settle (or close) takes the entry out of `holding`
    const settle =
      <A extends unknown[]>(f: (...a: A) => Promise<void>) =>
      async (...a: A) => {
        if (holding.get(id) !== held) return;
        holding.delete(id);
        try {
          await f(...a);
        } finally {
          release();
        }
      };
    const held: Held = {
      id,
      delivery: {
        event,
        ack: settle(finish),
        reject: settle(async (_reason: string) => finish()),
        nack: settle(async (delayMs: number) => {
          // stays pending in this consumer's PEL: a crash during the delay leaves it to XAUTOCLAIM
          const t = setTimeout(() => {
            delayed.delete(id);
            release();
            void reclaim(id);
          }, Math.max(0, delayMs));
          delayed.set(id, t);
        }),
      },
    };
    return held;
  };

  const add = (h: Held) => {
    if (closed || holding.has(h.id)) return;
    holding.set(h.id, h);
    if (inbox.push(h)) ctx?.notify();
  };

  /** Delivery counters of entries this consumer owns, for redeliveries (history, claims). */
  const counters = async (entries: Entry[]): Promise<Map<string, number>> => {
    const ids = entries.map((e) => e.id.toString()).sort(cmpId);
    const out = new Map<string, number>();
    if (ids.length === 0) return out;
    const rows = await cmd.xPendingRange(m.stream, group, ids[0]!, ids[ids.length - 1]!, Math.max(ids.length * 4, 100), { consumer });
    for (const r of rows) out.set(r.id, Number(r.deliveriesCounter));
    return out;
  };

  const addRedelivered = async (entries: Entry[]) => {
    const live = entries.filter((e) => e.message);
    const gone = entries.filter((e) => !e.message).map((e) => e.id.toString());
    // entry trimmed/deleted from the stream while pending: nothing left to deliver
    if (gone.length > 0) await cmd.xAck(m.stream, group, gone);
    const c = await counters(live);
    for (const e of live) add(toHeld(e, c.get(e.id.toString()) ?? 2));
  };

  const reclaim = async (id: string) => {
    if (closed) return;
    try {
      const got = (await bin.xClaim(m.stream, group, consumer, 0, id)) as unknown as Array<Entry | null>;
      await addRedelivered(got.filter((e): e is Entry => e !== null));
    } catch (err) {
      ctx?.log.warn({ err: String(err), id }, 'redis-streams: re-claim after nack failed; XAUTOCLAIM will pick it up');
    }
  };

  const run = async () => {
    let history = true; // first our own PEL (a restart under the same consumer name), then new entries
    let nextClaim = 0;
    let cursor = '0-0';
    let backoff = 100;
    while (!closed) {
      try {
        // refill in batches: read again once three quarters of the window are free, not one entry
        // per ack. Reading at half (the first version) made twice the reads of 32 entries; each read
        // reply, parsed between two XACK replies, delays one of them; fewer larger reads ran as fast
        // or up to 26% faster in interleaved runs (decision 240). The quarter still held covers a
        // read's round trip.
        // nacked entries wait in local timers (Redis has no delayed redelivery); cap them so that a
        // failing handler cannot pull the whole stream into this process
        while (!closed && (holding.size > refillAt || delayed.size >= maxDelayed)) await wait();
        if (closed) break;
        const room = prefetch - holding.size;
        if (history) {
          const r = (await bin.xReadGroup(group, consumer, { key: m.stream, id: '0' }, { COUNT: room })) as unknown as Array<{ messages: Entry[] }> | null;
          const entries = (r?.[0]?.messages ?? []).filter((e) => !holding.has(e.id.toString()) && !delayed.has(e.id.toString()));
          if (entries.length === 0) history = false;
          else await addRedelivered(entries);
          continue;
        }
        if (Date.now() >= nextClaim) {
          const r = (await bin.xAutoClaim(m.stream, group, consumer, claimIdleMs, cursor, { COUNT: room })) as unknown as {
            nextId: Buffer;
            messages: Array<Entry | null>;
          };
          cursor = r.nextId.toString();
          await addRedelivered(r.messages.filter((e): e is Entry => e !== null));
          if (cursor === '0-0') nextClaim = Date.now() + Math.max(250, claimIdleMs / 4);
          continue;
        }
        const r = (await binBlk.xReadGroup(group, consumer, { key: m.stream, id: '>' }, { COUNT: room, BLOCK: 1000 })) as unknown as Array<{
          messages: Entry[];
        }> | null;
        for (const e of r?.[0]?.messages ?? []) add(toHeld(e, 1));
        backoff = 100;
      } catch (err) {
        if (closed) break;
        if (String(err).includes('NOGROUP')) await ensureGroup().catch(() => undefined);
        ctx?.log.warn({ err: String(err), stream: m.stream, group }, 'redis-streams: read failed, retrying');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  };

  const ensureGroup = async () => {
    try {
      await cmd.xGroupCreate(m.stream, group, '0', { MKSTREAM: true });
    } catch (err) {
      if (!String(err).includes('BUSYGROUP')) throw err;
    }
  };

  // Reading starts when the component runs: its first next() or its scaler's first lag(). A
  // publish-only user (dlq retry: start, publish, close) calls neither and parks nothing in a PEL.
  const begin = () => {
    if (reading || !ctx || closed) return;
    reading = true;
    loop = run();
  };

  return {
    type,
    async start(c: SourceContext) {
      ctx = c;
      for (const cl of [cmd, blk]) cl.on('error', (err: unknown) => ctx?.log.warn({ err: String(err) }, 'redis-streams: connection error'));
      await ready();
      await blk.connect();
      started = true;
      await ensureGroup();
      heartbeat = setInterval(() => {
        const ids = [...holding.keys(), ...delayed.keys()];
        if (ids.length > 0) cmd.xClaimJustId(m.stream, group, consumer, 0, ids).catch(() => undefined);
      }, Math.max(200, claimIdleMs / 3));
      heartbeat.unref();
    },
    async next(signal: AbortSignal) {
      begin();
      const h = await inbox.next(signal);
      return h ? h.delivery : null;
    },
    async lag(): Promise<LagReport> {
      const inFlight = holding.size + delayed.size;
      await ready();
      if (started) begin();
      if (mode === 'length') return { lag: await cmd.xLen(m.stream), inFlight };
      if (mode === 'pending') {
        try {
          return { lag: Number((await cmd.xPending(m.stream, group)).pending), inFlight };
        } catch (err) {
          if (/NOGROUP/.test(String(err))) return { lag: 0, inFlight }; // no stream or group yet
          throw err;
        }
      }
      // lag mode: the group's lag (undelivered entries) + what this process holds delivered-unacked
      if (!(await cmd.exists(m.stream))) return { lag: inFlight, inFlight };
      const groups = await cmd.xInfoGroups(m.stream);
      const g = groups.find((x) => x.name === group);
      const lag = g ? (typeof g.lag === 'number' ? g.lag : await cmd.xLen(m.stream)) : await cmd.xLen(m.stream);
      return { lag: lag + inFlight, inFlight };
    },
    async publish(e) {
      await ready();
      const fields: Record<string, string | Buffer> = { ...e.headers };
      fields[EVENT_ID_HEADER] = e.id;
      if (e.attempt !== undefined) fields[ATTEMPT_HEADER] = String(e.attempt);
      fields[ENQUEUED_HEADER] = String(e.enqueuedAt ?? Date.now());
      fields.body = Buffer.from(e.body);
      await cmd.xAdd(e.subject || m.stream, '*', fields);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (heartbeat) clearInterval(heartbeat);
      for (const t of delayed.values()) clearTimeout(t);
      const waiting = [...delayed.keys()];
      delayed.clear();
      inbox.close();
      release();
      // un-acked entries stay in this consumer's PEL: the same consumer name reads them back on
      // start; marking them idle for claimIdleTime lets any other consumer's next XAUTOCLAIM take
      // them now instead of claimIdleTime from now
      const ids = [...holding.keys(), ...waiting];
      holding.clear();
      if (ids.length > 0) await cmd.xClaimJustId(m.stream, group, consumer, 0, ids, { IDLE: claimIdleMs }).catch(() => undefined);
      if (blk.isOpen) blk.destroy();
      await loop;
      if (cmdReady) await cmd.close().catch(() => cmd.destroy());
    },
  };
}

function cmpId(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt);
  return am === bm ? (as < bs ? -1 : as > bs ? 1 : 0) : am < bm ? -1 : 1;
}

export const plugin: TriggerPlugin<Config> = {
  type,
  metadata,
  parse,
  open,
  scaler: 'redis-streams',
  queued: false,
  kube: {
    kind: 'native',
    type: 'redis-streams',
    keys: [
      'address', 'addressFromEnv', 'addresses', 'host', 'hostFromEnv', 'hosts', 'port', 'portFromEnv', 'ports',
      'username', 'usernameFromEnv', 'passwordFromEnv', 'sentinelUsername', 'sentinelUsernameFromEnv',
      'sentinelPasswordFromEnv', 'sentinelMaster', 'sentinelMasterFromEnv', 'stream', 'consumerGroup',
      'pendingEntriesCount', 'streamLength', 'lagCount', 'activationLagCount', 'databaseIndex', 'enableTLS', 'unsafeSsl',
    ],
    required: ['stream'],
    // KEDA would connect without auth if the password were dropped: render moves it to a Secret + TriggerAuthentication.
    secrets: ['password'],
  },
};
