import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { create } from '../dist/sinks/sqlite.js';

/**
 * The longest the event loop is held while one event of 100,000 records (the default maxRecords)
 * is written to the sqlite sink, measured as the worst lateness of a 1 ms timer. Baseline in the
 * same run: the same rows inserted in one transaction with the same statement (what the sink did
 * before decision 130). Also the total write time of each.
 */

const n = 100_000;

async function worstStall(f: () => Promise<void> | void): Promise<{ stallMs: number; totalMs: number }> {
  let worst = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 1);
    last = now;
  }, 1);
  await new Promise((r) => setTimeout(r, 20));
  const t0 = performance.now();
  last = t0;
  await f();
  const totalMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 5));
  clearInterval(timer);
  return { stallMs: Math.max(worst, 0), totalMs };
}

export async function run(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-bench-sink-'));
  const records = Array.from({ length: n }, (_, i) => ({ file: 'big.txt', line: i + 1, text: `line ${i + 1} of a text attachment` }));
  try {
    const db = new Database(path.join(dir, 'baseline.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(`CREATE TABLE t (event_id TEXT NOT NULL, record_index INTEGER NOT NULL, file, line, text, PRIMARY KEY (event_id, record_index))`);
    const ins = db.prepare(`INSERT INTO t VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`);
    const tx = db.transaction((rs: typeof records) => rs.forEach((r, i) => ins.run('e', i, r.file, BigInt(r.line), r.text)));
    const base = await worstStall(() => tx(records));
    db.close();

    const sink = create({ type: 'sqlite', table: 't' }, { dataDir: dir, component: 'bench' });
    await sink.start();
    const sliced = await worstStall(() => sink.write('e', records));
    await sink.close();

    console.log(`one event of ${n.toLocaleString()} records into sqlite (worst event-loop stall = longest a 1 ms timer was late)`);
    console.log(`  baseline, one transaction: stall ${base.stallMs.toFixed(1)} ms, total ${base.totalMs.toFixed(0)} ms`);
    console.log(`  sink, 1,000-record slices: stall ${sliced.stallMs.toFixed(1)} ms, total ${sliced.totalMs.toFixed(0)} ms`);
    console.log(`  stall ratio (sliced / one transaction): ${(sliced.stallMs / base.stallMs).toFixed(3)}x; total time ratio ${(sliced.totalMs / base.totalMs).toFixed(2)}x`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
