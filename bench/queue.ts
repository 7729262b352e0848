import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createEmbeddedQueue } from '../dist/sources/embedded/index.js';

/**
 * Embedded queue, end to end in one process: a producer publishes N events while C consumers loop
 * next() + ack(). Baseline in the same run: raw better-sqlite3 with the same file settings doing
 * one INSERT and one DELETE per event (the least any durable SQLite queue must do).
 */

const quiet = { notify() {}, log: { info() {}, warn() {}, error() {} } };

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'fw-bench-queue-'));
}

function openDb(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  return db;
}

export function rawInsertDelete(n: number, body: Buffer): { rate: number; cpuUs: number } {
  const dir = tempDir();
  try {
    const db = openDb(path.join(dir, 'raw.db'));
    db.exec('CREATE TABLE q (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, body BLOB NOT NULL)');
    const ins = db.prepare('INSERT INTO q (id, body) VALUES (?, ?)');
    const del = db.prepare('DELETE FROM q WHERE seq = ?');
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      const r = ins.run(`e${i}`, body);
      del.run(r.lastInsertRowid);
    }
    const s = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(c0);
    db.close();
    return { rate: n / s, cpuUs: (cpu.user + cpu.system) / n };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** events/s by the wall clock, and CPU microseconds per event (load-independent: 1e6 / it = events per core-second). */
export async function embeddedEndToEnd(n: number, consumers: number, producers: number, body: Buffer): Promise<{ rate: number; cpuUs: number }> {
  const dir = tempDir();
  const q = createEmbeddedQueue(dir, { queue: 'bench', prefetch: consumers });
  await q.start(quiet);
  try {
    const ac = new AbortController();
    let done = 0;
    let finish!: () => void;
    const finished = new Promise<void>((r) => (finish = r));
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const workers = Array.from({ length: consumers }, async () => {
      for (;;) {
        const d = await q.next(ac.signal);
        if (!d) return;
        await d.ack();
        if (++done === n) finish();
      }
    });
    // Concurrent producers, as HTTP requests or SMTP sessions are: each awaits its own commit.
    let next = 0;
    await Promise.all(
      Array.from({ length: producers }, async () => {
        while (next < n) {
          const i = next++;
          await q.publish({ id: `e${i}`, source: 'embedded', subject: 'bench', headers: {}, body });
        }
      }),
    );
    await finished;
    const s = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(c0);
    ac.abort();
    await Promise.all(workers);
    const lag = await q.lag();
    if (lag.lag !== 0) throw new Error(`bench left lag ${lag.lag}`);
    return { rate: n / s, cpuUs: (cpu.user + cpu.system) / n };
  } finally {
    await q.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  const n = Number(process.env.FW_BENCH_N ?? 20_000);
  const body = Buffer.from(JSON.stringify({ order: 42, items: ['a', 'b', 'c'], note: 'x'.repeat(100) }));
  rawInsertDelete(1000, body); // warm-up
  await embeddedEndToEnd(1000, 8, 8, body);
  const raw = rawInsertDelete(n, body);
  const e2e = await embeddedEndToEnd(n, 8, 8, body);
  const serial = await embeddedEndToEnd(Math.min(n, 5000), 1, 1, body);
  const line = (name: string, r: { rate: number; cpuUs: number }, extra = '') =>
    console.log(
      `queue: ${name.padEnd(46)} ${r.rate.toFixed(0).padStart(7)} events/s  ${r.cpuUs.toFixed(1).padStart(6)} CPU us/event (${(1e6 / r.cpuUs).toFixed(0)}/core-s)${extra}`,
    );
  line('raw better-sqlite3 insert+delete, 1 commit each', raw, '  baseline');
  line('embedded publish+next+ack, 8 prod./8 cons.', e2e, `  ${((e2e.rate / raw.rate) * 100).toFixed(0)}% of baseline, goal >= 10,000/s`);
  line('embedded publish+next+ack, 1 prod./1 cons.', serial, `  ${((serial.rate / raw.rate) * 100).toFixed(0)}% of baseline`);
  console.log(`queue: load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores while measuring`);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
