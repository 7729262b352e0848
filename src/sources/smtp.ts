import { readFileSync } from 'node:fs';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { z } from 'zod';
import type { SourceFactory } from '../core/source.js';
import { parseSize } from '../core/units.js';
import { parseOrThrow } from '../core/validation.js';
import { createEmbeddedQueue, newEventId, queueMetadataKeys, queueOptions, unitKey, type EmbeddedSource } from './embedded.js';

/**
 * SMTP trigger: an smtp-server whose accepted mails become events on the component's embedded
 * queue. The event is committed to queue.db before the 250 reply, so a mail the client saw accepted
 * is never lost; a failed write answers 451 (try again later) and the client keeps the mail.
 * smtp-server's `size` only advertises the limit: the DATA stream's sizeExceeded decides (552).
 */

export const metadata = z.strictObject({
  ...queueMetadataKeys,
  listen: z.string().optional(),
  maxSize: z.string().optional(),
  allowRecipients: z.string().optional(),
  authUsers: z.string().optional(),
  tlsKey: z.string().optional(),
  tlsCert: z.string().optional(),
}) as unknown as z.ZodType<Record<string, string>>;

export const defaultListen = '127.0.0.1:2525';
export const defaultMaxSize = 25 * 1024 * 1024;

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
  attachments: { filename: string | null; contentType: string; size: number; content: string }[];
}

function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(v.trim()) ?? /^()()(\d{1,5})$/.exec(v.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`trigger metadata listen ${JSON.stringify(v)}: use host:port (e.g. 127.0.0.1:2525, 0.0.0.0:25)`);
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

/** `*@example.com, ops@*, alice@example.org` -> one matcher; case-insensitive, `*` matches any run. */
function recipientMatcher(patterns: string): (address: string) => boolean {
  const list = patterns.split(',').map((p) => p.trim()).filter(Boolean);
  if (list.length === 0 || list.includes('*')) return () => true;
  const res = list.map((p) => new RegExp(`^${p.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i'));
  return (a) => res.some((re) => re.test(a));
}

function parseAuthUsers(v: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const entry of v.split(',').map((s) => s.trim()).filter(Boolean)) {
    const i = entry.indexOf(':');
    if (i <= 0) throw new Error(`trigger metadata authUsers: ${JSON.stringify(entry.slice(0, 40))} is not user:password (use user:pass,user2:pass2)`);
    users.set(entry.slice(0, i), entry.slice(i + 1));
  }
  if (users.size === 0) throw new Error('trigger metadata authUsers is empty: use user:pass,user2:pass2 or leave it out');
  return users;
}

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

function firstAddress(a: AddressObject | AddressObject[] | undefined): string | null {
  const o = Array.isArray(a) ? a[0] : a;
  return o?.value?.[0]?.address ?? null;
}

/** The event body: decoded text and attachments (base64), recipients from the SMTP envelope. */
export function mailToEventBody(mail: ParsedMail, session: SMTPServerSession): MailEventBody {
  const envelopeFrom = session.envelope.mailFrom ? (session.envelope.mailFrom as SMTPServerAddress).address : '';
  return {
    messageId: mail.messageId ?? null,
    from: firstAddress(mail.from) ?? (envelopeFrom || null),
    to: session.envelope.rcptTo.map((r) => r.address),
    subject: mail.subject ?? null,
    date: mail.date ? mail.date.toISOString() : null,
    text: mail.text ?? null,
    attachments: mail.attachments.map((a) => ({
      filename: a.filename ?? null,
      contentType: a.contentType,
      size: a.content.length,
      content: a.content.toString('base64'),
    })),
  };
}

export const create: SourceFactory = (md, opts) => {
  const m = parseOrThrow(metadata, md, 'smtp trigger metadata', 'metadata') as Record<string, string | undefined>;
  const listen = parseListen(m.listen ?? defaultListen);
  const maxSize = unitKey(m, 'maxSize', parseSize, defaultMaxSize);
  const allowed = recipientMatcher(m.allowRecipients ?? '*');
  const users = m.authUsers !== undefined ? parseAuthUsers(m.authUsers) : null;
  if ((m.tlsKey === undefined) !== (m.tlsCert === undefined)) {
    throw new Error('trigger metadata tlsKey and tlsCert go together: give both paths for STARTTLS, or neither');
  }
  const q = createEmbeddedQueue(opts.dataDir, queueOptions(m, opts), 'smtp');
  let server: SMTPServer | null = null;
  let bound = { host: listen.host, port: listen.port };

  async function onData(stream: SMTPServerDataStream, session: SMTPServerSession, log: { error(o: object, msg?: string): void }): Promise<string> {
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      // Past the limit keep draining (the client is still sending) but hold nothing.
      if (length + chunk.length <= maxSize) chunks.push(chunk);
      length += chunk.length;
    }
    if (stream.sizeExceeded || length > maxSize) {
      throw smtpError(552, `5.3.4 Message size exceeds the limit of ${maxSize} bytes; nothing was stored`);
    }
    let mail: ParsedMail;
    try {
      mail = await simpleParser(Buffer.concat(chunks, length), { skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true });
    } catch (err) {
      throw smtpError(554, `5.6.0 Message could not be parsed as MIME (${(err as Error).message}); nothing was stored`);
    }
    const body = mailToEventBody(mail, session);
    const id = newEventId();
    try {
      await q.publish({
        id,
        source: 'smtp',
        subject: body.to[0] ?? '',
        headers: { from: body.from ?? '', to: body.to.join(', '), messageId: body.messageId ?? '', subject: body.subject ?? '' },
        body: Buffer.from(JSON.stringify(body)),
      });
    } catch (err) {
      log.error({ err, queue: q.queue }, 'smtp: could not write an accepted mail to the queue');
      throw smtpError(451, '4.3.0 Temporary failure writing the message to the queue; try again later');
    }
    return id;
  }

  const source: SmtpSource = {
    ...q,
    address: () => bound,
    async start(ctx) {
      await q.start(ctx);
      const tls = m.tlsKey !== undefined ? { key: readFileSync(m.tlsKey), cert: readFileSync(m.tlsCert!) } : null;
      const srv = new SMTPServer({
        secure: false,
        ...(tls ?? {}),
        size: maxSize,
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
      await q.close();
    },
  };
  return source;
};
