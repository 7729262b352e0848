// The shipped guests through the pool: every hostile fixture ends in its typed error and the same pool
// keeps serving; stdin and env reach the guest and the caller's bytes stay intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createPool, type CommandResult } from '../../src/runtime/pool.js';
import { defaultLimits, loadModule } from '../../src/wasm/index.js';
import { repoRoot } from '../helpers/cli.js';

const load = (name: string) => loadModule(path.join(repoRoot, 'guests/build', `${name}.wasm`)).module;
const limits = { ...defaultLimits, timeoutMs: 1000, maxMemoryBytes: 8 * 2 ** 20, maxStdoutBytes: 2 ** 20 };
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function runOn(name: string, stdin = new Uint8Array(0), env: Record<string, string> = {}, args: string[] = []): Promise<CommandResult> {
  const pool = createPool({ module: load(name), abi: 'wasi-command', limits, maxThreads: 1 });
  try {
    pool.setReplicas(1);
    const r = await pool.submit({ kind: 'command', stdin, env, args });
    // The same pool serves again after whatever the guest did.
    const again = await pool.submit({ kind: 'command', stdin, env, args });
    assert.equal(again.ok, r.ok);
    if (!r.ok && !again.ok) assert.equal(again.error.kind, r.error.kind);
    return r;
  } finally {
    await pool.close();
  }
}

const hostile: [string, string, RegExp][] = [
  ['loop', 'timeout', /guest ran past 1s/],
  ['membomb', 'memory-limit', /memory limit of 8 MiB/],
  ['trap', 'trap', /unreachable/],
  ['recurse', 'trap', /stack/],
  ['bigout', 'output-limit', /more than 1 MiB/],
  ['badimport', 'invalid-module', /env\.nope/],
  ['fail', 'exit', /code 3/],
];
for (const [name, kind, message] of hostile) {
  test(`pool: ${name} ends as ${kind} and the pool keeps serving`, async () => {
    const r = await runOn(name);
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.error.kind === kind, JSON.stringify(!r.ok && r.error));
    assert.ok(!r.ok && message.test(r.error.message), !r.ok ? r.error.message : '');
  });
}

test('pool: stdin (a view into a larger buffer), env and args reach the guest; the caller keeps its bytes', async () => {
  const slab = Buffer.from('xxxxhello from a slab\nyyyy');
  const body = slab.subarray(4, slab.length - 4);
  const r = await runOn('echo', body, { EVENT_ID: 'e-1' }, ['--env']);
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(text(r.stdout), 'EVENT_ID=e-1\nhello from a slab\n');
  assert.equal(body.toString(), 'hello from a slab\n'); // not detached, not altered
  assert.equal(slab.byteLength, 26);
});
