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
