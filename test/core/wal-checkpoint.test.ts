// Decision 235: WAL checkpoints of the queue and the sqlite sink run on a thread of their own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { backstopFrames, checkpointInBackground } from '../../src/core/wal-checkpoint.js';

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('the checkpoint thread copies committed pages into the database file; the owner only checkpoints past the backstop; a released file leaves no WAL', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-wal-'));
  const file = path.join(dir, 'x.db');
  try {
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (b BLOB)');
    const release = checkpointInBackground(db, file);
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), backstopFrames);
    const before = statSync(file).size;
    // ~256 pages: far below the owner's backstop, so only the thread can move them into the file.
    db.prepare('INSERT INTO t VALUES (?)').run(Buffer.alloc(1 << 20, 7));
    await until('the database file to grow by the checkpointed pages', () => statSync(file).size >= before + (1 << 20));
    assert.equal(db.prepare('SELECT length(b) FROM t').pluck().get(), 1 << 20);
    release();
    db.close();
    // The thread's connection was the last one: closing it checkpoints and removes the WAL.
    await until('the -wal file to be removed', () => !existsSync(`${file}-wal`));
    const again = new Database(file, { readonly: true });
    assert.equal(again.prepare('SELECT count(*) FROM t').pluck().get(), 1);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
