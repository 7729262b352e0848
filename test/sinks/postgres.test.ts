import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { create } from '../../src/sinks/postgres.js';
import { requireService } from '../helpers/services.js';

const connectionString = process.env.FW_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A client for assertions; drops the test's table and disconnects after the test. */
async function admin(t: { after(fn: () => Promise<void>): void }, table: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString });
  await c.connect();
  t.after(async () => {
    await c.query(`DROP TABLE IF EXISTS ${table}`);
    await c.end();
  });
  return c;
}

test('postgres: redelivery does not duplicate rows, new keys add typed columns, rows() filters', async (t) => {
  if (!(await requireService(t, 'postgres'))) return;
  const table = `fw_sink_test_${randomBytes(4).toString('hex')}`;
  const db = await admin(t, table);
  const sink = create({ type: 'postgres', connectionString, table }, { dataDir: '/nonexistent', component: 'x' });
  await sink.start();
  t.after(() => sink.close());
  await sink.write('e1', [{ file: 'a.txt', line: 1 }, { file: 'a.txt', line: 2 }]);
  await sink.write('e1', [{ file: 'a.txt', line: 1 }, { file: 'a.txt', line: 2 }]);
  assert.equal(await sink.count(), 2);
  await sink.write('e2', [{ file: 'b.txt', line: 3, ok: true, meta: { tags: ['x'] }, text: 'needle' }]);
  assert.equal(await sink.count(), 3);
  const cols = await db.query(`SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`, [table]);
  assert.deepEqual(
    cols.rows.map((r) => `${r.column_name}:${r.data_type}`),
    ['event_id:text', 'record_index:integer', 'created_at:timestamp with time zone', 'file:text', 'line:bigint', 'ok:boolean', 'meta:jsonb', 'text:text'],
  );
  const r = await db.query(`SELECT * FROM ${table} WHERE event_id = 'e2'`);
  assert.deepEqual(r.rows[0].meta, { tags: ['x'] });
  assert.equal(r.rows[0].ok, true);
  const lines = (await sink.rows({ limit: 10, offset: 0, filter: 'a.txt' })).rows.map((row) => row.line);
  assert.deepEqual(lines.sort(), [1, 2], 'a whole number comes back as a JS number, not "1" (int8 as text)');
  const found = await sink.rows({ limit: 10, offset: 0, filter: 'needle' });
  assert.equal(found.total, 1);
  assert.equal(found.rows[0]!.event_id, 'e2');
  const page = await sink.rows({ limit: 2, offset: 0 });
  assert.equal(page.total, 3);
  assert.equal(page.rows.length, 2);
});

test('postgres: a record that does not fit writes none of the event', async (t) => {
  if (!(await requireService(t, 'postgres'))) return;
  const table = `fw_sink_test_${randomBytes(4).toString('hex')}`;
  const db = await admin(t, table);
  const sink = create({ type: 'postgres', connectionString, table }, { dataDir: '/nonexistent', component: 'x' });
  await sink.start();
  t.after(() => sink.close());
  await sink.write('e1', [{ n: 1 }]);
  await assert.rejects(sink.write('e2', [{ n: 2 }, { n: 'not a number' }]), /postgres sink .*bigint/);
  assert.equal(await sink.count(), 1);
  await assert.rejects(sink.write('e3', [{ 'a"b': 1 }]), /not a safe SQL identifier/);
});

test('postgres: bad identifiers and config are rejected', () => {
  assert.throws(() => create({ type: 'postgres', connectionString, table: 'a b' }, { dataDir: '/x', component: 'c' }), /not a safe SQL identifier/);
  assert.throws(() => create({ type: 'postgres' } as never, { dataDir: '/x', component: 'c' }), /connectionString/);
});

test('postgres: one event of 25,000 records is one transaction of many statements; redelivery adds none; a fraction widens a bigint column', async (t) => {
  if (!(await requireService(t, 'postgres'))) return;
  const table = `fw_sink_test_${randomBytes(4).toString('hex')}`;
  const db = await admin(t, table);
  const sink = create({ type: 'postgres', connectionString, table }, { dataDir: '/nonexistent', component: 'x' });
  await sink.start();
  t.after(() => sink.close());
  // 25,000 rows x 5 parameters is above PostgreSQL's 65,535 parameters per statement
  const records = Array.from({ length: 25_000 }, (_, i) => ({ file: 'big.txt', line: i + 1, text: `line ${i + 1}` }));
  await sink.write('big', records);
  await sink.write('big', records);
  assert.equal(await sink.count(), 25_000);
  // the last statement fails: the whole event is rolled back, the earlier statements too
  const bad = [...records.map((r) => ({ ...r, file: 'bad.txt' })), { file: 'bad.txt', line: 'x', text: '' }];
  await assert.rejects(sink.write('bad', bad), /bigint/);
  assert.equal((await db.query(`SELECT count(*)::int AS n FROM ${table} WHERE event_id = 'bad'`)).rows[0].n, 0);
  await sink.write('frac', [{ line: 1.5 }]);
  const type = await db.query(`SELECT data_type FROM information_schema.columns WHERE table_name = $1 AND column_name = 'line'`, [table]);
  assert.equal(type.rows[0].data_type, 'double precision');
  assert.equal((await db.query(`SELECT line FROM ${table} WHERE event_id = 'frac'`)).rows[0].line, 1.5);
});

test('postgres: a record with more keys than maxColumns is refused before any column is added', async (t) => {
  if (!(await requireService(t, 'postgres'))) return;
  const table = `fw_sink_test_${randomBytes(4).toString('hex')}`;
  const db = await admin(t, table);
  const sink = create({ type: 'postgres', connectionString, table, maxColumns: 10 }, { dataDir: '/nonexistent', component: 'x' });
  await sink.start();
  t.after(() => sink.close());
  const wide = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, i]));
  await assert.rejects(sink.write('wide', [wide]), (err: Error) => err.name === 'RecordError' && /above its cap of 10 \(sink\.maxColumns\)/.test(err.message));
  const cols = await db.query(`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = $1`, [table]);
  assert.equal(cols.rows[0].n, 3, 'only the reserved columns');
  await sink.write('ok', [Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, i]))]);
  assert.equal(await sink.count(), 1);
});
