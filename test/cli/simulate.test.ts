import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, repoRoot } from '../helpers/cli.js';
import { loadScaledObject } from '../../src/cli/commands/simulate.js';
import { formatRows, parseTrace, simulate } from '../../src/scaling/index.js';

const yaml = path.join(repoRoot, 'examples/scaling/burst.yaml');
const trace = path.join(repoRoot, 'examples/scaling/burst.csv');
const golden = readFileSync(path.join(repoRoot, 'test/scaling/golden/burst.csv'), 'utf8');

test('simulate replays the burst example exactly as the golden file (in process)', async () => {
  const so = loadScaledObject(yaml);
  const t = parseTrace(readFileSync(trace, 'utf8'), so.spec);
  const out = formatRows(await simulate(so.spec, t, { hpaSyncMs: 15_000 }), so.spec, t.columns, 'csv');
  assert.equal(out, golden);
  // the story the golden file tells: push-free activation at the 30 s poll, 1 -> 5 -> 10 -> 12, back to 0
  const rows = out.trim().split('\n').slice(1).map((l) => l.split(','));
  assert.deepEqual(rows.find((r) => r[0] === '30'), ['30', '1', 'true', '1', '1', 'keda: ScalerActive: activated']);
  assert.deepEqual(rows.filter((r) => r[5] === 'hpa: ScaleUpLimit').map((r) => r[4]), ['5', '10']);
  assert.equal(rows.find((r) => r[5] === 'keda: ScalerNotActive: to zero')?.[0], '240');
});

test('featherweight simulate prints the golden CSV', async () => {
  const r = await runCli(['simulate', yaml, '--trace', trace]);
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  assert.equal(r.stdout, golden);
});

test('featherweight simulate --format table and --hpa-sync', async () => {
  const r = await runCli(['simulate', yaml, '--trace', trace, '--format', 'table', '--hpa-sync', '30s']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0]!, /^t\s+metric\s+active\s+desired\s+replicas\s+reason$/);
  assert.ok(lines.some((l) => /^30\s+1\s+true\s+1\s+1\s+keda: ScalerActive: activated$/.test(l)));
  assert.ok(!lines.some((l) => /^15\s/.test(l)), 'no sync at 15 s with a 30 s period');
});

test('featherweight simulate rejects bad input with a message naming the problem', async () => {
  const badCol = await runCli(['simulate', yaml, '--trace', path.join(repoRoot, 'examples/scaling/redis-streams.yaml')]);
  assert.equal(badCol.code, 1);
  assert.match(badCol.stderr, /trace header must start with "t"/);
  const badFmt = await runCli(['simulate', yaml, '--trace', trace, '--format', 'json']);
  assert.equal(badFmt.code, 1);
  assert.match(badFmt.stderr, /--format must be csv or table/);
});
