// Decision 235: WAL checkpoints of the queue and the sqlite sink run on a thread of their own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { backstopFrames, checkpointInBackground, commitsPerCheckpoint } from '../../src/core/wal-checkpoint.js';
import { fdsUnder } from '../helpers/fds.js';

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('the checkpoint thread moves committed pages into the database file every commitsPerCheckpoint commits, and holds no connection between checkpoints', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-wal-'));
  const file = path.join(dir, 'x.db');
  try {
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (b BLOB)');
    const ownFds = fdsUnder(dir);
    const ckpt = checkpointInBackground(db, file);
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), backstopFrames);
    const before = statSync(file).size;
    // ~256 pages: far below the owner's backstop, so only the thread can move them into the file.
    db.prepare('INSERT INTO t VALUES (?)').run(Buffer.alloc(1 << 20, 7));
    for (let i = 1; i < commitsPerCheckpoint; i++) ckpt.committed();
    assert.equal(statSync(file).size, before, 'no checkpoint before commitsPerCheckpoint commits');
    ckpt.committed();
    await until('the database file to grow by the checkpointed pages', () => statSync(file).size >= before + (1 << 20));
    assert.equal(db.prepare('SELECT length(b) FROM t').pluck().get(), 1 << 20);
    // More checkpoints: each opens a connection and closes it. SQLite parks a closed descriptor while
    // another connection of the process holds a lock on the file (POSIX locks are per process) and
    // reuses it at the next open, so at most one is left over, however many checkpoints ran.
    const grown = statSync(file).size;
    for (let round = 0; round < 3; round++) {
      db.prepare('INSERT INTO t VALUES (?)').run(Buffer.alloc(1 << 16, round));
      for (let i = 0; i < commitsPerCheckpoint; i++) ckpt.committed();
    }
    await until('the later checkpoints', () => statSync(file).size >= grown + 3 * (1 << 16));
    assert.ok(fdsUnder(dir) <= ownFds + 1, `descriptors into the directory: ${fdsUnder(dir)}, the owner's own ${ownFds}`);
    ckpt.release();
    db.close();
    assert.equal(existsSync(`${file}-wal`), false, 'the owner, the last connection, removed the WAL on close');
    const again = new Database(file, { readonly: true });
    assert.equal(again.prepare('SELECT count(*) FROM t').pluck().get(), 4);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
