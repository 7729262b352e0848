import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runWasiCommand } from '../../src/wasm/index.js';
import { dec, enc, guest, limits } from './guests.js';

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');

function run(mail: unknown) {
  return runWasiCommand(guest('mail-lines'), { stdin: enc(typeof mail === 'string' ? mail : JSON.stringify(mail)), env: {}, args: [] }, limits());
}

test('one exact NDJSON row per line of each text attachment', () => {
  const mail = {
    messageId: '<m1@example.com>', from: 'a@example.com', to: ['b@example.com'], subject: 'Zahlen', date: '2024-05-01T10:00:00Z',
    text: 'see attached',
    attachments: [
      { filename: 'notes.txt', contentType: 'text/plain', size: 0, content: b64('\ufefffirst\r\n\r\nGrüße, "Ü" \\ tab\there\r\nlast line without newline') },
      { filename: 'photo.png', contentType: 'image/png', size: 4, content: b64(Buffer.from([0x89, 0x50, 0x4e, 0x47])) },
      { filename: 'DATA.CSV', contentType: 'application/octet-stream', size: 0, content: b64('a,b\n1,2\n') },
      { filename: 'app', contentType: 'text/x-log', size: 0, content: b64('ctl\u0001 😀\n') },
      { filename: 'bad.txt', contentType: 'text/plain', size: 0, content: b64(Buffer.from([0x6f, 0x6b, 0xff, 0x21])) },
    ],
  };
  const r = run(mail);
  assert.ok(r.ok, dec(r.stderr));
  const expected = [
    { file: 'notes.txt', line: 1, text: 'first' },
    { file: 'notes.txt', line: 2, text: '' },
    { file: 'notes.txt', line: 3, text: 'Grüße, "Ü" \\ tab\there' },
    { file: 'notes.txt', line: 4, text: 'last line without newline' },
    { file: 'DATA.CSV', line: 1, text: 'a,b' },
    { file: 'DATA.CSV', line: 2, text: '1,2' },
    { file: 'app', line: 1, text: 'ctl\u0001 😀' },
    { file: 'bad.txt', line: 1, text: 'ok\ufffd!' },
  ];
  assert.equal(dec(r.stdout), expected.map((x) => JSON.stringify(x) + '\n').join(''));
  assert.equal(dec(r.stderr), 'mail-lines: skipped attachment photo.png (image/png): not a text file\n');
});

test('JSON escapes in the input (\\u, surrogate pairs, \\/) are decoded', () => {
  const content = b64('x');
  const raw = `{"attachments":[{"filename":"d\\u00e9j\\u00e0\\/\\ud83d\\ude00.txt","content":"${content.slice(0, 2)}\\n${content.slice(2)}"}]}`;
  const r = run(raw);
  assert.ok(r.ok, dec(r.stderr));
  assert.equal(dec(r.stdout), JSON.stringify({ file: 'déjà/😀.txt', line: 1, text: 'x' }) + '\n');
});

test('no attachments, null attachments and empty files write nothing', () => {
  for (const mail of [{ subject: 's' }, { attachments: null }, { attachments: [] }, { attachments: [{ filename: 'e.txt', content: '' }] }]) {
    const r = run(mail);
    assert.ok(r.ok);
    assert.equal(r.stdout.length, 0);
  }
});

test('invalid input exits 2 with the position; deep nesting elsewhere is skipped without recursion', () => {
  const r = run('{"attachments": [ {"filename": "a.txt", "content": 12 ');
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.error.kind, 'exit');
  assert.equal(!r.ok && r.error.exitCode, 2);
  assert.match(dec(r.stderr), /^mail-lines: invalid mail JSON at byte \d+: /);
  const deep = `{"x":${'['.repeat(100000)}${']'.repeat(100000)},"attachments":[{"filename":"a.txt","content":"${b64('ok')}"}]}`;
  const d = run(deep);
  assert.ok(d.ok, dec(d.stderr));
  assert.equal(dec(d.stdout), '{"file":"a.txt","line":1,"text":"ok"}\n');
});

test('a large text attachment streams out in full', () => {
  const lines = Array.from({ length: 20000 }, (_, i) => `line ${i + 1} ${'é'.repeat(i % 7)}`);
  const r = run({ attachments: [{ filename: 'big.log', contentType: 'text/plain', content: b64(lines.join('\r\n')) }] });
  assert.ok(r.ok, dec(r.stderr));
  const rows = dec(r.stdout).trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.equal(rows.length, 20000);
  assert.deepEqual(rows[19999], { file: 'big.log', line: 20000, text: lines[19999] });
});

const rowsOf = (r: { stdout: Uint8Array }) => dec(r.stdout).trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { file: string; line: number; text: string });

test('a mail as large as SMTP accepts (24.6 MB event, 18 MiB text attachment) becomes rows at maxMemory 16 MiB', () => {
  const line = (i: number) => `${String(i).padStart(7, '0')} ${'abcdefghij'.repeat(6)} é ü ✓`;
  const parts: string[] = [];
  let size = 0;
  for (let i = 1; size < 18 * 1024 * 1024; i++) {
    const l = line(i) + '\r\n';
    parts.push(l);
    size += Buffer.byteLength(l);
  }
  const text = parts.join('');
  const mail = JSON.stringify({ messageId: '<big@x>', from: 'a@x', to: ['b@x'], subject: 'big', date: null, attachments: [{ filename: 'big.csv', contentType: 'text/csv', content: b64(text), size }], text: 'see attached' });
  assert.ok(mail.length > 24 * 1024 * 1024 && mail.length < 25 * 1024 * 1024, `event body ${mail.length} bytes`);
  const r = runWasiCommand(guest('mail-lines'), { stdin: enc(mail), env: {}, args: [] }, limits({ maxMemoryBytes: 16 * 1024 * 1024, maxStdinBytes: 25 * 1024 * 1024 }));
  assert.ok(r.ok, r.ok ? '' : `${r.error.kind}: ${r.error.message}`);
  const rows = rowsOf(r);
  assert.equal(rows.length, parts.length);
  assert.deepEqual(rows[0], { file: 'big.csv', line: 1, text: line(1) });
  assert.deepEqual(rows[rows.length - 1], { file: 'big.csv', line: parts.length, text: line(parts.length) });
});

test('line ends: LF, CRLF and a lone CR each end a line; a trailing break adds no empty row', () => {
  const r = run({ attachments: [{ filename: 'mac.txt', content: b64('a\rb\r\rc\r\nd\n\ne\r') }] });
  assert.ok(r.ok, dec(r.stderr));
  assert.deepEqual(rowsOf(r).map((x) => x.text), ['a', 'b', '', 'c', 'd', '', 'e']);
  assert.deepEqual(rowsOf(r).map((x) => x.line), [1, 2, 3, 4, 5, 6, 7]);
});

test('UTF-8 split anywhere, BOM-like prefixes and truncated sequences', () => {
  const r = run({
    attachments: [
      { filename: 'bom.txt', content: b64(Buffer.from([0xef, 0xbb, 0xbf, 0x68, 0x69])) },
      { filename: 'short.txt', content: b64(Buffer.from([0xef, 0xbb])) },
      { filename: 'cut.txt', content: b64(Buffer.from([0x61, 0xe2, 0x82, 0x0a, 0xe2, 0x82, 0xac])) },
    ],
  });
  assert.ok(r.ok, dec(r.stderr));
  assert.deepEqual(rowsOf(r), [
    { file: 'bom.txt', line: 1, text: 'hi' },
    { file: 'short.txt', line: 1, text: '\ufffd\ufffd' },
    { file: 'cut.txt', line: 1, text: 'a\ufffd\ufffd' },
    { file: 'cut.txt', line: 2, text: '€' },
  ]);
});

test('content before its filename and type is held until the type is known; bad base64 ends the attachment with a note', () => {
  const late = `{"attachments":[{"content":"${b64('x\ny')}","size":3,"contentType":"text/plain","filename":"late.txt"},{"content":"${b64('no')}","filename":"pic.png","contentType":"image/png"}]}`;
  const r = run(late);
  assert.ok(r.ok, dec(r.stderr));
  assert.deepEqual(rowsOf(r), [{ file: 'late.txt', line: 1, text: 'x' }, { file: 'late.txt', line: 2, text: 'y' }]);
  assert.equal(dec(r.stderr), 'mail-lines: skipped attachment pic.png (image/png): not a text file\n');
  const bad = run({ attachments: [{ filename: 'b.txt', contentType: 'text/plain', content: `${b64('one\ntwo\nx')}!!!` }, { filename: 'c.txt', content: '!!' }] });
  assert.ok(bad.ok);
  assert.deepEqual(rowsOf(bad).map((x) => x.text), ['one', 'two', 'x']);
  assert.equal(
    dec(bad.stderr),
    'mail-lines: skipped attachment b.txt (text/plain): content is not valid base64 after line 3; the lines before it were written\n' +
      'mail-lines: skipped attachment c.txt (no content type): content is not valid base64\n',
  );
});

test('memory does not grow with the number of lines: 1,000,000 rows at maxMemory 1 MiB', () => {
  const r = runWasiCommand(
    guest('mail-lines'),
    { stdin: enc(JSON.stringify({ attachments: [{ filename: 'many.txt', content: b64('x\n'.repeat(1_000_000)) }] })), env: {}, args: [] },
    limits({ maxMemoryBytes: 1024 * 1024 }),
  );
  assert.ok(r.ok, r.ok ? '' : `${r.error.kind}: ${r.error.message}`);
  const text = dec(r.stdout);
  assert.equal(text.split('\n').length - 1, 1_000_000);
  assert.ok(text.endsWith('{"file":"many.txt","line":1000000,"text":"x"}\n'));
});
