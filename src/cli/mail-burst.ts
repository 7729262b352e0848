import nodemailer from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { parseHostPort, type HostPort } from '../core/address.js';

/**
 * Mail generation and sending for `featherweight mail` and `featherweight demo`. Mails are generated
 * from a seeded PRNG, so the same seed gives the same burst, and every mail says how many rows the
 * mail-lines handler must write for it: one per line of each text attachment.
 *
 * Line rules the row count relies on: every text attachment ends with "\n", no line is empty, no
 * line holds "\r", and attachments go out base64-encoded so the bytes arrive exactly as generated.
 * Binary attachments (a small PNG now and then) produce no rows.
 */

export type Rng = () => number;

/** mulberry32: small, fast, good enough for test data; never for anything secret. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Range { min: number; max: number }

/** "5" -> {5,5}; "1-200" -> {1,200}; rejects anything else with a message naming the option. */
export function parseRange(text: string, what: string, floor = 0): Range {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+))?\s*$/.exec(text);
  if (!m) throw new Error(`${what}: expected a number or MIN-MAX (e.g. 1-200), got ${JSON.stringify(text)}`);
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : Number(m[2]);
  if (min < floor || max < min) throw new Error(`${what}: need ${floor} <= MIN <= MAX, got ${JSON.stringify(text)}`);
  return { min, max };
}

export interface MailAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
  /** Rows the mail-lines handler writes for it (0 for binary attachments). */
  rows: number;
}

export interface GeneratedMail {
  from: string;
  to: string;
  subject: string;
  text: string;
  attachments: MailAttachment[];
  /** Sum of the attachments' rows: exactly what the sink should hold for this mail. */
  expectedRows: number;
}

export interface GenerateOptions {
  to?: string;
  from?: string;
  /** Text attachments per mail (default 1-3). */
  attachmentsPerMail?: Range;
  /** Lines per text attachment (default 1-120). */
  lines?: Range;
  /** Share of mails that also carry a binary attachment, which yields no rows (default 0.125). */
  binaryShare?: number;
}

export const defaultTo = 'inbox@featherweight.test';
export const defaultFrom = 'sender@featherweight.test';

const words = [
  'invoice', 'shipment', 'order', 'Zürich', 'café', 'delta', 'pallet', 'backlog', 'replica', 'queue', 'kernel', 'wasm',
  'latency', 'North', 'South', 'east', 'west', 'receipt', 'naïve', 'budget', 'review', 'deadline', 'meeting', 'server',
  'Grüße', 'lorem', 'ipsum', 'dolor', 'amet', 'alpha', 'beta', 'gamma', 'report', 'draft', 'final', 'urgent', 'done',
];
const subjects = ['Weekly report', 'Invoice attached', 'Server logs', 'Inventory export', 'Meeting notes', 'Re: numbers', 'Fwd: data dump', 'Q3 figures'];
const levels = ['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'];
const cities = ['Berlin', 'Lisbon', 'Osaka', 'Austin', 'Nairobi', 'Lima', 'Oslo', 'Perth'];

const int = (rng: Rng, r: Range) => r.min + Math.floor(rng() * (r.max - r.min + 1));
const pick = <T>(rng: Rng, xs: readonly T[]) => xs[Math.floor(rng() * xs.length)]!;

function sentence(rng: Rng): string {
  // Line lengths vary from a few characters to a few hundred.
  const n = rng() < 0.1 ? 20 + Math.floor(rng() * 40) : 2 + Math.floor(rng() * 12);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(pick(rng, words));
  const s = out.join(' ');
  return s[0]!.toUpperCase() + s.slice(1) + '.';
}

function textAttachment(i: number, j: number, rng: Rng, lines: Range): MailAttachment {
  const n = int(rng, lines);
  const kind = Math.floor(rng() * 3);
  const out: string[] = [];
  let filename: string;
  let contentType: string;
  if (kind === 0) {
    filename = `notes-${i}-${j}.txt`;
    contentType = 'text/plain';
    for (let k = 0; k < n; k++) out.push(sentence(rng));
  } else if (kind === 1) {
    filename = `export-${i}-${j}.csv`;
    contentType = 'text/csv';
    out.push('id,city,amount,status');
    for (let k = 1; k < n; k++) out.push(`${k},${pick(rng, cities)},${(rng() * 10_000).toFixed(2)},${pick(rng, ['open', 'paid', 'late'])}`);
  } else {
    filename = `server-${i}-${j}.log`;
    contentType = 'text/plain';
    const base = Date.UTC(2026, 0, 1) + i * 60_000;
    for (let k = 0; k < n; k++) {
      out.push(`${new Date(base + k * 137).toISOString()} ${pick(rng, levels)} worker-${k % 8} ${sentence(rng)}`);
    }
  }
  return { filename, contentType, content: Buffer.from(out.join('\n') + '\n', 'utf8'), rows: n };
}

function binaryAttachment(i: number, rng: Rng): MailAttachment {
  // A PNG signature and random bytes: the handler must count it and skip it.
  const body = Buffer.alloc(64 + Math.floor(rng() * 4096));
  for (let k = 0; k < body.length; k++) body[k] = Math.floor(rng() * 256);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(body);
  return { filename: `photo-${i}.png`, contentType: 'image/png', content: body, rows: 0 };
}

/** Mail number `i` of a burst; consumes `rng`, so generate mails in order from one rng. */
export function generateMail(i: number, rng: Rng, opts: GenerateOptions = {}): GeneratedMail {
  const per = opts.attachmentsPerMail ?? { min: 1, max: 3 };
  const lines = opts.lines ?? { min: 1, max: 120 };
  const attachments: MailAttachment[] = [];
  const k = int(rng, per);
  for (let j = 0; j < k; j++) attachments.push(textAttachment(i, j, rng, lines));
  if (rng() < (opts.binaryShare ?? 0.125)) attachments.push(binaryAttachment(i, rng));
  return {
    from: opts.from ?? defaultFrom,
    to: opts.to ?? defaultTo,
    subject: `${pick(rng, subjects)} #${i + 1}`,
    text: `Mail ${i + 1} of a featherweight burst, with ${attachments.length} attachment${attachments.length === 1 ? '' : 's'}.`,
    attachments,
    expectedRows: attachments.reduce((s, a) => s + a.rows, 0),
  };
}

export interface SmtpOptions {
  /** host:port (default 127.0.0.1:2525). */
  server?: string;
  user?: string;
  pass?: string;
  /** Require STARTTLS (the certificate is not verified on loopback test servers when insecure is set). */
  starttls?: boolean;
  /** Accept a self-signed certificate. */
  insecure?: boolean;
}

export function parseServer(server = '127.0.0.1:2525'): HostPort {
  const a = parseHostPort(server, { minPort: 1 });
  if (!a) throw new Error(`--server ${JSON.stringify(server)}: use host:port, e.g. 127.0.0.1:2525`);
  return a;
}

/** A nodemailer SMTP transport; pooled when `connections` > 1. */
export function createSmtpTransport(o: SmtpOptions & { connections?: number }) {
  if ((o.user === undefined) !== (o.pass === undefined)) throw new Error('--user and --pass go together');
  const { host, port } = parseServer(o.server);
  const options: SMTPTransport.Options & { pool?: boolean; maxConnections?: number; maxMessages?: number } = {
    host,
    port,
    secure: false,
    ignoreTLS: !o.starttls,
    requireTLS: !!o.starttls,
    ...(o.insecure ? { tls: { rejectUnauthorized: false } } : {}),
    ...(o.user !== undefined ? { auth: { user: o.user, pass: o.pass! } } : {}),
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  };
  if ((o.connections ?? 1) > 1) Object.assign(options, { pool: true, maxConnections: o.connections, maxMessages: Infinity });
  return nodemailer.createTransport(options);
}

/** The nodemailer message of a generated mail (attachments base64 so their bytes arrive unchanged). */
export function toMessage(m: GeneratedMail) {
  return {
    from: m.from,
    to: m.to,
    subject: m.subject,
    text: m.text,
    attachments: m.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content, contentTransferEncoding: 'base64' as const })),
  };
}

export interface BurstOptions extends SmtpOptions, GenerateOptions {
  count: number;
  /** Mails per second; 0 or Infinity sends as fast as the connections allow. */
  rate: number;
  seed?: number;
  /** Parallel SMTP connections (default 4). */
  connections?: number;
}

export interface BurstProgress {
  sent: number;
  failed: number;
  /** Rows the accepted mails should produce. */
  expectedRows: number;
  elapsedMs: number;
}

export interface BurstResult extends BurstProgress {
  count: number;
  /** Expected rows of every mail, by index (also for refused ones). */
  rowsPerMail: number[];
  failures: Array<{ index: number; error: string }>;
  /** Accepted mails per second over the whole burst. */
  sentPerSecond: number;
}

/**
 * Generates `count` mails and sends them over SMTP at `rate` mails/s. Never throws for a refused
 * mail: it is counted in `failed` with the server's answer (callers decide the exit code).
 */
export async function sendBurst(opts: BurstOptions, onProgress?: (p: BurstProgress) => void): Promise<BurstResult> {
  if (!Number.isInteger(opts.count) || opts.count < 0) throw new Error(`--count must be a whole number >= 0, got ${opts.count}`);
  if (!(opts.rate >= 0)) throw new Error(`--rate must be a number >= 0 (0 = as fast as possible), got ${opts.rate}`);
  const connections = Math.max(1, opts.connections ?? 4);
  const rng = seededRng(opts.seed ?? 1);
  const mails = Array.from({ length: opts.count }, (_, i) => generateMail(i, rng, opts));
  const transport = createSmtpTransport({ ...opts, connections });
  const start = performance.now();
  const p: BurstProgress = { sent: 0, failed: 0, expectedRows: 0, elapsedMs: 0 };
  const failures: BurstResult['failures'] = [];
  const interval = opts.rate > 0 && Number.isFinite(opts.rate) ? 1000 / opts.rate : 0;
  let next = 0;

  async function worker() {
    for (;;) {
      const i = next++;
      if (i >= mails.length) return;
      if (interval > 0) {
        const due = start + i * interval;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      try {
        await transport.sendMail(toMessage(mails[i]!));
        p.sent++;
        p.expectedRows += mails[i]!.expectedRows;
      } catch (err) {
        p.failed++;
        failures.push({ index: i, error: (err as Error).message });
      }
      p.elapsedMs = performance.now() - start;
      onProgress?.({ ...p });
    }
  }

  try {
    await Promise.all(Array.from({ length: Math.min(connections, Math.max(1, mails.length)) }, worker));
  } finally {
    transport.close();
  }
  p.elapsedMs = performance.now() - start;
  return {
    ...p,
    count: opts.count,
    rowsPerMail: mails.map((m) => m.expectedRows),
    failures: failures.sort((a, b) => a.index - b.index),
    sentPerSecond: p.elapsedMs > 0 ? (p.sent * 1000) / p.elapsedMs : 0,
  };
}
