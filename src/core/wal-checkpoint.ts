// SQLite checkpoints a WAL inside the commit that takes it past 1,000 frames: on the committing
// thread, with two fsyncs and a copy of every changed page into the database file. The embedded
// queue and the sqlite sink commit on the main thread, so by default that cost lands on the event
// loop every few hundred commits. Here one thread per process checkpoints the files it is given on
// a connection of its own (PASSIVE: it never blocks a reader or a writer), and the owner's connection
// checkpoints itself only past a much larger WAL, as a backstop (decision 235).
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/**
 * WAL frames (pages) past which the owner's own connection checkpoints anyway: SQLite restarts a WAL
 * only from the connection that begins a write after a complete checkpoint, which a checkpoint on
 * another thread never quite is under a steady stream of commits. ~40 MiB of WAL at most.
 */
export const backstopFrames = 10_000;
/** How often the thread looks for new commits (PRAGMA data_version) and checkpoints the files that had some. */
export const checkpointIntervalMs = 50;

// Plain CommonJS: it needs no loader under tsx, and starts at once.
const threadSource = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const files = new Map();
parentPort.on('message', (m) => {
  if (m.add) {
    let f = files.get(m.add);
    if (!f) {
      try {
        const db = new Database(m.add, { fileMustExist: true });
        db.pragma('synchronous = NORMAL');
        f = { db, refs: 0, version: -1, ver: db.prepare('PRAGMA data_version').pluck(), ckpt: db.prepare('PRAGMA wal_checkpoint(PASSIVE)') };
        files.set(m.add, f);
      } catch {
        return; // the owner's backstop checkpoints it
      }
    }
    f.refs++;
  } else if (m.remove) {
    const f = files.get(m.remove);
    if (f && --f.refs <= 0) {
      files.delete(m.remove);
      try { f.db.close(); } catch {}
    }
  }
});
setInterval(() => {
  for (const f of files.values()) {
    try {
      const v = f.ver.get();
      if (v === f.version) continue;
      f.version = v;
      f.ckpt.get();
    } catch {}
  }
}, workerData.intervalMs);
`;

let thread: Worker | null = null;

function post(msg: { add: string } | { remove: string }): void {
  if (!thread) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const w = new Worker(threadSource, { eval: true, execArgv: [], workerData: { driver, intervalMs: checkpointIntervalMs } });
    w.unref();
    // Gone (it failed, or the process is ending): the owners' backstops keep their WALs bounded, and
    // the files added from now on go to a fresh thread.
    const forget = () => {
      if (thread === w) thread = null;
    };
    w.on('error', forget);
    w.on('exit', forget);
    thread = w;
  }
  thread.postMessage(msg);
}

/**
 * Moves the WAL checkpoints of `db` (opened on `file`, in WAL mode) to the checkpoint thread. Call the
 * returned function before closing `db`: the thread closes its own connection to the file then.
 */
export function checkpointInBackground(db: Database.Database, file: string): () => void {
  db.pragma(`wal_autocheckpoint = ${backstopFrames}`);
  post({ add: file });
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (thread) thread.postMessage({ remove: file });
  };
}
