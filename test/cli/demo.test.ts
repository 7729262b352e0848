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

// One demo run covers both what `--once` prints and exits with, and what the long-running demo
// does after its summary (two runs cost a CLI start and a burst more).
test('`featherweight demo --count 100`: exact rows, replicas 0 -> >1 -> 0, a progress bar toward the count; its "send the burst again" hint runs as printed', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-demo-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const demo = spawnCli(['demo', '--count', '100', '--listen', '127.0.0.1:0', '--smtp', '127.0.0.1:0', '--data-dir', dir]);
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

  const rows = /rows\s+(\d+) in SQLite \(expected (\d+)\)/.exec(out);
  assert.ok(rows, out);
  assert.equal(rows[1], rows[2], 'SQLite holds exactly the expected rows');
  assert.match(out, /mails\s+100 accepted of 100/);
  const peak = /peak replicas\s+(\d+) of/.exec(out);
  assert.ok(peak && Number(peak[1]) > 1, `replicas rose above 1: ${peak?.[1]}`);
  assert.match(out, /back to 0 replicas\s+yes/);
  assert.match(out, /dead letters\s+0/);
  // The progress bar runs toward the 100 mails (not toward those sent so far) and ends at 100%.
  const bars = out.split('\n').filter((l) => /^  [█░]{24} /.test(l));
  assert.ok(bars.length > 0, out);
  for (const b of bars) assert.match(b, /^  [█░]{24} +\d+%  (ETA (–|[\d.]+ (s|ms|µs))|done)  sent \d+\/100  processed \d+ /);
  assert.match(bars.at(-1)!, /^  █{24} 100%  done  sent 100\/100  processed 100 /);
  // One start point for every timing: the first row comes before all rows, and all rows not before the last mail was sent.
  assert.match(out, /timings from\s+the start of the burst/);
  const firstRow = ms(field(out, 'first row after'));
  const sent = ms(field(out, 'burst sent after').replace(/ \(.*\)$/, ''));
  const allRows = ms(field(out, 'all rows after'));
  assert.ok(firstRow <= allRows && sent <= allRows, `first row ${firstRow} ms, burst sent ${sent} ms, all rows ${allRows} ms`);

  // The hint: the demo's own burst shape, against the SMTP port it bound, with the next seed's mails.
  const args = hint.slice(hint.indexOf('mail burst')).split(' ');
  assert.match(args.join(' '), /^mail burst --server 127\.0\.0\.1:\d+ --count 100 --rate 0 --connections 8 --lines 20-600 --seed 2$/);
  const again = await runCli(args);
  assert.equal(again.code, 0, again.stderr);
  const second = /done: 100 sent, 0 failed .* should yield (\d+) rows/.exec(again.stdout);
  assert.ok(second, again.stdout);
  const url = /Dashboard: (http:\/\/127\.0\.0\.1:\d+)\//.exec(out)![1]!;
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { components } = (await (await fetch(`${url}/v1/components`)).json()) as { components: Array<{ counters: { processed: number } }> };
    if (components[0]!.counters.processed === 200) break;
    assert.ok(Date.now() < deadline, `the second burst was not processed: ${JSON.stringify(components[0]!.counters)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  demo.kill('SIGINT');
  assert.equal(await exited, 0, out);

  // The rows are really there, one per attachment line, keyed by (event, index): both bursts.
  const db = new Database(path.join(dir, 'rows.db'), { readonly: true });
  const { n, events } = db.prepare('SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS events FROM mail_lines').get() as { n: number; events: number };
  const sample = db.prepare('SELECT file, line, text FROM mail_lines WHERE line = 1 LIMIT 1').get() as { file: string; line: number; text: string };
  db.close();
  assert.equal(n, Number(rows[1]) + Number(second[1]));
  assert.ok(events > 100 && events <= 200);
  assert.match(sample.file, /\.(txt|csv|log)$/);
  assert.ok(sample.text.length > 0);
});
