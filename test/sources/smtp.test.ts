import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import nodemailer from 'nodemailer';
import { create, eventBodyBound, rawMailType, type SmtpSource, type MailEventBody } from '../../src/sources/smtp.js';
import { PreparationError } from '../../src/core/errors.js';
import { openQueue } from '../../src/sources/embedded/index.js';

const quiet = { notify() {}, log: { info() {}, warn() {}, error() {} } };

async function startSmtp(t: { after(fn: () => Promise<void> | void): void }, md: Record<string, string> = {}, maxEventBytes?: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-smtp-'));
  const src = create({ listen: '127.0.0.1:0', ...md }, { component: 'mail', dataDir: dir, prefetch: 1000, ...(maxEventBytes ? { maxEventBytes } : {}) }) as SmtpSource;
  await src.start(quiet);
  t.after(async () => {
    await src.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { src, dir, port: src.address().port };
}

function transport(port: number, extra: Record<string, unknown> = {}) {
  return nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, ...extra } as never);
}

async function drain(src: SmtpSource, n: number): Promise<{ body: MailEventBody; headers: Record<string, string>; subject: string; source: string }[]> {
  const out = [];
  const sig = new AbortController().signal;
  for (let i = 0; i < n; i++) {
    const d = await src.next(sig);
    assert.ok(d);
    // What the dispatcher does before the guest: a mail stored as received is parsed here.
    const ev = await src.prepare!(d.event);
    out.push({ body: JSON.parse(Buffer.from(ev.body).toString()) as MailEventBody, headers: ev.headers, subject: ev.subject, source: ev.source });
    await d.ack();
  }
  return out;
}

test('200 mails with attachments over a pooled connection become 200 events with decoded content', async (t) => {
  const { src, port } = await startSmtp(t);
  const tx = transport(port, { pool: true, maxConnections: 4 });
  t.after(() => tx.close());
  const sends = [];
  for (let i = 0; i < 200; i++) {
    sends.push(
      tx.sendMail({
        from: 'sender@featherweight.test',
        to: `inbox${i}@featherweight.test`,
        subject: `report ${i}`,
        text: `body ${i}`,
        attachments: [
          { filename: `lines-${i}.txt`, content: Array.from({ length: 20 }, (_, l) => `mail ${i} line ${l}`).join('\n') },
          { filename: 'bin.dat', content: Buffer.from([0, 1, 2, 255, i % 256]) },
        ],
      }),
    );
  }
  const infos = await Promise.all(sends);
  for (const info of infos) assert.match(info.response, /^250 .*Queued as /);
  assert.equal((await src.lag()).lag, 200);
  const events = await drain(src, 200);
  const byIndex = new Map(events.map((e) => [Number(/report (\d+)/.exec(e.body.subject!)![1]), e]));
  assert.equal(byIndex.size, 200);
  for (const [i, e] of byIndex) {
    assert.equal(e.source, 'smtp');
    assert.equal(e.subject, `inbox${i}@featherweight.test`);
    assert.equal(e.headers.from, 'sender@featherweight.test');
    assert.equal(e.headers.subject, `report ${i}`);
    assert.equal(e.body.text!.trim(), `body ${i}`);
    assert.deepEqual(e.body.to, [`inbox${i}@featherweight.test`]);
    assert.ok(e.body.messageId);
    assert.equal(e.body.attachments.length, 2);
    const [txt, bin] = e.body.attachments;
    assert.equal(txt!.filename, `lines-${i}.txt`);
    assert.equal(txt!.contentType, 'text/plain');
    const lines = Buffer.from(txt!.content, 'base64').toString().split('\n');
    assert.equal(lines.length, 20);
    assert.equal(lines[19], `mail ${i} line 19`);
    assert.deepEqual([...Buffer.from(bin!.content, 'base64')], [0, 1, 2, 255, i % 256]);
    assert.equal(bin!.size, 5);
  }
  assert.equal((await src.lag()).lag, 0);
});

test('an oversize mail gets 552 and leaves nothing in the queue', async (t) => {
  const { src, port, dir } = await startSmtp(t, { maxSize: '10KiB' });
  const tx = transport(port);
  // nodemailer would stop at MAIL FROM SIZE=; a raw message without a declared size reaches DATA.
  await assert.rejects(
    tx.sendMail({ envelope: { from: 'a@x.test', to: ['b@x.test'] }, raw: `Subject: big\r\n\r\n${'x'.repeat(64 * 1024)}\r\n` }),
    (err: Error & { responseCode?: number }) => err.responseCode === 552 && /exceeds the limit of 10240 bytes/.test(err.message),
  );
  assert.equal((await src.lag()).lag, 0);
  const q = openQueue(dir);
  assert.deepEqual(q.stats('mail').map((s) => s.ready + s.delayed + s.inFlight), [0]);
  q.close();
  // The server still accepts a mail that fits.
  const ok = await tx.sendMail({ from: 'a@x.test', to: 'b@x.test', subject: 'small', text: 'fits' });
  assert.match(ok.response, /^250/);
  assert.equal((await src.lag()).lag, 1);
});

test('8-bit, base64 and quoted-printable parts decode correctly', async (t) => {
  const { src, port } = await startSmtp(t);
  const tx = transport(port);
  const umlauts = 'Grüße aus Köln – naïve café ✓';
  const raw = [
    'From: Sender <sender@x.test>',
    'To: r@x.test',
    'Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=',
    'Message-ID: <enc-1@x.test>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="BOUND"',
    '',
    '--BOUND',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    umlauts,
    '--BOUND',
    'Content-Type: text/plain; charset=utf-8; name="qp.txt"',
    'Content-Disposition: attachment; filename="qp.txt"',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'caf=C3=A9 =3D soft=',
    'break',
    '--BOUND',
    'Content-Type: application/octet-stream; name="b64.bin"',
    'Content-Disposition: attachment; filename="b64.bin"',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('base64 payload ✓\n').toString('base64'),
    '--BOUND--',
    '',
  ].join('\r\n');
  const info = await tx.sendMail({ envelope: { from: 'sender@x.test', to: ['r@x.test'] }, raw: Buffer.from(raw, 'utf8') });
  assert.match(info.response, /^250/);
  const [e] = await drain(src, 1);
  assert.equal(e!.body.subject, 'Grüße');
  assert.equal(e!.body.text!.trim(), umlauts);
  assert.equal(e!.body.messageId, '<enc-1@x.test>');
  const qp = e!.body.attachments.find((a) => a.filename === 'qp.txt')!;
  assert.equal(Buffer.from(qp.content, 'base64').toString(), 'café = softbreak');
  const b64 = e!.body.attachments.find((a) => a.filename === 'b64.bin')!;
  assert.equal(Buffer.from(b64.content, 'base64').toString(), 'base64 payload ✓\n');
});

test('malformed MIME never crashes the server: accepted as best parsed', async (t) => {
  const { src, port } = await startSmtp(t);
  const tx = transport(port);
  const bad = [
    'Subject: broken\r\nContent-Type: multipart/mixed; boundary="never-closed"\r\n\r\n--never-closed\r\nContent-Type: text/plain\r\n\r\nunterminated',
    'Content-Transfer-Encoding: base64\r\nContent-Type: text/plain\r\n\r\n!!!not base64@@@\r\n',
    'no headers at all, just text',
    'Content-Type: multipart/mixed\r\n\r\nmultipart without a boundary',
    '\x00\x01\x02 binary junk \xff\xfe',
  ];
  for (const raw of bad) {
    const info = await tx.sendMail({ envelope: { from: 'a@x.test', to: ['b@x.test'] }, raw: Buffer.from(raw, 'latin1') });
    assert.match(info.response, /^250/, `accepted: ${JSON.stringify(raw.slice(0, 30))}`);
  }
  const events = await drain(src, bad.length);
  assert.equal(events[0]!.body.subject, 'broken');
  assert.ok(events.every((e) => Array.isArray(e.body.attachments) && e.body.to[0] === 'b@x.test'));
  const after = await tx.sendMail({ from: 'a@x.test', to: 'b@x.test', subject: 'still alive', text: 'ok' });
  assert.match(after.response, /^250/);
});

test('a recipient outside allowRecipients gets 550 at RCPT', async (t) => {
  const { src, port } = await startSmtp(t, { allowRecipients: '*@featherweight.test, ops@*' });
  const tx = transport(port);
  await assert.rejects(
    tx.sendMail({ from: 'a@x.test', to: 'someone@elsewhere.test', subject: 's', text: 't' }),
    (err: Error & { responseCode?: number; rejected?: string[] }) => err.responseCode === 550 && /someone@elsewhere\.test is not accepted/.test(err.message),
  );
  const ok = await tx.sendMail({ from: 'a@x.test', to: ['x@featherweight.test', 'ops@any.test'], subject: 's', text: 't' });
  assert.deepEqual(ok.accepted, ['x@featherweight.test', 'ops@any.test']);
  const [e] = await drain(src, 1);
  assert.deepEqual(e!.body.to, ['x@featherweight.test', 'ops@any.test']);
  assert.equal(e!.headers.to, 'x@featherweight.test, ops@any.test');
});

test('AUTH is required when authUsers is set', async (t) => {
  const { src, port } = await startSmtp(t, { authUsers: 'alice:s3cret,bob:pw' });
  await assert.rejects(
    transport(port).sendMail({ from: 'a@x.test', to: 'b@x.test', subject: 's', text: 't' }),
    (err: Error & { responseCode?: number }) => err.responseCode === 530,
  );
  await assert.rejects(
    transport(port, { auth: { user: 'alice', pass: 'wrong' } }).sendMail({ from: 'a@x.test', to: 'b@x.test', subject: 's', text: 't' }),
    (err: Error & { responseCode?: number }) => err.responseCode === 535,
  );
  for (const method of ['PLAIN', 'LOGIN']) {
    const info = await transport(port, { auth: { user: 'alice', pass: 's3cret' }, authMethod: method }).sendMail({ from: 'a@x.test', to: 'b@x.test', subject: method, text: 't' });
    assert.match(info.response, /^250/);
  }
  assert.equal((await src.lag()).lag, 2);
});

test('metadata is validated with messages naming the key', () => {
  const opts = { component: 'm', dataDir: '/tmp/none', prefetch: 1 };
  assert.throws(() => create({ lisen: '1' }, opts), /lisen[\s\S]*allowed: .*listen/);
  assert.throws(() => create({ listen: 'localhost' }, opts), /listen: "localhost": use host:port/);
  assert.throws(() => create({ maxSize: 'huge' }, opts), /maxSize: invalid size/);
  assert.throws(() => create({ authUsers: 'nopassword' }, opts), /authUsers: "nopassword" is not user:password/);
  assert.throws(() => create({ tlsKey: '/k.pem' }, opts), /tlsKey and tlsCert go together/);
});

test('STARTTLS with tlsKey/tlsCert: AUTH only after the upgrade', async (t) => {
  const certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-smtp-tls-'));
  t.after(() => fs.rmSync(certDir, { recursive: true, force: true }));
  const key = path.join(certDir, 'key.pem');
  const cert = path.join(certDir, 'cert.pem');
  const { execFileSync } = await import('node:child_process');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  } catch {
    if (process.env.CI) throw new Error('openssl is needed to make a test certificate');
    t.skip('openssl not available to make a test certificate');
    return;
  }
  const { src, port } = await startSmtp(t, { tlsKey: key, tlsCert: cert, authUsers: 'alice:pw' });
  // Plain text AUTH is refused when TLS is configured.
  await assert.rejects(
    transport(port, { auth: { user: 'alice', pass: 'pw' } }).sendMail({ from: 'a@x.test', to: 'b@x.test', subject: 's', text: 't' }),
    (err: Error & { responseCode?: number }) => err.responseCode === 538 || /TLS|encrypt/i.test(err.message),
  );
  const tls = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: 'alice', pass: 'pw' } });
  const info = await tls.sendMail({ from: 'a@x.test', to: 'b@x.test', subject: 'over tls', text: 't' });
  assert.match(info.response, /^250/);
  const [e] = await drain(src, 1);
  assert.equal(e!.body.subject, 'over tls');
});

/** Opens a raw SMTP connection and resolves with its first reply line. */
function greet(port: number): Promise<{ socket: net.Socket; line: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString();
      const i = buf.indexOf('\r\n');
      if (i >= 0) resolve({ socket, line: buf.slice(0, i) });
    });
    socket.on('error', reject);
  });
}

test('maxClients: the connection past the cap gets 421, a freed slot is usable again', async (t) => {
  const { src, port } = await startSmtp(t, { maxClients: '2' });
  const a = await greet(port);
  const b = await greet(port);
  t.after(() => {
    a.socket.destroy();
    b.socket.destroy();
  });
  assert.match(a.line, /^220 /);
  assert.match(b.line, /^220 /);
  const c = await greet(port);
  c.socket.destroy();
  assert.match(c.line, /^421 .*Too many connected clients/);
  a.socket.destroy();
  // the server notices the close asynchronously: wait until a new client is greeted with 220
  let line = '';
  for (let i = 0; i < 100 && !line.startsWith('220'); i++) {
    const d = await greet(port);
    d.socket.destroy();
    line = d.line;
    if (!line.startsWith('220')) await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(line, /^220 /);
  assert.throws(() => create({ maxClients: 'lots' }, { component: 'x', dataDir: os.tmpdir(), prefetch: 1 }), /maxClients: "lots": use a whole number/);
  assert.equal((await src.lag()).lag, 0);
});

test('a mail whose event body is above the component maxStdin gets 552 at DATA; a smaller one is accepted; the spool is left empty', async (t) => {
  const { src, dir, port } = await startSmtp(t, {}, 4096);
  const tx = transport(port);
  t.after(() => tx.close());
  const big = tx.sendMail({ from: 'a@featherweight.test', to: 'b@featherweight.test', subject: 'big', attachments: [{ filename: 'big.txt', content: 'x'.repeat(8000) }] });
  await assert.rejects(big, (err: { responseCode?: number; response?: string }) =>
    err.responseCode === 552 && /larger than the 4096 bytes its handler accepts \(limits\.maxStdin of component mail\)/.test(err.response ?? ''));
  assert.equal((await src.lag()).lag, 0, 'nothing queued');
  const ok = await tx.sendMail({ from: 'a@featherweight.test', to: 'b@featherweight.test', subject: 'small', attachments: [{ filename: 'small.txt', content: 'hello' }] });
  assert.match(ok.response, /^250 /);
  const [e] = await drain(src, 1);
  assert.equal(Buffer.from(e!.body.attachments[0]!.content, 'base64').toString(), 'hello');
  const spoolDir = path.join(dir, 'smtp-spool');
  assert.deepEqual(fs.existsSync(spoolDir) ? fs.readdirSync(spoolDir) : [], [], 'spooled files are removed');
});

test('text attachments in a declared charset arrive as UTF-8 (latin-1 café, koi8-r, shift_jis); undeclared bytes pass through', async (t) => {
  const { src, port } = await startSmtp(t);
  const tx = transport(port);
  t.after(() => tx.close());
  await tx.sendMail({
    from: 'a@featherweight.test',
    to: 'b@featherweight.test',
    subject: 'charsets',
    attachments: [
      { filename: 'latin1.txt', content: Buffer.from('café\r\nnaïve\n', 'latin1'), contentType: 'text/plain; charset=iso-8859-1' },
      { filename: 'ru.txt', content: Buffer.from([0xd0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4]), contentType: 'text/plain; charset=koi8-r' },
      { filename: 'jp.txt', content: Buffer.from([0x93, 0xfa, 0x96, 0x7b]), contentType: 'text/plain; charset=shift_jis' },
      { filename: 'raw.txt', content: Buffer.from([0x63, 0x61, 0x66, 0xe9]), contentType: 'text/plain' },
      { filename: 'odd.txt', content: Buffer.from('plain'), contentType: 'text/plain; charset=x-no-such-charset' },
    ],
  });
  const [e] = await drain(src, 1);
  const [l1, ru, jp, raw, odd] = e!.body.attachments;
  assert.equal(Buffer.from(l1!.content, 'base64').toString('utf8'), 'café\r\nnaïve\n');
  assert.equal(l1!.charset, 'utf-8');
  assert.equal(l1!.declaredCharset, 'iso-8859-1');
  assert.equal(l1!.size, Buffer.byteLength('café\r\nnaïve\n'));
  assert.equal(Buffer.from(ru!.content, 'base64').toString('utf8'), 'привет');
  assert.equal(Buffer.from(jp!.content, 'base64').toString('utf8'), '日本');
  assert.deepEqual([...Buffer.from(raw!.content, 'base64')], [0x63, 0x61, 0x66, 0xe9], 'no charset declared: bytes as sent');
  assert.equal(raw!.charset, undefined);
  assert.equal(Buffer.from(odd!.content, 'base64').toString(), 'plain');
  assert.equal(odd!.charset, 'x-no-such-charset', 'an unknown label is kept, the bytes pass through');
});

test('12 parallel 1 MiB mails wait their turn in the spool and are all accepted whole', async (t) => {
  const { src, dir, port } = await startSmtp(t);
  const tx = transport(port, { pool: true, maxConnections: 12 });
  t.after(() => tx.close());
  const content = Buffer.alloc(1024 * 1024, 'line of text\n');
  const infos = await Promise.all(
    Array.from({ length: 12 }, (_, i) => tx.sendMail({ from: 'a@featherweight.test', to: 'b@featherweight.test', subject: `p${i}`, attachments: [{ filename: `p${i}.txt`, content }] })),
  );
  for (const info of infos) assert.match(info.response, /^250 /);
  const events = await drain(src, 12);
  for (const e of events) assert.ok(Buffer.from(e.body.attachments[0]!.content, 'base64').equals(content));
  // Past 256 KiB a mail goes through a spool file; each is removed once its event is committed.
  assert.ok(fs.existsSync(path.join(dir, 'smtp-spool')), 'large mails were spooled');
  assert.deepEqual(fs.readdirSync(path.join(dir, 'smtp-spool')), []);
});

test('a small mail is committed as received and parsed when it is delivered; a large one or one near maxStdin is parsed before 250', async (t) => {
  const { src, port } = await startSmtp(t, {}, 64 * 1024);
  const tx = transport(port);
  t.after(() => tx.close());
  const sig = new AbortController().signal;
  await tx.sendMail({ from: 'Ann <ann@featherweight.test>', to: 'b@featherweight.test, c@featherweight.test', subject: 'raw', text: 'hi', attachments: [{ filename: 'a.txt', content: 'one\ntwo' }] });
  const d = (await src.next(sig))!;
  assert.equal(d.event.headers['content-type'], rawMailType, 'stored as the mail it was');
  assert.deepEqual(JSON.parse(d.event.headers.envelope!), { mailFrom: 'ann@featherweight.test', rcptTo: ['b@featherweight.test', 'c@featherweight.test'] });
  assert.match(Buffer.from(d.event.body).toString(), /^[\s\S]*Subject: raw\r\n[\s\S]*--[\s\S]*/);
  assert.equal(d.event.subject, 'b@featherweight.test');
  const ev = await src.prepare!(d.event);
  assert.equal(ev.id, d.event.id);
  assert.deepEqual(ev.headers, { from: 'ann@featherweight.test', to: 'b@featherweight.test, c@featherweight.test', messageId: ev.headers.messageId, subject: 'raw' });
  assert.match(ev.headers.messageId!, /^<.+@.+>$/);
  const body = JSON.parse(Buffer.from(ev.body).toString()) as MailEventBody;
  assert.deepEqual([body.subject, body.text?.trim(), body.to], ['raw', 'hi', ['b@featherweight.test', 'c@featherweight.test']]);
  assert.equal(Buffer.from(body.attachments[0]!.content, 'base64').toString(), 'one\ntwo');
  await d.ack();
  // 5 KB of text: its event could pass 64 KiB only by the bound, so it is parsed before the 250.
  const near = 'z'.repeat(5000);
  assert.ok(eventBodyBound(near.length, { mailFrom: 'a', rcptTo: ['b'] }) > 64 * 1024);
  await tx.sendMail({ from: 'a@featherweight.test', to: 'b@featherweight.test', subject: 'near', attachments: [{ filename: 'n.txt', content: near }] });
  const d2 = (await src.next(sig))!;
  assert.equal(d2.event.headers['content-type'], undefined, 'already the mail event');
  assert.equal(await src.prepare!(d2.event), d2.event, 'prepare passes a parsed event through');
  assert.equal(JSON.parse(Buffer.from(d2.event.body).toString()).subject, 'near');
  await d2.ack();
});

test('prepare() refuses for good a stored mail without its envelope or above maxStdin once parsed; other events pass through', async (t) => {
  const { src } = await startSmtp(t, {}, 4096);
  const mail = (extra: string) => Buffer.from(`From: a@x.test\r\nTo: b@x.test\r\nSubject: s\r\nContent-Type: text/plain\r\n\r\nhello ${extra}\r\n`);
  const base = { id: 'm1', source: 'smtp', subject: 'b@x.test', attempt: 1, enqueuedAt: Date.now() };
  const envelope = JSON.stringify({ mailFrom: 'a@x.test', rcptTo: ['b@x.test'] });
  await assert.rejects(src.prepare!({ ...base, headers: { 'content-type': rawMailType, envelope: '{"rcptTo": 3}' }, body: mail('') }), (err: unknown) =>
    err instanceof PreparationError && err.failure.kind === 'input' && /stored mail m1 has no usable envelope header/.test(err.message));
  await assert.rejects(src.prepare!({ ...base, headers: { 'content-type': rawMailType, envelope }, body: mail('\u0001'.repeat(1000)) }), (err: unknown) =>
    err instanceof PreparationError && err.failure.kind === 'input-limit' && /mail m1 becomes an event larger than the 4096 bytes its handler accepts \(limits\.maxStdin of component mail\)/.test(err.message));
  const ok = await src.prepare!({ ...base, headers: { 'content-type': rawMailType, envelope }, body: mail('there') });
  assert.equal(JSON.parse(Buffer.from(ok.body).toString()).text.trim(), 'hello there');
  const other = { ...base, headers: { from: 'x' }, body: Buffer.from('{"sent":"by queue send"}') };
  assert.equal(await src.prepare!(other), other);
});

test('a mail that cannot be spooled gets 451 after its DATA is read, stores nothing, and the next mails are accepted', async (t) => {
  const { src, dir, port } = await startSmtp(t);
  // The spool directory's path taken by a file: a mail past 256 KiB cannot be written there.
  fs.writeFileSync(path.join(dir, 'smtp-spool'), 'not a directory');
  const tx = transport(port);
  t.after(() => tx.close());
  const big = Buffer.alloc(512 * 1024, 'line of text\n');
  await assert.rejects(
    tx.sendMail({ from: 'a@featherweight.test', to: 'b@featherweight.test', subject: 'big', attachments: [{ filename: 'big.txt', content: big }] }),
    (err: Error & { responseCode?: number }) => err.responseCode === 451 && /Temporary failure storing the message/.test(err.message),
  );
  assert.equal((await src.lag()).lag, 0, 'nothing was queued for the refused mail');
  // The same connection's next mail, and a small one on it, go through.
  const info = await tx.sendMail({ from: 'a@featherweight.test', to: 'b@featherweight.test', subject: 'small', text: 'fits in memory' });
  assert.match(info.response, /^250 /);
  const [e] = await drain(src, 1);
  assert.equal(e!.body.subject, 'small');
});
