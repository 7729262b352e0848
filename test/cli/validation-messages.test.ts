import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { formatZodIssues } from '../../src/core/validation.js';
import { loadManifest } from '../../src/app/manifest.js';
import { repoRoot } from '../helpers/cli.js';

test('a wrong type says what is wanted, with an example, and what was given', () => {
  const schema = z.strictObject({ replicas: z.number().int(), ratio: z.number(), on: z.boolean(), name: z.string(), tags: z.array(z.string()) });
  const r = schema.safeParse({ replicas: 'four', ratio: 'half', on: 'yes', name: 3, tags: 'a' });
  assert.ok(!r.success);
  assert.deepEqual(formatZodIssues(r.error, '', schema), [
    'replicas: want a whole number, e.g. 8; got text',
    'ratio: want a number, e.g. 1.5; got text',
    'on: want true or false; got text',
    'name: want text, e.g. "hello" (quote it when it looks like a number or true/false); got a number',
    'tags: want a list, e.g. [a, b] or one "- item" per line; got text',
  ]);
});

function manifestProblem(yaml: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-valid-'));
  try {
    fs.writeFileSync(path.join(dir, 'featherweight.yaml'), yaml);
    assert.throws(() => loadManifest(path.join(dir, 'featherweight.yaml')), (err: Error) => {
      yaml = err.message;
      return true;
    });
    return yaml;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('manifest: maxReplicaCount "four" asks for a whole number; a YAML error shows the line and a caret', () => {
  const app = (scaling: string) => `apiVersion: featherweight.dev/v1
kind: App
metadata: { name: t }
components:
  - name: echo
    module: ${JSON.stringify(path.join(repoRoot, 'guests/build/echo.wasm'))}
    trigger: { type: embedded }
    scaling: ${scaling}
    sink: { type: sqlite, table: echo }
`;
  assert.match(manifestProblem(app('{ maxReplicaCount: "four" }')), /components\[0\]\.scaling\.maxReplicaCount: want a whole number, e.g\. 8; got text/);
  const frame = manifestProblem(app('{ maxReplicaCount: [4 }'));
  assert.match(frame, /not valid YAML: .*line 8/);
  assert.match(frame, /\n\s+scaling: \{ maxReplicaCount: \[4 \}\n\s*\^/);
});
