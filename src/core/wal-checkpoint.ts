// SQLite checkpoints a WAL inside the commit that takes it past 1,000 frames: on the committing
// thread, with two fsyncs and a copy of every changed page into the database file. The embedded
// queue and the sqlite sink commit on the main thread, so by default that cost lands on the event
// loop every few hundred commits. Here one thread per process does those checkpoints instead
// (PASSIVE: it never blocks a reader or a writer), each on a connection it opens for it and closes
// right after; the owner's connection checkpoints itself only past a much larger WAL, as a backstop
// (decision 235).
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/**
 * WAL frames (pages) past which the owner's own connection checkpoints anyway: if the thread lags or
 * is gone, and because SQLite restarts a WAL only from a writer that finds it completely
 * checkpointed, which a checkpoint from elsewhere under a steady stream of commits rarely leaves it.
 * ~40 MiB of WAL at most.
 */
export const backstopFrames = 10_000;
/**
 * Commits of the owner after which the thread checkpoints: a few frames each, so about SQLite's own
 * 1,000-frame threshold. Not more often: every complete checkpoint makes the owner's next commit
 * restart the WAL and sync its new header, an fsync on the owner's thread.
 */
export const commitsPerCheckpoint = 200;

// Plain CommonJS: it needs no loader under tsx, and starts at once. The connection is not kept open
// between checkpoints: while a connection to the file lives on another thread, every transaction of
// the owner's was measurably slower (77.8 -> 96.8 µs for a commit and a read, p50, on this machine).
const threadSource = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
parentPort.on('message', (file) => {
  let db;
  try {
    db = new Database(file, { fileMustExist: true });
    db.pragma('synchronous = NORMAL');
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // gone, or not a WAL database: the owner's backstop checkpoints it
  } finally {
    try { db?.close(); } catch {}
  }
});
`;

let thread: Worker | null = null;

function checkpointSoon(file: string): void {
  if (!thread) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const w = new Worker(threadSource, { eval: true, execArgv: [], workerData: { driver } });
    w.unref();
    // Gone (it failed, or the process is ending): the owners' backstops keep their WALs bounded, and
    // the next checkpoint starts a fresh thread.
    const forget = () => {
      if (thread === w) thread = null;
    };
    w.on('error', forget);
    w.on('exit', forget);
    thread = w;
  }
  thread.postMessage(file);
}

export interface BackgroundCheckpoint {
  /** The owner committed a write transaction. */
  committed(): void;
  /** The owner is closing its connection: no more checkpoints are asked for. */
  release(): void;
}

/** Moves the WAL checkpoints of `db` (opened on `file`, in WAL mode) to the checkpoint thread. */
export function checkpointInBackground(db: Database.Database, file: string): BackgroundCheckpoint {
  db.pragma(`wal_autocheckpoint = ${backstopFrames}`);
  let released = false;
  let commits = 0;
  return {
    committed() {
      if (released || ++commits < commitsPerCheckpoint) return;
      commits = 0;
      checkpointSoon(file);
    },
    release() {
      released = true;
    },
  };
}
