import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { BodyTooLarge, createMimeThread, MimeThreadFailed, type Spooled } from './smtp-mime.js';
import { z } from 'zod';
import type { SourceFactory, SourceOptions } from '../core/source.js';
import type { FwEvent } from '../core/event.js';
import { PreparationError } from '../core/errors.js';
import { parseHostPort } from '../core/address.js';
import { parseSize } from '../core/units.js';
import { configOrThrow, parseWith, type ParseContext, type Parsed } from '../core/validation.js';
import { checkQueueKeys, createEmbeddedQueue, queueTrigger, newEventId, queueMetadataKeys, queueOptions, unitKey, type EmbeddedSource } from './embedded/index.js';

/**
 * SMTP trigger: an smtp-server whose accepted mails become events on the component's embedded
 * queue. The event is committed to queue.db before the 250 reply, so a mail the client saw accepted
 * is never lost; a failed write answers 451 (try again later) and the client keeps the mail.
 * smtp-server's `size` only advertises the limit: the DATA stream's sizeExceeded decides (552).
 *
 * A mail held in memory whose event certainly fits the component's maxStdin is committed as
 * received (a `message/rfc822` event) and its MIME is parsed when it is delivered, by prepare(), so
 * the client's next mail does not wait for the parser (decision 250). Any other mail is parsed before
 * the 250, so the 552 (its event would be too large) is still given at DATA.
 *
 * Memory stays bounded whatever the clients do (decision 132): at most `maxClients` connections
 * (smtp-server answers 421 past it); DATA past 256 KiB is spooled to a file under <dataDir>/smtp-spool,
 * not held (decision 233); at most `parallelParses` spooled mails are parsed into event bodies at
 * once, each streamed attachment by attachment and stopped as soon as the body passes the
 * component's maxStdin (552: the event could never run). Parsing runs on a thread of its own
 * (smtp-mime.ts), off the main thread's SMTP, queue and sink work.
 */

export const metadata = z.strictObject({
  ...queueMetadataKeys,
  listen: z.string().optional(),
  maxSize: z.string().optional(),
  allowRecipients: z.string().optional(),
  authUsers: z.string().optional(),
  tlsKey: z.string().optional(),
  tlsCert: z.string().optional(),
  maxClients: z.string().optional(),
}) as unknown as z.ZodType<Record<string, string>>;

export const defaultListen = '127.0.0.1:2525';
export const defaultMaxSize = 25 * 1024 * 1024;
/** Concurrent SMTP connections; the 33rd gets 421 and its MTA retries later (decision 132). */
export const defaultMaxClients = 32;
/** A mail's DATA up to this size is held in memory (at most maxClients of them), larger ones spooled to disk. */
const inMemoryMail = 256 * 1024;
/** Spooled mails turned into event bodies at once: each may hold up to maxStdin in memory. */
const parallelParses = 2;

/** Marks an event stored as the mail it was (parsed at delivery); its envelope rides along as JSON. */
export const rawMailType = 'message/rfc822';

/**
 * Bytes the event body of a mail of `rawBytes` can at most take, envelope aside: every part of the
 * body comes from the mail's bytes, and none grows more than 6x (a control character in a header or
 * text becomes a 6-byte JSON escape; a byte of a single-byte charset becomes at most 3 bytes of UTF-8,
 * base64 takes 4 for 3), so 16x leaves room for each attachment's JSON keys. Mails under this bound
 * skip the parse before 250: their event cannot be refused for its size.
 */
export function eventBodyBound(rawBytes: number, envelope: { mailFrom: string; rcptTo: string[] }): number {
  return 16 * rawBytes + 2 * Buffer.byteLength(JSON.stringify(envelope)) + 1024;
}

export interface SmtpSource extends EmbeddedSource {
  /** The bound address once started (port 0 in `listen` picks a free one). */
  address(): { host: string; port: number };
}

export interface MailEventBody {
  messageId: string | null;
  from: string | null;
  to: string[];
  subject: string | null;
  date: string | null;
  text: string | null;
  attachments: MailAttachment[];
}

export interface MailAttachment {
  filename: string | null;
  contentType: string;
  /** Bytes of `content` once base64-decoded. */
  size: number;
  /** base64 of the attachment's bytes; UTF-8 when `charset` is "utf-8" and `declaredCharset` says what it was. */
  content: string;
  /** "utf-8" once decoded from a declared charset; the declared label when it could not be decoded. */
  charset?: string;
  /** The charset the mail declared, when it was not UTF-8 or ASCII and the content was converted from it. */
  declaredCharset?: string;
}

/** `*@example.com, ops@*, alice@example.org` -> one matcher; case-insensitive, `*` matches any run. */
function recipientMatcher(patterns: string): (address: string) => boolean {
  const list = patterns.split(',').map((p) => p.trim()).filter(Boolean);
  if (list.length === 0 || list.includes('*')) return () => true;
  const res = list.map((p) => new RegExp(`^${p.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i'));
  return (a) => res.some((re) => re.test(a));
}

function parseAuthUsers(v: string, ctx: ParseContext): Map<string, string> {
  const users = new Map<string, string>();
  for (const entry of v.split(',').map((s) => s.trim()).filter(Boolean)) {
    const i = entry.indexOf(':');
    if (i <= 0) ctx.problem('authUsers', `${JSON.stringify(entry.slice(0, 40))} is not user:password (use user:pass,user2:pass2)`);
    else users.set(entry.slice(0, i), entry.slice(i + 1));
  }
  if (v.split(',').every((e) => !e.trim())) ctx.problem('authUsers', 'is empty: use user:pass,user2:pass2 or leave it out');
  return users;
}

/** The smtp trigger's metadata as its open step uses it; pure (the TLS files are checked by validation). */
export const parse = (md: Record<string, string>): Parsed<SmtpConfig> =>
  parseWith(metadata, md, (raw, ctx) => {
    const m = raw as Record<string, string | undefined>;
    checkQueueKeys(m, ctx);
    const listen = parseHostPort(m.listen ?? defaultListen, { hostOptional: true });
    if (!listen) ctx.problem('listen', `${JSON.stringify(m.listen)}: use host:port (e.g. 127.0.0.1:2525, 0.0.0.0:25)`);
    let maxSize = defaultMaxSize;
    try {
      maxSize = unitKey(m, 'maxSize', parseSize, defaultMaxSize);
    } catch (err) {
      ctx.problem('maxSize', (err as Error).message.replace(/^trigger metadata maxSize: /, ''));
    }
    const maxClients = m.maxClients === undefined ? defaultMaxClients : Number(m.maxClients);
    if (!Number.isInteger(maxClients) || maxClients < 1) ctx.problem('maxClients', `${JSON.stringify(m.maxClients)}: use a whole number of connections, at least 1 (default ${defaultMaxClients})`);
    const users = m.authUsers !== undefined ? parseAuthUsers(m.authUsers, ctx) : null;
    if ((m.tlsKey === undefined) !== (m.tlsCert === undefined)) {
      ctx.problem(m.tlsKey === undefined ? 'tlsKey' : 'tlsCert', 'tlsKey and tlsCert go together: give both paths for STARTTLS, or neither');
    }
    if (m.tlsKey !== undefined) ctx.file('tlsKey', m.tlsKey);
    if (m.tlsCert !== undefined) ctx.file('tlsCert', m.tlsCert);
    return { m, listen: listen ?? { host: '', port: 0 }, maxSize, maxClients, users };
  });

export interface SmtpConfig {
  m: Record<string, string | undefined>;
  listen: { host: string; port: number };
  maxSize: number;
  maxClients: number;
  users: Map<string, string> | null;
}

/** The chunks as one Buffer, without a copy when there is only one (a parsed body always is). */
function joined(chunks: Buffer[]): Buffer {
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** The mail event's headers (its env for the guest: EVENT_HEADER_FROM, ...). */
function mailHeaders(built: { from: string | null; messageId: string | null; subject: string | null }, rcptTo: string[]): Record<string, string> {
  return { from: built.from ?? '', to: rcptTo.join(', '), messageId: built.messageId ?? '', subject: built.subject ?? '' };
}

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

export const create: SourceFactory = (md, opts) => open(configOrThrow('smtp trigger', parse(md)), opts);

export function open({ m, listen, maxSize, maxClients, users }: SmtpConfig, opts: SourceOptions): SmtpSource {
  const allowed = recipientMatcher(m.allowRecipients ?? '*');
  const q = createEmbeddedQueue(opts.dataDir, queueOptions(m, opts), 'smtp');
  let server: SMTPServer | null = null;
  // set by stopAccepting() (scale-in, shutdown): new mail gets 421 and goes to another server
  let draining = false;
  const refuseWhileDraining = (cb: (err?: Error | null) => void) =>
    draining ? cb(smtpError(421, '4.3.2 Service shutting down, try another server')) : cb();
  let bound = { host: listen.host, port: listen.port };

  const maxEventBytes = opts.maxEventBytes ?? Number.POSITIVE_INFINITY;
  const spoolDir = path.join(opts.dataDir, 'smtp-spool');
  const mime = createMimeThread();
  // Mails parsed into event bodies at once; the others wait on disk, not in memory.
  let parsing = 0;
  const waiting: Array<() => void> = [];
  const withParseSlot = async <T>(f: () => Promise<T>): Promise<T> => {
    if (parsing >= parallelParses) await new Promise<void>((resolve) => waiting.push(resolve));
    else parsing++;
    try {
      return await f();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else parsing--;
    }
  };

  /**
   * Reads the DATA stream, keeping nothing past maxSize (the client is still sending, so it is
   * drained). Up to `inMemoryMail` bytes stay in memory; a larger mail goes to a file under
   * <dataDir>/smtp-spool from there on. The file system calls per mail (open, write, read, unlink)
   * were most of the SMTP intake's main-thread time for typical mails (decision 233). Listeners on
   * the stream, as a bare smtp-server has, rather than a Writable piped to: per mail, that was a
   * stream object and a pipe's worth of listeners on both sides, for one or two chunks. Not
   * stream/promises' pipeline() either: it aborts an AbortController of its own at the end of every
   * mail, and the DOMException that makes was ~150 µs of the main thread per mail.
   */
  function spool(stream: SMTPServerDataStream): Promise<Spooled> {
    return new Promise<Spooled>((resolve, reject) => {
      let length = 0;
      const held: Buffer[] = [];
      let file: string | undefined;
      let out: ReturnType<typeof createWriteStream> | undefined;
      let over = false;
      const finish = (err?: Error | null) => {
        if (over) return;
        over = true;
        stream.off('data', onChunk);
        if (!err) return resolve(file !== undefined ? { length, file } : { length, chunks: held });
        out?.destroy();
        if (file !== undefined) rmSync(file, { force: true });
        reject(err);
      };
      const onChunk = (chunk: Buffer) => {
        const room = maxSize - length;
        length += chunk.length;
        const kept = room >= chunk.length ? chunk : room > 0 ? chunk.subarray(0, room) : undefined;
        if (!kept) return;
        if (!out && length <= inMemoryMail) {
          held.push(kept);
          return;
        }
        let data = kept;
        if (!out) {
          try {
            mkdirSync(spoolDir, { recursive: true });
          } catch (err) {
            return finish(err as Error);
          }
          file = path.join(spoolDir, `${randomUUID()}.eml`);
          out = createWriteStream(file);
          out.on('error', finish);
          data = Buffer.concat([...held, kept]);
          held.length = 0;
        }
        if (!out.write(data)) {
          stream.pause();
          out.once('drain', () => stream.resume());
        }
      };
      stream.on('data', onChunk);
      stream.once('end', () => (out ? out.end((err?: Error | null) => finish(err)) : finish()));
      // A late error (the connection dropping after the mail was read) must not become an
      // unhandled 'error' event that ends the host; the mail's fate is already decided then.
      stream.on('error', (err) => finish(err));
    });
  }

  async function onData(stream: SMTPServerDataStream, session: SMTPServerSession, log: { error(o: object, msg?: string): void }): Promise<string> {
    let mail: Spooled | undefined;
    try {
      let length: number;
      try {
        mail = await spool(stream);
        length = mail.length;
      } catch (err) {
        log.error({ err, spoolDir }, 'smtp: could not spool a mail to disk');
        stream.resume(); // keep reading so the client reaches the end of DATA and sees the reply
        await new Promise((r) => (stream.readableEnded ? r(undefined) : stream.once('end', r)));
        throw smtpError(451, '4.3.0 Temporary failure storing the message; try again later');
      }
      if (stream.sizeExceeded || length > maxSize) {
        throw smtpError(552, `5.3.4 Message size exceeds the limit of ${maxSize} bytes; nothing was stored`);
      }
      const envelope = { mailFrom: session.envelope.mailFrom ? (session.envelope.mailFrom as SMTPServerAddress).address : '', rcptTo: session.envelope.rcptTo.map((r) => r.address) };
      if (mail.chunks !== undefined && eventBodyBound(length, envelope) <= maxEventBytes) {
        const id = newEventId();
        const raw = joined(mail.chunks);
        await publishOr451(log, {
          id,
          source: 'smtp',
          subject: envelope.rcptTo[0] ?? '',
          headers: { 'content-type': rawMailType, envelope: JSON.stringify(envelope) },
          body: raw,
        });
        return id;
      }
      // Small mails are held whole anyway (at most maxClients of them); only spooled ones wait for a slot.
      const parseSlot = mail.file !== undefined ? withParseSlot : <T>(f: () => Promise<T>) => f();
      const built = await parseSlot(async () => {
        try {
          return await mime.build(mail!, envelope, maxEventBytes);
        } catch (err) {
          if (err instanceof MimeThreadFailed) {
            log.error({ err }, 'smtp: the MIME parser thread failed');
            throw smtpError(451, '4.3.0 Temporary failure parsing the message; try again later');
          }
          if (err instanceof BodyTooLarge) {
            throw smtpError(552, `5.3.4 This message becomes an event larger than the ${maxEventBytes} bytes its handler accepts (limits.maxStdin of component ${opts.component}); nothing was stored`);
          }
          throw smtpError(554, `5.6.0 Message could not be parsed as MIME (${(err as Error).message}); nothing was stored`);
        }
      });
      const body = joined(built.chunks);
      built.chunks.length = 0;
      const id = newEventId();
      await publishOr451(log, { id, source: 'smtp', subject: envelope.rcptTo[0] ?? '', headers: mailHeaders(built, envelope.rcptTo), body });
      return id;
    } finally {
      if (mail?.file !== undefined) rmSync(mail.file, { force: true });
    }
  }

  async function publishOr451(log: { error(o: object, msg?: string): void }, e: Parameters<typeof q.publish>[0]): Promise<void> {
    try {
      await q.publish(e);
    } catch (err) {
      log.error({ err, queue: q.queue }, 'smtp: could not write an accepted mail to the queue');
      throw smtpError(451, '4.3.0 Temporary failure writing the message to the queue; try again later');
    }
  }

  /** A stored mail -> its mail event; any other event (already parsed, or sent by `queue send`) as it is. */
  async function prepare(event: FwEvent): Promise<FwEvent> {
    if (event.headers['content-type'] !== rawMailType) return event;
    let envelope: { mailFrom: string; rcptTo: string[] };
    try {
      const e = JSON.parse(event.headers.envelope ?? '') as { mailFrom?: unknown; rcptTo?: unknown };
      if (typeof e.mailFrom !== 'string' || !Array.isArray(e.rcptTo) || !e.rcptTo.every((r) => typeof r === 'string')) throw new Error('not { mailFrom, rcptTo }');
      envelope = { mailFrom: e.mailFrom, rcptTo: e.rcptTo as string[] };
    } catch (err) {
      throw new PreparationError('input', `stored mail ${event.id} has no usable envelope header (${(err as Error).message}); it cannot become a mail event`);
    }
    const raw = Buffer.from(event.body.buffer, event.body.byteOffset, event.body.byteLength);
    let built;
    try {
      built = await mime.build({ length: raw.length, chunks: [raw] }, envelope, maxEventBytes);
    } catch (err) {
      if (err instanceof MimeThreadFailed) throw err; // the host's: redelivered
      if (err instanceof BodyTooLarge) {
        throw new PreparationError('input-limit', `mail ${event.id} becomes an event larger than the ${maxEventBytes} bytes its handler accepts (limits.maxStdin of component ${opts.component})`);
      }
      throw new PreparationError('input', `mail ${event.id} could not be parsed as MIME (${(err as Error).message})`);
    }
    const body = joined(built.chunks);
    return { ...event, headers: mailHeaders(built, envelope.rcptTo), body };
  }

  const source: SmtpSource = {
    ...q,
    prepare,
    address: () => bound,
    async stopAccepting() {
      draining = true;
    },
    async start(ctx) {
      await q.start(ctx);
      mime.warm();
      const tls = m.tlsKey !== undefined ? { key: readFileSync(m.tlsKey), cert: readFileSync(m.tlsCert!) } : null;
      const srv = new SMTPServer({
        secure: false,
        ...(tls ?? {}),
        size: maxSize,
        maxClients,
        logger: false,
        banner: 'featherweight',
        disabledCommands: tls ? [] : ['STARTTLS'],
        authMethods: ['PLAIN', 'LOGIN'],
        authOptional: users === null,
        // Without TLS, AUTH over plain text is the only way credentials can work (loopback by default).
        allowInsecureAuth: tls === null,
        closeTimeout: 5000,
        onAuth(auth, _session, cb) {
          if (!users) return cb(smtpError(503, '5.5.1 AUTH is not enabled on this server'));
          const ok = auth.username !== undefined && users.get(auth.username) === auth.password;
          if (!ok) return cb(smtpError(535, '5.7.8 Authentication credentials invalid'));
          cb(null, { user: auth.username });
        },
        onConnect(_session, cb) {
          refuseWhileDraining(cb);
        },
        onMailFrom(_address, _session, cb) {
          refuseWhileDraining(cb);
        },
        onRcptTo(address, _session, cb) {
          if (!allowed(address.address)) return cb(smtpError(550, `5.1.1 Recipient ${address.address} is not accepted here`));
          cb();
        },
        onData(stream, session, cb) {
          onData(stream, session, ctx.log).then(
            (id) => cb(null, `Queued as ${id}`),
            (err: Error) => cb(err),
          );
        },
      });
      srv.on('error', (err) => ctx.log.warn({ err }, 'smtp server error'));
      await new Promise<void>((resolve, reject) => {
        const fail = (err: Error) => reject(new Error(`smtp trigger cannot listen on ${listen.host}:${listen.port}: ${err.message}`));
        srv.server.once('error', fail);
        srv.listen(listen.port, listen.host, () => {
          srv.server.off('error', fail);
          resolve();
        });
      });
      const a = srv.server.address();
      if (a && typeof a === 'object') bound = { host: a.address, port: a.port };
      server = srv;
    },
    async close() {
      const srv = server;
      server = null;
      if (srv) await new Promise<void>((resolve) => srv.close(() => resolve()));
      await mime.close();
      await q.close();
    },
  };
  return source;
}

export const plugin = queueTrigger<SmtpConfig>({
  type: 'smtp',
  metadata,
  parse,
  open,
  ingress: { name: 'smtp', listen: { key: 'listen', defaultPort: parseHostPort(defaultListen)!.port } },
});
