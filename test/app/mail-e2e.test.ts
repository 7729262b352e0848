// The flagship path end to end through the real smtp source and the mail-lines guest: charsets become
// UTF-8 rows, lone CRs end lines, and a mail its handler cannot take is refused at DATA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import nodemailer from 'nodemailer';
import { startUp } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { guest, oneComponent, tempDir, waitUntil, withApp } from './helpers.js';
import type { SmtpSource } from '../../src/sources/smtp.js';

/** The mail demo's component c1 in-process: the smtp trigger on a free port, mail-lines, maxStdin 64 KiB. */
const mailLinesApp = (dir: string) =>
  oneComponent(dir, {
    module: guest('mail-lines'),
    limits: { maxMemory: '16MiB', maxStdin: '64KiB', timeout: '10s' },
    trigger: { type: 'smtp', metadata: { listen: '127.0.0.1:0' } },
  });

test('smtp -> mail-lines -> sqlite: latin-1 café and CR-only lines arrive as UTF-8 rows; an event above maxStdin gets 552', async () => {
  const dir = tempDir();
  const manifest = mailLinesApp(dir);
  await withApp(manifest, async (app) => {
    const c = app.components.get('c1')!;
    const port = (c.source as SmtpSource).address().port;
    const tx = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true } as never);
    try {
      await tx.sendMail({
        from: 'a@featherweight.test',
        to: 'b@featherweight.test',
        subject: 'menu',
        attachments: [
          { filename: 'menu.txt', content: Buffer.from('café\rcrème brûlée\r', 'latin1'), contentType: 'text/plain; charset=iso-8859-1' },
        ],
      });
      await assert.rejects(
        tx.sendMail({ from: 'a@featherweight.test', to: 'b@featherweight.test', attachments: [{ filename: 'big.txt', content: 'y'.repeat(100_000) }] }),
        (err: { responseCode?: number; response?: string }) => err.responseCode === 552 && /limits\.maxStdin of component c1/.test(err.response ?? ''),
      );
    } finally {
      tx.close();
    }
    await waitUntil('the mail processed', () => c.state().counters.processed === 1);
    const { rows } = await c.sink.rows!({ limit: 10, offset: 0 });
    assert.deepEqual(
      rows.map((r) => [r.file, r.line, r.text]).sort((x, y) => Number(x[1]) - Number(y[1])),
      [['menu.txt', 1, 'café'], ['menu.txt', 2, 'crème brûlée']],
    );
    assert.equal(app.deadLetters.count('c1'), 0);
  });
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a stored mail that cannot become its event is dead-lettered as stored, on its first attempt, and the next one runs', async () => {
  const dir = tempDir();
  const manifest = mailLinesApp(dir);
  await withApp(manifest, async (app) => {
    const c = app.components.get('c1')!;
    const envelope = JSON.stringify({ mailFrom: 'a@x.test', rcptTo: ['b@x.test'] });
    const mail = (name: string, content: string) =>
      Buffer.from(`From: a@x.test\r\nSubject: ${name}\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; name=${name}.txt\r\nContent-Disposition: attachment; filename=${name}.txt\r\n\r\n${content}\r\n--b--\r\n`);
    // As `dlq retry` would put them back: one too large for maxStdin once parsed, then a good one.
    await c.source.publish({ id: 'big', source: 'smtp', subject: 'b@x.test', headers: { 'content-type': 'message/rfc822', envelope }, body: mail('big', 'y'.repeat(70_000)) });
    await c.source.publish({ id: 'ok', source: 'smtp', subject: 'b@x.test', headers: { 'content-type': 'message/rfc822', envelope }, body: mail('ok', 'first\nsecond') });
    await waitUntil('the good mail processed and the big one dead-lettered', () => c.state().counters.processed === 1 && app.deadLetters.count('c1') === 1);
    const [dl] = app.deadLetters.list({ component: 'c1' });
    assert.equal(dl!.event.id, 'big');
    assert.equal(dl!.error.kind, 'input-limit');
    assert.match(dl!.reason, /mail big becomes an event larger than the 65536 bytes its handler accepts/);
    assert.equal(dl!.event.headers['content-type'], 'message/rfc822', 'kept as the mail it was');
    assert.equal(dl!.event.attempt, 1);
    const { rows } = await c.sink.rows!({ limit: 10, offset: 0 });
    assert.deepEqual(rows.map((r) => [r.file, r.text]).sort(), [['ok.txt', 'first'], ['ok.txt', 'second']]);
  });
  fs.rmSync(dir, { recursive: true, force: true });
});

test('kill -9 after the 250s: mails stored as received survive, and a restart parses each into exactly its rows', async () => {
  const dir = tempDir();
  const port = await freePort();
  const manifest = path.join(dir, 'featherweight.yaml');
  // First run: the component never activates (its activation threshold is far above the backlog),
  // so every accepted mail is still on the queue, as received, when the process dies.
  const write = (activation: string) =>
    fs.writeFileSync(
      manifest,
      [
        'apiVersion: featherweight.dev/v1',
        'kind: App',
        'metadata: { name: smtp-kill }',
        `dataDir: ${dir}`,
        'components:',
        '  - name: mail',
        `    module: ${guest('mail-lines')}`,
        '    limits: { maxMemory: 16MiB, timeout: 10s }',
        `    trigger: { type: smtp, metadata: { listen: "127.0.0.1:${port}", activationLagThreshold: "${activation}" } }`,
        '    scaling: { pollingInterval: 1, minReplicaCount: 0, maxReplicaCount: 4 }',
        '    sink: { type: sqlite, table: mail_lines }',
      ].join('\n'),
    );
  write('1000000');
  const total = 120;
  const first = await startUp([manifest, '--listen', '127.0.0.1:0']);
  const ids: string[] = [];
  try {
    const tx = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, pool: true, maxConnections: 4 } as never);
    try {
      const sent = await Promise.all(
        Array.from({ length: total }, (_, i) =>
          tx.sendMail({ from: 'a@x.test', to: 'b@x.test', subject: `m${i}`, attachments: [{ filename: `m${i}.txt`, content: ['one', 'two', 'three'].map((w) => `${w} ${i}`).join('\n') }] }),
        ),
      );
      for (const s of sent) ids.push(/Queued as (\S+)/.exec(s.response)![1]!);
    } finally {
      tx.close();
    }
  } finally {
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('close', r));
  }
  const queued = new Database(path.join(dir, 'queue.db'), { readonly: true });
  const stored = queued.prepare('SELECT id, headers FROM messages').all() as Array<{ id: string; headers: string }>;
  queued.close();
  assert.deepEqual(stored.map((r) => r.id).sort(), [...ids].sort(), 'every mail that got its 250 is on the queue');
  assert.ok(stored.every((r) => (JSON.parse(r.headers) as Record<string, string>)['content-type'] === 'message/rfc822'), 'stored as received');
  write('0');
  const second = await startUp([manifest, '--listen', '127.0.0.1:0']);
  const rowsDb = path.join(dir, 'rows.db');
  const counts = () => {
    if (!fs.existsSync(rowsDb)) return { n: 0, d: 0 };
    const db = new Database(rowsDb, { readonly: true, fileMustExist: true });
    try {
      if (!db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'mail_lines'").get()) return { n: 0, d: 0 };
      return db.prepare('SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS d FROM mail_lines').get() as { n: number; d: number };
    } finally {
      db.close();
    }
  };
  try {
    await waitUntil(`all ${total * 3} rows after the restart`, () => counts().n >= total * 3, 120_000);
  } finally {
    await second.stop();
  }
  assert.deepEqual(counts(), { n: total * 3, d: total }, 'nothing lost, nothing duplicated');
  const db = new Database(rowsDb, { readonly: true });
  const row = db.prepare('SELECT * FROM mail_lines WHERE event_id = ? ORDER BY line').all(ids[7]!) as Array<{ file: string; line: number; text: string }>;
  db.close();
  assert.deepEqual(row.map((r) => [r.file, r.line, r.text]), [['m7.txt', 1, 'one 7'], ['m7.txt', 2, 'two 7'], ['m7.txt', 3, 'three 7']]);
  fs.rmSync(dir, { recursive: true, force: true });
});
