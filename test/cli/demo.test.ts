import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { runCli } from '../helpers/cli.js';

test('`featherweight demo --once --count 100`: exact rows, replicas rose above 1 and came back to 0', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-demo-'));
  const r = await runCli(['demo', '--once', '--count', '100', '--listen', '127.0.0.1:0', '--smtp', '127.0.0.1:0', '--data-dir', dir]);
  assert.equal(r.code, 0, `demo exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  const rows = /rows\s+(\d+) in SQLite \(expected (\d+)\)/.exec(r.stdout);
  assert.ok(rows, r.stdout);
  assert.equal(rows[1], rows[2], 'SQLite holds exactly the expected rows');
  assert.match(r.stdout, /mails\s+100 accepted of 100/);
  const peak = /peak replicas\s+(\d+) of/.exec(r.stdout);
  assert.ok(peak && Number(peak[1]) > 1, `replicas rose above 1: ${peak?.[1]}`);
  assert.match(r.stdout, /back to 0 replicas\s+yes/);
  assert.match(r.stdout, /dead letters\s+0/);
  // The rows are really there, one per attachment line, keyed by (event, index).
  const db = new Database(path.join(dir, 'rows.db'), { readonly: true });
  const { n, events } = db.prepare('SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS events FROM mail_lines').get() as { n: number; events: number };
  const sample = db.prepare('SELECT file, line, text FROM mail_lines WHERE line = 1 LIMIT 1').get() as { file: string; line: number; text: string };
  db.close();
  assert.equal(String(n), rows[1]);
  assert.ok(events > 0 && events <= 100);
  assert.match(sample.file, /\.(txt|csv|log)$/);
  assert.ok(sample.text.length > 0);
  fs.rmSync(dir, { recursive: true, force: true });
});
