/**
 * The plugin registries and the one validation stage: each plugin's pure parse is what validation
 * reports (embedded, http and mqtt used to check only at open), each plugin's scaler type is one
 * the scaling layer knows, and a shape error in one component does not hide another's problems.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { triggers, embeddedQueueTypes, sources } from '../../src/sources/index.js';
import { scalers } from '../../src/app/scalers/index.js';
import { sinks } from '../../src/sinks/index.js';
import { validate } from '../../src/app/validate.js';
import { extraTriggerTypes, ownScalerType } from '../../src/app/scaling.js';
import { supportedTriggerTypes } from '../../src/scaling/index.js';
import { guest, tempDir } from './helpers.js';

const app = (components: unknown[]) => ({ apiVersion: 'featherweight.dev/v1', kind: 'App', metadata: { name: 'plugins' }, components });

function problemsOf(doc: unknown): string[] {
  const dir = tempDir();
  try {
    const r = validate(doc, { baseDir: dir });
    return r.ok ? [] : r.problems;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('each registry is keyed by its plugins\' own type, and every derived table comes from it', () => {
  for (const [type, p] of Object.entries(triggers)) {
    assert.equal(p.type, type);
    assert.ok(supportedTriggerTypes.includes(p.scaler), `${type} scales as ${p.scaler}, a scaler type src/scaling knows`);
    assert.equal(ownScalerType(type), p.scaler);
    assert.equal(embeddedQueueTypes.includes(type), p.queued);
    assert.ok(sources[type], `sources.${type} (the app's create) exists`);
  }
  for (const [type, p] of Object.entries(scalers)) {
    assert.equal(p.type, type);
    assert.ok(supportedTriggerTypes.includes(type), `KEDA's ${type} rule is in src/scaling`);
  }
  assert.deepEqual([...extraTriggerTypes].sort(), Object.keys(scalers).sort());
  for (const [type, p] of Object.entries(sinks)) assert.equal(p.type, type);
});

test('the two crons cannot be confused: the cron trigger scales on its queue, the cron scaler is a KEDA window', () => {
  assert.equal(triggers.cron!.scaler, 'cron-source');
  assert.equal(triggers.cron!.kube.kind, 'external-push');
  assert.equal(scalers.cron!.kube.type, 'cron');
  assert.ok(scalers.cron!.kube.required.includes('desiredReplicas'));
});

test('validate reports what only open used to check for embedded, http and mqtt, with the path and the fix', () => {
  const problems = problemsOf(
    app([
      { name: 'a', module: guest('echo'), trigger: { type: 'embedded', metadata: { visibilityTimeout: 'soon', pollInterval: 'often' } } },
      { name: 'b', module: guest('echo'), trigger: { type: 'http', metadata: { maxBody: 'lots' } } },
      { name: 'c', module: guest('echo'), trigger: { type: 'mqtt', metadata: { topic: 't', sessionExpiry: 'forever' } } },
    ]),
  );
  assert.equal(problems.length, 4, problems.join('\n'));
  assert.match(problems[0]!, /^components\[0\]\.trigger\.metadata\.visibilityTimeout: invalid duration/);
  assert.match(problems[1]!, /^components\[0\]\.trigger\.metadata\.pollInterval: invalid duration/);
  assert.match(problems[2]!, /^components\[1\]\.trigger\.metadata\.maxBody: invalid size/);
  assert.match(problems[3]!, /^components\[2\]\.trigger\.metadata\.sessionExpiry: invalid duration/);
});

test('a shape error in one component does not hide the trigger problems of the others', () => {
  const problems = problemsOf(
    app([
      { name: 'a', module: guest('echo'), limts: {} },
      { name: 'b', module: guest('echo'), trigger: { type: 'smtp', metadata: { listen: 'nonsense' } } },
    ]),
  );
  assert.equal(problems.length, 2, problems.join('\n'));
  assert.match(problems[0]!, /^components\[0\]: unknown field "limts".*did you mean "limits"/);
  assert.match(problems[1]!, /^components\[1\]\.trigger\.metadata\.listen: "nonsense": use host:port/);
});

test('an unknown trigger or sink type names the registered ones', () => {
  const problems = problemsOf(app([{ name: 'a', module: guest('echo'), trigger: { type: 'kafka' }, sink: { type: 'constructor' } }]));
  assert.deepEqual(problems, [
    `components[0].trigger.type: unknown trigger "kafka" (allowed: ${Object.keys(triggers).join(', ')})`,
    `components[0].sink.type: unknown sink "constructor" (allowed: ${Object.keys(sinks).join(', ')})`,
  ]);
});

test('a sink table that is not a safe SQL identifier is a validation problem, not a failure at open', () => {
  const problems = problemsOf(
    app([
      { name: 'a', module: guest('echo'), sink: { type: 'sqlite', table: 'x; DROP TABLE y' } },
      { name: 'b', module: guest('echo'), sink: { type: 'postgres', connectionString: 'postgres://127.0.0.1/postgres', table: '1abc' } },
    ]),
  );
  assert.equal(problems.length, 2, problems.join('\n'));
  assert.match(problems[0]!, /^components\[0\]\.sink\.table: sink table "x; DROP TABLE y" is not a safe SQL identifier: use letters, digits and _/);
  assert.match(problems[1]!, /^components\[1\]\.sink\.table: sink table "1abc" is not a safe SQL identifier/);
});
