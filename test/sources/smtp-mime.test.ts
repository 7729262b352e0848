import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BodyTooLarge, createMimeThread, MimeThreadFailed } from '../../src/sources/smtp-mime.js';

const mail = (i: number, lines = 3) => {
  const attachment = Array.from({ length: lines }, (_, k) => `mail ${i} line ${k}`).join('\r\n');
  return Buffer.from(
    `From: s${i}@example.test\r\nSubject: number ${i}\r\nMessage-ID: <m${i}@example.test>\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n` +
      `--b\r\nContent-Type: text/plain\r\n\r\nbody ${i}\r\n--b\r\nContent-Type: text/plain; name=f${i}.txt\r\nContent-Disposition: attachment; filename=f${i}.txt\r\n\r\n${attachment}\r\n--b--\r\n`,
  );
};
const envelope = (i: number) => ({ mailFrom: `s${i}@example.test`, rcptTo: [`r${i}@example.test`] });
const json = (b: { chunks: Buffer[] }) => JSON.parse(Buffer.concat(b.chunks).toString('utf8')) as { subject: string; text: string; attachments: Array<{ filename: string; content: string }> };

test('the MIME thread: mails of one turn go as one batch and each gets its own body back; refusals stay per mail', async () => {
  const mime = createMimeThread();
  try {
    // Forty in one turn (one batch), a spooled one and two refusals among them.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-mime-'));
    const spooled = path.join(dir, 'm.eml');
    fs.writeFileSync(spooled, mail(99));
    const jobs = Array.from({ length: 40 }, (_, i) => {
      const m = mail(i, i % 5 + 1);
      return mime.build({ length: m.length, chunks: [m.subarray(0, 10), m.subarray(10)] }, envelope(i), Number.POSITIVE_INFINITY);
    });
    const settled = <T>(p: Promise<T>) => p.then((v) => ({ v }), (e: Error) => ({ e }));
    const tooLarge = settled(mime.build({ length: mail(7).length, chunks: [mail(7)] }, envelope(7), 100));
    const fromFile = mime.build({ length: mail(99).length, file: spooled }, envelope(99), Number.POSITIVE_INFINITY);
    const missing = settled(mime.build({ length: 10, file: path.join(dir, 'gone.eml') }, envelope(0), Number.POSITIVE_INFINITY));
    const bodies = await Promise.all(jobs);
    bodies.forEach((b, i) => {
      assert.equal(b.subject, `number ${i}`);
      assert.equal(b.messageId, `<m${i}@example.test>`);
      const ev = json(b);
      assert.equal(ev.attachments.length, 1);
      assert.equal(ev.attachments[0]!.filename, `f${i}.txt`);
      assert.equal(Buffer.from(ev.attachments[0]!.content, 'base64').toString().split('\r\n').length, (i % 5) + 1);
    });
    const big = await tooLarge;
    assert.ok('e' in big && big.e instanceof BodyTooLarge, `too large: ${JSON.stringify(big)}`);
    assert.equal((await fromFile).subject, 'number 99');
    const gone = await missing;
    assert.ok('e' in gone && !(gone.e instanceof MimeThreadFailed) && /ENOENT|no such file/i.test(gone.e.message), `missing file: ${'e' in gone ? gone.e.message : 'resolved'}`);
    // and the thread still serves the next turn
    assert.equal((await mime.build({ length: mail(5).length, chunks: [mail(5)] }, envelope(5), Number.POSITIVE_INFINITY)).subject, 'number 5');
    fs.rmSync(dir, { recursive: true, force: true });
  } finally {
    await mime.close();
  }
});

test('the MIME thread: close() rejects the mails it holds, even those not posted yet, as a thread failure', async () => {
  const mime = createMimeThread();
  const held = Array.from({ length: 5 }, (_, i) => mime.build({ length: mail(i).length, chunks: [mail(i)] }, envelope(i), Number.POSITIVE_INFINITY).then(() => null, (e: Error) => e));
  await mime.close();
  for (const e of await Promise.all(held)) assert.ok(e instanceof MimeThreadFailed && /closed/.test(e.message), String(e));
});

test('the MIME thread: a reply that arrives while close() terminates the thread does not let the process exit under it', async () => {
  const mime = createMimeThread();
  const held = mime.build({ length: mail(1).length, chunks: [mail(1)] }, envelope(1), Number.POSITIVE_INFINITY).then(() => null, (e: Error) => e);
  await new Promise((r) => setImmediate(r)); // the request is posted
  // Busy here while the thread parses and answers: its reply waits in this thread's queue, and is
  // read only once close() has given the thread up and awaits its end.
  const until = Date.now() + 1500;
  while (Date.now() < until) {
    /* spin */
  }
  await mime.close();
  const e = await held;
  assert.ok(e instanceof MimeThreadFailed && /closed/.test(e.message), String(e));
});
