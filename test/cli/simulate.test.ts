import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
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
  assert.deepEqual(rows.find((r) => r[0] === '30'), ['30', '1', 'true', '1', '1', 'keda: ScalerActive: embedded 1 > activation 0']);
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
  assert.ok(lines.some((l) => /^30\s+1\s+true\s+1\s+1\s+keda: ScalerActive: embedded 1 > activation 0$/.test(l)));
  assert.ok(!lines.some((l) => /^15\s/.test(l)), 'no sync at 15 s with a 30 s period');
});

test('featherweight simulate --json: the rows the CSV shows, as objects; with --format decisions only the changes', async () => {
  const r = await runCli(['simulate', yaml, '--trace', trace, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as Array<{ t: number; replicas: number; from: number; reason: string; values: Record<string, number | null> }>;
  assert.equal(rows.length, golden.trim().split('\n').length - 1);
  assert.deepEqual(
    rows.filter((x) => x.reason === 'hpa: ScaleUpLimit').map((x) => x.replicas),
    ['5', '10'].map(Number),
  );
  const d = await runCli(['simulate', yaml, '--trace', trace, '--format', 'decisions', '--json']);
  assert.equal(d.code, 0, d.stderr);
  const changes = JSON.parse(d.stdout) as typeof rows;
  assert.ok(changes.length > 0 && changes.every((x) => x.replicas !== x.from));
  assert.deepEqual(changes[0] && [changes[0].t, changes[0].from, changes[0].replicas], [30, 0, 1]);
});

test('featherweight simulate rejects bad input with a message naming the problem', async () => {
  const badCol = await runCli(['simulate', yaml, '--trace', path.join(repoRoot, 'examples/scaling/redis-streams.yaml')]);
  assert.equal(badCol.code, 1);
  assert.match(badCol.stderr, /trace header must start with "t"/);
  const badFmt = await runCli(['simulate', yaml, '--trace', trace, '--format', 'json']);
  assert.equal(badFmt.code, 1);
  assert.match(badFmt.stderr, /--format must be csv, table or decisions/);
});

test('featherweight simulate app.yaml --component replays the component as `up` resolves it and prints each decision with its reason', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-sim-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const csv = path.join(dir, 'mail.csv');
  writeFileSync(csv, 't,metric\n0,0\n1,12\n4,0\n20,0\n');
  const app = path.join(repoRoot, 'examples/you-got-mail/featherweight.yaml');
  const r = await runCli(['simulate', app, '--component', 'mail-lines', '--trace', csv, '--format', 'decisions']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  // the manifest's hpaSyncPeriod (250ms) and behavior (+4 pods per 1 s) apply; lagThreshold 1 from the smtp trigger
  assert.equal(lines[0], 't=1s 0 → 1 (keda: ScalerActive: smtp 12 > activation 0)');
  assert.equal(lines[1], 't=1s 1 → 5 (hpa: ScaleUpLimit, recommendation 12)');
  assert.ok(lines.some((l) => / 5 → 8 \(hpa: TooManyReplicas/.test(l)), r.stdout);
  assert.match(lines.at(-1)!, / 1 → 0 \(keda: ScalerNotActive: to zero\)$/);
  const csvOut = await runCli(['simulate', app, '--trace', csv]);
  assert.equal(csvOut.code, 0, 'one component: --component may be left out');
  assert.match(csvOut.stdout, /^t,metric,active,desired,replicas,reason\n/);
  const bad = await runCli(['simulate', app, '--component', 'nope', '--trace', csv]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /no component "nope"; components: mail-lines/);
  const notApp = await runCli(['simulate', yaml, '--component', 'x', '--trace', trace]);
  assert.match(notApp.stderr, /--component is for app manifests/);
});
