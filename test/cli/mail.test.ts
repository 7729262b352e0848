import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { generateMail, parseRange, seededRng, sendBurst } from '../../src/cli/mail-burst.js';
import { runCli } from '../helpers/cli.js';

/** A real SMTP server on a free port; refuses mail whose subject matches `refuse`. */
async function smtpSink(refuse?: RegExp) {
  const mails: ParsedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, cb) {
      simpleParser(stream).then((m) => {
        if (refuse && refuse.test(m.subject ?? '')) return cb(Object.assign(new Error('5.7.1 refused by test'), { responseCode: 550 }));
        mails.push(m);
        cb();
      }, cb);
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.server.address() as AddressInfo).port;
  return { mails, server: `127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** The counting rule the mail-lines handler follows: lines of text attachments, a final "\n" ends the last line. */
function rowsOf(m: ParsedMail): number {
  let n = 0;
  for (const a of m.attachments) {
    if (!a.contentType.startsWith('text/')) continue;
    const text = a.content.toString('utf8');
    n += text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  }
  return n;
}

test('generateMail is deterministic per seed and its row count matches its text attachments', () => {
  const a = generateMail(0, seededRng(7), { lines: { min: 3, max: 9 } });
  const b = generateMail(0, seededRng(7), { lines: { min: 3, max: 9 } });
  assert.deepEqual(a, b);
  const rng = seededRng(3);
  for (let i = 0; i < 50; i++) {
    const m = generateMail(i, rng, { lines: { min: 1, max: 40 }, attachmentsPerMail: { min: 0, max: 4 } });
    let rows = 0;
    for (const att of m.attachments) {
      const text = att.content.toString('utf8');
      if (att.contentType.startsWith('text/')) {
        assert.ok(text.endsWith('\n') && !text.includes('\r') && !text.includes('\n\n'), `${att.filename}: lines end with \\n and none is empty`);
        assert.equal(text.split('\n').length - 1, att.rows);
        assert.ok(att.rows >= 1 && att.rows <= 40);
      } else assert.equal(att.rows, 0);
      rows += att.rows;
    }
    assert.equal(m.expectedRows, rows);
  }
});

test('parseRange accepts K and MIN-MAX and names the option otherwise', () => {
  assert.deepEqual(parseRange('3', '--x'), { min: 3, max: 3 });
  assert.deepEqual(parseRange('1-200', '--lines', 1), { min: 1, max: 200 });
  assert.throws(() => parseRange('5-2', '--lines'), /--lines: need/);
  assert.throws(() => parseRange('0', '--lines', 1), /--lines/);
  assert.throws(() => parseRange('a-b', '--attachments-per-mail'), /--attachments-per-mail: expected/);
});

test('sendBurst delivers every mail over SMTP with the promised rows', async () => {
  const s = await smtpSink();
  try {
    let progressCalls = 0;
    const r = await sendBurst({ server: s.server, count: 30, rate: 0, seed: 5, lines: { min: 1, max: 30 } }, () => progressCalls++);
    assert.equal(r.sent, 30);
    assert.equal(r.failed, 0);
    assert.equal(progressCalls, 30);
    assert.equal(s.mails.length, 30);
    const received = s.mails.reduce((n, m) => n + rowsOf(m), 0);
    assert.equal(received, r.expectedRows);
    assert.equal(r.rowsPerMail.reduce((a, b) => a + b, 0), r.expectedRows);
    assert.ok(s.mails.some((m) => m.attachments.some((a) => a.contentType === 'image/png')), 'some mails carry a binary attachment');
  } finally {
    await s.close();
  }
});

test('mail burst exits non-zero and reports refusals; mail send attaches files', async () => {
  const s = await smtpSink(/#(3|7)$/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-mail-'));
  try {
    const burst = await runCli(['mail', 'burst', '--count', '10', '--rate', '0', '--server', s.server, '--lines', '2-5']);
    assert.equal(burst.code, 1, burst.stderr);
    assert.match(burst.stdout, /8 sent, 2 failed/);
    assert.match(burst.stderr, /mail 3 refused: .*550/);
    assert.equal(s.mails.length, 8);

    const file = path.join(dir, 'lines.csv');
    fs.writeFileSync(file, 'a,b\n1,2\n');
    const send = await runCli(['mail', 'send', '--to', 'x@featherweight.test', '--subject', 'hi', '--attach', file, '--server', s.server]);
    assert.equal(send.code, 0, send.stderr);
    const m = s.mails.at(-1)!;
    assert.equal(m.subject, 'hi');
    assert.equal(m.attachments[0]!.filename, 'lines.csv');
    assert.equal(m.attachments[0]!.content.toString(), 'a,b\n1,2\n');

    const missing = await runCli(['mail', 'send', '--to', 'x@y', '--attach', path.join(dir, 'nope.txt'), '--server', s.server]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read attachment .*no such file/);
  } finally {
    await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
