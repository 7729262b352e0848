import { createReadStream } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { MailParser, type AddressObject, type AttachmentStream, type MailParserOptions, type MessageText } from 'mailparser';

/**
 * MIME → the mail event's JSON body, on a thread of its own (decision 233). mailparser costs about
 * ten times what smtp-server itself spends on a small mail; on the main thread it capped SMTP
 * intake at a third of a bare smtp-server and competed with the dispatcher and the sinks. The SMTP
 * source posts a mail here (its bytes, or its spool file when large) either before its 250, when
 * the event might not fit maxStdin (552 then, 554 when it is not MIME), or, for a small mail stored
 * as received, when the event is delivered (its prepare(), decision 250).
 */

/** A mail's DATA: in memory when small, else the spool file it was written to. */
export type Spooled = { length: number } & ({ chunks: Buffer[]; file?: undefined } | { file: string; chunks?: undefined });

/** The SMTP envelope, as the event body shows it. */
export interface Envelope {
  mailFrom: string;
  rcptTo: string[];
}

function firstAddress(a: AddressObject | AddressObject[] | undefined): string | null {
  const o = Array.isArray(a) ? a[0] : a;
  return o?.value?.[0]?.address ?? null;
}

const utf8Labels = new Set(['utf8', 'usascii', 'ascii']);

/**
 * A streaming decoder from `charset` to UTF-8 bytes, or null when the content is UTF-8 already or
 * the label is unknown (then the bytes go through as they are and the guest sees U+FFFD for what
 * is not UTF-8). WHATWG labels, as TextDecoder knows them: iso-8859-1 is read as windows-1252.
 */
function charsetDecoder(charset: string | undefined): ((chunk: Buffer | null) => Buffer) | null {
  if (!charset || utf8Labels.has(charset.toLowerCase().replace(/[^a-z0-9]/g, ''))) return null;
  let d: TextDecoder;
  try {
    d = new TextDecoder(charset);
  } catch {
    return null;
  }
  return (chunk) => Buffer.from(chunk ? d.decode(chunk, { stream: true }) : d.decode(), 'utf8');
}

export class BodyTooLarge extends Error {}

/**
 * The event body JSON as chunks, written as the parser goes: header fields, then each attachment
 * base64-encoded as its content streams in, then the text (mailparser emits it last). Throws
 * BodyTooLarge as soon as the body passes `max`, so a mail that cannot run is never held whole.
 */
export interface BuiltBody {
  chunks: Buffer[];
  /** For the event headers. */
  from: string | null;
  messageId: string | null;
  subject: string | null;
}


export async function buildEventBody(mail: Spooled, envelope: Envelope, max: number): Promise<BuiltBody> {
  // checksumAlgo false: no MD5 of each attachment, which the event does not carry (@types/mailparser
  // predates the option).
  const parser = new MailParser({ skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true, skipImageLinks: true, checksumAlgo: false } as MailParserOptions);
  const chunks: Buffer[] = [];
  let length = 0;
  const put = (b: Buffer | string) => {
    const buf = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
    length += buf.length;
    if (length > max) throw new BodyTooLarge(`${length}`);
    chunks.push(buf);
  };
  const json = (v: unknown) => JSON.stringify(v);
  let opened = false;
  const meta: Omit<BuiltBody, 'chunks'> = { from: null, messageId: null, subject: null };
  const open = () => {
    if (opened) return;
    opened = true;
    const envelopeFrom = envelope.mailFrom;
    // mailparser sets these from the top-level headers before it emits any part
    const p = parser as unknown as { messageId?: string; from?: AddressObject; subject?: string; date?: Date };
    meta.from = firstAddress(p.from) ?? (envelopeFrom || null);
    meta.messageId = p.messageId ?? null;
    meta.subject = p.subject ?? null;
    put(
      `{"messageId":${json(meta.messageId)},"from":${json(meta.from)},` +
        `"to":${json(envelope.rcptTo)},"subject":${json(meta.subject)},` +
        `"date":${json(p.date && !Number.isNaN(p.date.getTime()) ? p.date.toISOString() : null)},"attachments":[`,
    );
  };
  const input = mail.file !== undefined ? createReadStream(mail.file) : null;
  if (input) {
    input.on('error', (err) => parser.destroy(err));
    input.pipe(parser);
  } else {
    for (const c of mail.chunks!) parser.write(c);
    parser.end();
  }
  let text: string | null = null;
  let first = true;
  // Events, not `for await`: an async iterator per mail and per attachment (each with its
  // end-of-stream plumbing) was a tenth of this thread's time on a small mail.
  try {
    return await new Promise<BuiltBody>((resolve, reject) => {
      let settled = false;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        reject(err);
      };
      const guard = (f: () => void) => {
        if (settled) return;
        try {
          f();
        } catch (err) {
          fail(err);
        }
      };
      parser.on('error', fail);
      parser.on('data', (data: AttachmentStream | MessageText) =>
        guard(() => {
          if (data.type === 'text') {
            text = data.text ?? null;
            return;
          }
          open();
          const params = (data.headers.get('content-type') as { params?: Record<string, string> } | undefined)?.params;
          const declared = params?.charset;
          const decode = charsetDecoder(declared);
          put(`${first ? '' : ','}{"filename":${json(data.filename ?? null)},"contentType":${json(data.contentType)},"content":"`);
          first = false;
          let size = 0;
          let carry: Buffer | null = null; // base64 goes in groups of 3 bytes
          const encode = (bytes: Buffer) => {
            size += bytes.length;
            const all = carry ? Buffer.concat([carry, bytes]) : bytes;
            const whole = all.length - (all.length % 3);
            if (whole > 0) put(all.subarray(0, whole).toString('base64'));
            carry = whole < all.length ? Buffer.from(all.subarray(whole)) : null;
          };
          const content = data.content as NodeJS.ReadableStream;
          content.on('error', fail);
          content.on('data', (chunk: Buffer) => guard(() => encode(decode ? decode(chunk) : chunk)));
          content.on('end', () =>
            guard(() => {
              if (decode) encode(decode(null));
              if (carry) put(carry.toString('base64'));
              const charset = decode ? ',"charset":"utf-8","declaredCharset":' + json(declared) : declared ? ',"charset":' + json(declared) : '';
              put(`","size":${size}${charset}}`);
              data.release?.();
            }),
          );
        }),
      );
      parser.on('end', () =>
        guard(() => {
          open();
          put(`],"text":${json(text)}}`);
          settled = true;
          resolve({ chunks, ...meta });
        }),
      );
    });
  } finally {
    input?.destroy();
    parser.destroy();
  }
}


type Request = { id: number; mail: { length: number; bytes?: Uint8Array; file?: string }; envelope: Envelope; max: number };
type Reply =
  | { id: number; ok: true; body: Uint8Array; from: string | null; messageId: string | null; subject: string | null }
  | { id: number; ok: false; tooLarge: boolean; message: string };

/**
 * Requests and replies travel in batches: those of one event-loop turn in one message, their bytes
 * transferred. A burst delivers some six mails per turn, and a message to a thread that sleeps is
 * a wake-up on each side; one per mail cost more main-thread time than the queue commit.
 */
function turnBatcher<T>(post: (items: T[], transfer: ArrayBuffer[]) => void): (item: T, transfer?: ArrayBuffer) => void {
  let box: { items: T[]; transfer: ArrayBuffer[] } | null = null;
  return (item, transfer) => {
    if (!box) {
      const b = (box = { items: [], transfer: [] });
      setImmediate(() => {
        box = null;
        post(b.items, b.transfer);
      });
    }
    box.items.push(item);
    if (transfer) box.transfer.push(transfer);
  };
}

export interface MimeThread {
  /** The event body of one mail; rejects with BodyTooLarge, or an Error when it is not MIME or the thread failed. */
  build(mail: Spooled, envelope: Envelope, max: number): Promise<BuiltBody>;
  /**
   * Starts the thread and has it parse one small mail, so the first real mail does not wait for the
   * thread, mailparser's loading and its first compile (~50 ms here). A failure is left to the next build().
   */
  warm(): void;
  close(): Promise<void>;
}

/** Thrown when the parser thread itself failed (not the mail): the caller answers 451, the client retries. */
export class MimeThreadFailed extends Error {}

const fromSource = import.meta.url.endsWith('.ts');

/** One parser thread, started at the first mail; restarted at the next mail after it failed. */
export function createMimeThread(): MimeThread {
  let worker: Worker | null = null;
  let nextId = 1;
  const pending = new Map<number, { resolve: (b: BuiltBody) => void; reject: (e: Error) => void }>();
  // The requests of one turn, for the thread that is current when they are queued.
  let send: (req: Request, transfer?: ArrayBuffer) => void = () => {};
  const failAll = (why: string) => {
    for (const p of pending.values()) p.reject(new MimeThreadFailed(why));
    pending.clear();
    worker = null;
  };
  const start = (): Worker => {
    // Under tsx (tests) the entry is this .ts file and the thread must register tsx first.
    const self = new URL(import.meta.url).href;
    const script = fromSource
      ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(self)}); });`
      : `import(${JSON.stringify(self)});`;
    const w = new Worker(script, { eval: true, workerData: { fwMimeThread: true } });
    w.unref();
    w.on('message', (replies: Reply[]) => {
      // A reply that comes after close() (or after the thread was given up) settles nothing, and must
      // not unref a thread whose terminate() is being awaited: the process would exit under it.
      if (worker !== w) return;
      for (const r of replies) {
        const p = pending.get(r.id);
        if (!p) continue;
        pending.delete(r.id);
        if (r.ok) p.resolve({ chunks: [Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength)], from: r.from, messageId: r.messageId, subject: r.subject });
        else p.reject(r.tooLarge ? new BodyTooLarge(r.message) : new Error(r.message));
      }
      if (pending.size === 0) w.unref();
    });
    w.on('error', (err) => {
      if (worker === w) failAll(`the MIME parser thread failed: ${err.message}`);
    });
    w.on('exit', (code) => {
      if (worker === w) failAll(`the MIME parser thread exited with code ${code}`);
    });
    return w;
  };
  const self: MimeThread = {
    warm() {
      const sample = Buffer.from('From: a@warm.invalid\r\nSubject: warm\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: text/plain; name=a.txt\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nline\r\n--b--\r\n');
      self.build({ length: sample.length, chunks: [sample] }, { mailFrom: '', rcptTo: [] }, Number.POSITIVE_INFINITY).catch(() => {});
    },
    build(mail, envelope, max) {
      if (!worker) {
        const w = (worker = start());
        // A thread that failed before the post took these with it: failAll rejected them already.
        send = turnBatcher((reqs, transfer) => {
          if (worker === w) w.postMessage(reqs, transfer);
        });
      }
      const w = worker;
      const id = nextId++;
      // An ArrayBuffer of its own, to be transferred (small Buffers share an 8 KiB slab, which would be cloned whole).
      const bytes = mail.chunks ? own(mail.chunks) : undefined;
      const req: Request = { id, mail: { length: mail.length, ...(bytes ? { bytes } : { file: mail.file! }) }, envelope, max };
      return new Promise<BuiltBody>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        w.ref(); // a mail in the parser keeps the process alive until its reply
        send(req, bytes?.buffer);
      });
    },
    async close() {
      const w = worker;
      worker = null;
      failAll('the SMTP trigger closed');
      if (w) await w.terminate();
    },
  };
  return self;
}

/** The chunks as one Uint8Array over an ArrayBuffer of its own. */
function own(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

// The thread's side: parse each request as it comes (several may interleave: each streams).
if (!isMainThread && (workerData as { fwMimeThread?: boolean } | null)?.fwMimeThread) {
  const reply = turnBatcher<Reply>((replies, transfer) => parentPort!.postMessage(replies, transfer));
  parentPort!.on('message', (reqs: Request[]) => {
    for (const req of reqs) {
      const mail: Spooled = req.mail.file !== undefined ? { length: req.mail.length, file: req.mail.file } : { length: req.mail.length, chunks: [Buffer.from(req.mail.bytes!.buffer, req.mail.bytes!.byteOffset, req.mail.bytes!.byteLength)] };
      buildEventBody(mail, req.envelope, req.max).then(
        (b) => {
          const body = own(b.chunks);
          reply({ id: req.id, ok: true, body, from: b.from, messageId: b.messageId, subject: b.subject }, body.buffer);
        },
        (err: Error) => reply({ id: req.id, ok: false, tooLarge: err instanceof BodyTooLarge, message: err.message }),
      );
    }
  });
}
