import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { create } from '../../src/sinks/sqlite.js';
import { sinks } from '../../src/sinks/index.js';
import { defaultTableName } from '../../src/sinks/table.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-sqlite-sink-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a redelivered event does not duplicate rows; new keys add columns; values keep their types', async (t) => {
  const dir = tempDir(t);
  const sink = create({ type: 'sqlite' }, { dataDir: dir, component: 'mail-lines' });
  await sink.start();
  t.after(() => sink.close());
  assert.equal(sink.table, 'mail_lines');
  assert.equal(sink.path, path.join(dir, 'rows.db'));
  await sink.write('e1', [{ file: 'a.txt', line: 1 }, { file: 'a.txt', line: 2 }]);
  await sink.write('e1', [{ file: 'a.txt', line: 1 }, { file: 'a.txt', line: 2 }]); // redelivery
  assert.equal(await sink.count(), 2);
  await sink.write('e2', [{ file: 'b.txt', line: 1, text: 'hello', ok: true, meta: { k: [1, 2] } }]);
  assert.equal(await sink.count(), 3);
  const db = new Database(sink.path, { readonly: true });
  t.after(() => db.close());
  const cols = db.prepare(`SELECT name FROM pragma_table_info('mail_lines')`).pluck().all();
  assert.deepEqual(cols, ['event_id', 'record_index', 'created_at', 'file', 'line', 'text', 'ok', 'meta']);
  const row = db.prepare(`SELECT * FROM mail_lines WHERE event_id = 'e2'`).get() as Record<string, unknown>;
  assert.equal(row.line, 1);
  assert.equal(row.ok, 1);
  assert.equal(row.meta, '{"k":[1,2]}');
  assert.equal(row.record_index, 0);
  // A key differing only in case maps onto the existing column (SQLite names are case-insensitive).
  await sink.write('e3', [{ File: 'c.txt' }]);
  assert.equal((db.prepare(`SELECT file FROM mail_lines WHERE event_id = 'e3'`).get() as { file: string }).file, 'c.txt');
});

test('rows(): newest first, paging, substring filter over text', async (t) => {
  const dir = tempDir(t);
  const sink = create({ type: 'sqlite', table: 'r' }, { dataDir: dir, component: 'x' });
  await sink.start();
  t.after(() => sink.close());
  for (let i = 0; i < 5; i++) await sink.write(`ev${i}`, [{ text: i % 2 ? 'needle here' : 'hay', n: i }]);
  const all = await sink.rows({ limit: 2, offset: 0 });
  assert.equal(all.total, 5);
  assert.deepEqual(all.rows.map((r) => r.n), [4, 3]);
  const filtered = await sink.rows({ limit: 10, offset: 0, filter: 'needle' });
  assert.equal(filtered.total, 2);
  assert.deepEqual(filtered.rows.map((r) => r.event_id).sort(), ['ev1', 'ev3']);
});

test('one transaction per event: a bad record writes none of the event', async (t) => {
  const dir = tempDir(t);
  const sink = create({ type: 'sqlite' }, { dataDir: dir, component: 'tx' });
  await sink.start();
  t.after(() => sink.close());
  await assert.rejects(sink.write('e1', [{ a: 1 }, { 'bad key': 2 }]), /record 1 key "bad key" is not a safe SQL identifier/);
  assert.equal(await sink.count(), 0);
  await assert.rejects(sink.write('e1', [{ event_id: 'x' }]), /reserved/);
  await assert.rejects(sink.write('e1', ['not an object' as never]), /not a JSON object/);
});

test('bad identifiers are rejected with a clear message; config is strict', () => {
  assert.throws(() => create({ type: 'sqlite', table: 'x; DROP TABLE y' }, { dataDir: '/tmp', component: 'c' }), /sink table "x; DROP TABLE y" is not a safe SQL identifier/);
  assert.throws(() => create({ type: 'sqlite', table: '1abc' }, { dataDir: '/tmp', component: 'c' }), /not a safe SQL identifier/);
  assert.equal(sinks.sqlite!.config.safeParse({ type: 'sqlite', tabel: 'x' }).success, false);
  assert.equal(defaultTableName('9-lives.v2'), '_9_lives_v2');
});

test('whole numbers are stored as INTEGER, fractions as REAL (line reads 1, not 1.0)', async (t) => {
  const dir = tempDir(t);
  const sink = create({ type: 'sqlite', table: 'nums' }, { dataDir: dir, component: 'x' });
  await sink.start();
  t.after(() => sink.close());
  await sink.write('e1', [{ line: 1, ratio: 1.5, big: 2 ** 53 + 2 }]);
  const db = new Database(sink.path, { readonly: true });
  t.after(() => db.close());
  const r = db.prepare(`SELECT typeof(line) AS l, typeof(ratio) AS r, typeof(big) AS b, line || '' AS text FROM nums`).get() as Record<string, string>;
  assert.deepEqual(r, { l: 'integer', r: 'real', b: 'real', text: '1' });
});

test('a large event is committed in slices with the event loop free between them; redelivery adds none', async (t) => {
  const dir = tempDir(t);
  const sink = create({ type: 'sqlite', table: 'big' }, { dataDir: dir, component: 'x' });
  await sink.start();
  t.after(() => sink.close());
  const records = Array.from({ length: 25_000 }, (_, i) => ({ file: 'big.txt', line: i + 1, text: `line ${i + 1}` }));
  const seen: number[] = [];
  // Runs whenever the event loop gets a turn during write(): it must get some before the last slice.
  const probe = setInterval(() => seen.push(db.prepare('SELECT count(*) FROM big').pluck().get() as number), 0);
  const db = new Database(sink.path, { readonly: true });
  t.after(() => db.close());
  try {
    await sink.write('big', records);
  } finally {
    clearInterval(probe);
  }
  assert.equal(await sink.count(), 25_000);
  assert.ok(seen.some((n) => n > 0 && n < 25_000), `a timer ran between two slices (counts seen: ${[...new Set(seen)].slice(0, 10).join(', ')})`);
  await sink.write('big', records);
  assert.equal(await sink.count(), 25_000, 'a redelivered event writes nothing twice');
});

test('a record with more keys than the column cap is refused with a RecordError and adds no column', async (t) => {
  const dir = tempDir(t);
  const sink = create({ type: 'sqlite', table: 'wide' }, { dataDir: dir, component: 'x' });
  await sink.start();
  t.after(() => sink.close());
  const wide = Object.fromEntries(Array.from({ length: 1990 }, (_, i) => [`k${i}`, i]));
  await assert.rejects(sink.write('wide', [wide]), (err: Error) => err.name === 'RecordError' && /table wide would grow to 1990 columns, above its cap of 200 \(sink\.maxColumns\)/.test(err.message));
  const db = new Database(sink.path, { readonly: true });
  t.after(() => db.close());
  assert.equal(db.prepare(`SELECT count(*) FROM pragma_table_info('wide')`).pluck().get(), 3, 'only the reserved columns');
  const small = create({ type: 'sqlite', table: 'narrow', maxColumns: 2 }, { dataDir: dir, component: 'x' });
  await small.start();
  t.after(() => small.close());
  await small.write('a', [{ x: 1 }, { y: 2 }]);
  await assert.rejects(small.write('b', [{ x: 1, z: 3 }]), /narrow would grow to 3 columns, above its cap of 2/);
  assert.equal(await small.count(), 2);
});

test('small events written together share one commit; one failing event fails alone', async (t) => {
  const dir = tempDir(t);
  const sink = create({ type: 'sqlite', table: 'grouped', maxColumns: 1 }, { dataDir: dir, component: 'x' });
  await sink.start();
  t.after(() => sink.close());
  // Both pass write()'s column check (the table has no record column yet); inside the shared
  // transaction the second new column passes the cap, so the group is retried one event at a time.
  const [a, b, c] = await Promise.allSettled([sink.write('e1', [{ a: 1 }]), sink.write('e2', [{ b: 1 }]), sink.write('e3', [{ a: 2 }, { a: 3 }])]);
  assert.equal(a.status, 'fulfilled');
  assert.equal(b.status, 'rejected');
  assert.match(String((b as PromiseRejectedResult).reason), /cap of 1 \(sink\.maxColumns\)/);
  assert.equal(c.status, 'fulfilled');
  assert.equal(await sink.count(), 3);
  const db = new Database(sink.path, { readonly: true });
  t.after(() => db.close());
  assert.deepEqual(db.prepare(`SELECT event_id, a FROM grouped ORDER BY event_id, record_index`).all(), [
    { event_id: 'e1', a: 1 },
    { event_id: 'e3', a: 2 },
    { event_id: 'e3', a: 3 },
  ]);
  // Many small events in one turn: all committed, none lost, none twice.
  await Promise.all(Array.from({ length: 2500 }, (_, i) => sink.write(`m${i}`, [{ a: i }])));
  await Promise.all(Array.from({ length: 2500 }, (_, i) => sink.write(`m${i}`, [{ a: i }]))); // redelivered
  assert.equal(await sink.count(), 3 + 2500);
});

test('runs of records with the same keys go in multi-row inserts: every record lands at its index, in its columns, once', async (t) => {
  const dir = tempDir(t);
  const sink = create({ type: 'sqlite' }, { dataDir: dir, component: 'runs' });
  await sink.start();
  t.after(() => sink.close());
  // 40 records: a run of 20 (more than one insert of 16), then keys that change, one record a time
  // and in runs, with a key order that differs from the run before (a different statement).
  const records: Record<string, unknown>[] = [
    ...Array.from({ length: 20 }, (_, i) => ({ file: 'a.txt', line: i + 1, text: `a${i}` })),
    { file: 'b.txt', line: 1 },
    { text: 'c', file: 'c.txt', line: 1 },
    { text: 'c', file: 'c.txt', line: 2 },
    { other: true },
    ...Array.from({ length: 16 }, (_, i) => ({ file: 'd.txt', line: i + 1, text: `d${i}` })),
  ];
  // As if an earlier delivery had committed the first 25 (a multi-row insert straddles the line),
  // then the whole event twice: nothing twice, nothing lost.
  await sink.write('e1', records.slice(0, 25));
  assert.equal(await sink.count(), 25);
  await sink.write('e1', records);
  await sink.write('e1', records);
  assert.equal(await sink.count(), 40);
  const db = new Database(sink.path, { readonly: true });
  t.after(() => db.close());
  const rows = db.prepare(`SELECT record_index, file, line, text, other FROM runs WHERE event_id = 'e1' ORDER BY record_index`).all() as Array<Record<string, unknown>>;
  assert.equal(rows.length, 40);
  rows.forEach((row, i) => {
    const want = records[i]!;
    assert.equal(row.record_index, i);
    assert.equal(row.file, want.file ?? null, `record ${i} file`);
    assert.equal(row.line, want.line ?? null, `record ${i} line`);
    assert.equal(row.text, want.text ?? null, `record ${i} text`);
    assert.equal(row.other, want.other === undefined ? null : 1, `record ${i} other`);
  });
});
