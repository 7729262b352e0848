import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { runCli, spawnCli } from '../helpers/cli.js';

/** "1.23 s" / "845 ms" / "12 µs" as ms. */
function ms(text: string): number {
  const m = /^([\d.]+) (s|ms|µs)$/.exec(text.trim());
  assert.ok(m, `a duration: ${JSON.stringify(text)}`);
  return Number(m[1]) * (m[2] === 's' ? 1000 : m[2] === 'ms' ? 1 : 0.001);
}
const field = (stdout: string, key: string) => new RegExp(`^  ${key}\\s+(.+)$`, 'm').exec(stdout)?.[1] ?? '';

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
  // The progress bar runs toward the 100 mails (not toward those sent so far) and ends at 100%.
  const bars = r.stdout.split('\n').filter((l) => /^  [█░]{24} /.test(l));
  assert.ok(bars.length > 0, r.stdout);
  for (const b of bars) assert.match(b, /^  [█░]{24} +\d+%  (ETA (–|[\d.]+ (s|ms|µs))|done)  sent \d+\/100  processed \d+ /);
  assert.match(bars.at(-1)!, /^  █{24} 100%  done  sent 100\/100  processed 100 /);
  // One start point for every timing: the first row comes before all rows, and all rows not before the last mail was sent.
  assert.match(r.stdout, /timings from\s+the start of the burst/);
  const firstRow = ms(field(r.stdout, 'first row after'));
  const sent = ms(field(r.stdout, 'burst sent after').replace(/ \(.*\)$/, ''));
  const allRows = ms(field(r.stdout, 'all rows after'));
  assert.ok(firstRow <= allRows && sent <= allRows, `first row ${firstRow} ms, burst sent ${sent} ms, all rows ${allRows} ms`);
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

test('`featherweight demo` keeps serving; its "send the burst again" hint runs as printed and repeats the burst', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-demo-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const demo = spawnCli(['demo', '--count', '40', '--listen', '127.0.0.1:0', '--smtp', '127.0.0.1:0', '--data-dir', dir]);
  let out = '';
  demo.stdout!.on('data', (d) => (out += d));
  demo.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
  t.after(() => void demo.kill('SIGKILL'));
  const hint = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = /^  Send the burst again: (.+)$/m.exec(out);
      if (m) resolve(m[1]!);
    };
    demo.stdout!.on('data', check);
    void exited.then((code) => reject(new Error(`demo exited (${code}) before printing the hint:\n${out}`)));
  });
  // the demo's own burst shape, against the SMTP port it bound, with the next seed's mails
  const args = hint.slice(hint.indexOf('mail burst')).split(' ');
  assert.match(args.join(' '), /^mail burst --server 127\.0\.0\.1:\d+ --count 40 --rate 0 --connections 8 --lines 20-600 --seed 2$/);
  const again = await runCli(args);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /done: 40 sent, 0 failed/);
  const url = /Dashboard: (http:\/\/127\.0\.0\.1:\d+)\//.exec(out)![1]!;
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { components } = (await (await fetch(`${url}/v1/components`)).json()) as { components: Array<{ counters: { processed: number } }> };
    if (components[0]!.counters.processed === 80) break;
    assert.ok(Date.now() < deadline, `the second burst was not processed: ${JSON.stringify(components[0]!.counters)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  demo.kill('SIGINT');
  assert.equal(await exited, 0, out);
});
