// The hostile guests of guests/hostile/ through the replica pool: each ends in its typed error, the
// host's event loop keeps turning while it runs, and the host's memory does not follow the attack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createPool, type CommandResult } from '../../src/runtime/pool.js';
import { defaultLimits, loadModule, type Limits } from '../../src/wasm/index.js';
import { repoRoot } from '../helpers/cli.js';
import { oneComponent, tempDir, waitUntil, withApp } from '../app/helpers.js';

const hostile = (name: string, limits?: Partial<Limits>) =>
  loadModule(path.join(repoRoot, 'guests/build/hostile', `${name}.wasm`), limits).module;
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Runs one event on a fresh pool while counting event-loop ticks: the host must keep answering throughout. */
async function runHostile(name: string, limits: Limits): Promise<{ r: CommandResult; ticks: number }> {
  const pool = createPool({ module: hostile(name, limits), abi: 'wasi-command', limits, maxThreads: 1 });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 20);
  try {
    pool.setReplicas(1);
    const r = await pool.submit({ kind: 'command', stdin: new Uint8Array(0), env: {}, args: [] });
    return { r, ticks };
  } finally {
    clearInterval(timer);
    await pool.close();
  }
}

test('table bomb: table.grow fails inside the guest at maxTableElements (it traps on the refusal), the host keeps its memory', async () => {
  const rssBefore = process.memoryUsage().rss;
  const { r } = await runHostile('table-bomb', { ...defaultLimits, timeoutMs: 30_000 });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.error.kind, 'trap');
  assert.match(r.error.message, /unreachable/);
  assert.equal(text(r.stderr), 'table.grow refused\n', 'the guest saw table.grow return -1');
  // Unchecked, the 16 tables of 10 M elements take ~4.7 GB; capped they are 20,000 elements (~1.25 MiB).
  assert.ok(process.memoryUsage().rss - rssBefore < 512 * 2 ** 20, 'RSS did not follow the table bomb');
});

test('table bomb at maxMemory 1 MiB: the pool refuses the module up front, naming both limits', () => {
  const limits = { ...defaultLimits, maxMemoryBytes: 2 ** 20 };
  assert.throws(() => createPool({ module: hostile('table-bomb', limits), abi: 'wasi-command', limits }), (err: Error & { kind?: string }) => {
    assert.equal(err.kind, 'memory-limit');
    assert.match(err.message, /for its tables .*above the memory limit of 1 MiB .*limits\.maxMemory.*limits\.maxTableElements/);
    return true;
  });
});

test('stderr bomb: cut at the default stderr limit (1 MiB, apart from stdout) with output-limit on stderr', async () => {
  const { r } = await runHostile('stderr-bomb', { ...defaultLimits, timeoutMs: 30_000 });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.error.kind, 'output-limit');
  assert.match(r.error.message, /more than 1 MiB to stderr \(the stderr limit, maxStderr\)/);
  assert.equal(r.stderr.length, 2 ** 20, 'stderr kept up to the limit');
  assert.equal(r.stdout.length, 0);
});

test('stderr bomb: maxStderrBytes sets the stderr cap on its own, whatever maxStdoutBytes is', async () => {
  const { r } = await runHostile('stderr-bomb', { ...defaultLimits, timeoutMs: 30_000, maxStdoutBytes: 2 ** 10, maxStderrBytes: 3 * 2 ** 20 });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.error.kind, 'output-limit');
  assert.match(r.error.message, /more than 3 MiB to stderr/);
  assert.equal(r.stderr.length, 3 * 2 ** 20);
});

test('endless loop: the watchdog ends it as timeout while the event loop keeps turning', async () => {
  const { r, ticks } = await runHostile('spin', { ...defaultLimits, timeoutMs: 500 });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.error.kind, 'timeout');
  assert.ok(ticks > 0, 'timers fired on the host while the guest spun');
});

test('row bomb: endless `{}` lines end at the output limit (stdout) as output-limit', async () => {
  const { r } = await runHostile('row-bomb', { ...defaultLimits, timeoutMs: 30_000, maxStdoutBytes: 2 ** 20 });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.error.kind, 'output-limit');
  assert.match(r.error.message, /to stdout/);
  assert.match(text(r.stdout.subarray(0, 9)), /^\{\}\n\{\}\n\{\}\n/);
});

test('stderr bomb through the app: limits.maxStderr in the manifest caps stderr; the event is dead-lettered as output-limit at once', async () => {
  const dir = tempDir('fw-stderr-cap-');
  const manifest = oneComponent(dir, { module: path.join(repoRoot, 'guests/build/hostile/stderr-bomb.wasm'), limits: { maxStderr: '64KiB', timeout: '30s' } });
  assert.equal(manifest.components[0]!.limits.maxStderrBytes, 64 * 1024);
  assert.equal(oneComponent(dir, {}).components[0]!.limits.maxStderrBytes, defaultLimits.maxStderrBytes, 'default 1 MiB');
  await withApp(manifest, async (app) => {
    await app.components.get('c1')!.source.publish({ id: 'bomb-1', source: 'embedded', subject: 'c1', headers: {}, body: new Uint8Array(1) });
    await waitUntil('the stderr bomb dead-lettered', () => app.deadLetters.count('c1') === 1);
    const [d] = app.deadLetters.list({ component: 'c1' });
    assert.match(d!.reason, /^output-limit: guest wrote more than 64 KiB to stderr \(the stderr limit, maxStderr\)/);
    assert.equal(d!.event.attempt, 1, 'not retried: the same event can only fail the same way');
    assert.equal(d!.stderrTail, 'e'.repeat(2048));
  });
});
