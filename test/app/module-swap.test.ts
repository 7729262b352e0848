// app.reload(): a component's module is swapped while events run, none lost or handled twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { watBytes } from '../runtime/wat.js';
import { taggedGuestWat } from '../helpers/tagged-guest.js';
import { guest, oneComponent, tempDir, waitUntil, withApp } from './helpers.js';

const body = (s: string) => new TextEncoder().encode(s);

type App = Parameters<Parameters<typeof withApp>[1]>[0];

/** An app of one component c1 running `initial` from <dir>/handler.wasm; the dir goes afterwards. */
async function withModule(initial: Uint8Array, extra: Record<string, unknown>, use: (app: App, file: string) => Promise<void>): Promise<void> {
  const dir = tempDir('fw-swap-');
  const file = path.join(dir, 'handler.wasm');
  fs.writeFileSync(file, initial);
  try {
    await withApp(oneComponent(dir, { module: file, ...extra }), (app) => use(app, file));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('reload swaps the module under load: in-flight events finish on the old one, later ones run the new one, none lost or repeated', { timeout: 180_000 }, async () => {
  const v2 = await watBytes(taggedGuestWat('v2'));
  await withModule(await watBytes(taggedGuestWat('v1', 20_000_000)), {}, async (app) => {
    const c = app.components.get('c1')!;
    const publish = (id: string) => c.source.publish({ id, source: 'embedded', subject: 'c1', headers: {}, body: body('x') });
    for (let i = 0; i < 40; i++) await publish(`before-${i}`);
    await waitUntil('a v1 event running on a thread', () => c.state().replicas.busy >= 1);
    // Same tick as the check: these jobs are on the old module's threads and not yet settled.
    const s = c.state();
    const settledBefore = s.counters.processed;
    const runningBefore = s.replicas.busy;
    const swap = await app.reload('c1', v2);
    assert.equal(swap.swapped, true);
    for (let i = 0; i < 40; i++) await publish(`after-${i}`);
    await waitUntil('all 80 events processed', () => c.state().counters.processed >= 80, 150_000);
    await swap.drained;

    const { rows, total } = await c.sink.rows!({ limit: 1000, offset: 0 });
    const byEvent = new Map<string, string[]>();
    for (const r of rows) byEvent.set(String(r.event_id), [...(byEvent.get(String(r.event_id)) ?? []), String(r.guest)]);
    assert.equal(total, 80);
    assert.equal(byEvent.size, 80, 'one row per event');
    const final = c.state().counters;
    assert.equal(final.processed, 80, 'each event handled exactly once');
    assert.equal(final.deadLettered, 0);
    assert.equal(final.retried, 0, 'no event was nacked by the swap');
    for (let i = 0; i < 40; i++) assert.deepEqual(byEvent.get(`after-${i}`), ['v2'], `after-${i} was published after the swap`);
    const v1 = [...byEvent.values()].filter((g) => g[0] === 'v1').length;
    assert.ok(v1 >= settledBefore + runningBefore, `the ${runningBefore} event(s) running at the swap finished on v1 (v1 rows ${v1}, settled before ${settledBefore})`);
    assert.ok([...byEvent.values()].some((g) => g[0] === 'v2') && v1 > 0);
    assert.equal(c.pool.stats().threads > 0 && c.pool.stats().completed >= 80, true, 'the old pool\'s counters are kept after it closed');
  });
});

test('replica counts set while the old module\'s pool closes (a scaler push in flight) do not reach it', { timeout: 120_000 }, async () => {
  await withModule(await watBytes(taggedGuestWat('v1')), {}, async (app) => {
    const c = app.components.get('c1')!;
    await c.source.publish({ id: 'e0', source: 'embedded', subject: 'c1', headers: {}, body: body('x') });
    await waitUntil('the first event processed', () => c.state().counters.processed >= 1);
    for (let round = 0; round < 3; round++) {
      // What the scale loop does on every push and poll, on every turn until the old pool is closed.
      const errors: Error[] = [];
      let on = true;
      const hammer = () => {
        try {
          c.pool.setReplicas(1 + (round % 2));
        } catch (err) {
          errors.push(err as Error);
        }
        if (on) setImmediate(hammer);
      };
      hammer();
      const swap = await app.reload('c1', await watBytes(taggedGuestWat(`v${round + 2}`)));
      await swap.drained;
      on = false;
      assert.deepEqual(errors.map((e) => e.message), [], `round ${round}`);
    }
    await c.source.publish({ id: 'e1', source: 'embedded', subject: 'c1', headers: {}, body: body('x') });
    await waitUntil('an event after the swaps', () => c.state().counters.processed >= 2);
    const { rows } = await c.sink.rows!({ limit: 100, offset: 0 });
    assert.equal(rows.find((r) => r.event_id === 'e1')?.guest, 'v4');
  });
});

test('reload refuses bytes that are not a module this component can run, and the old module keeps serving', { timeout: 120_000 }, async () => {
  await withModule(await watBytes(taggedGuestWat('v1')), {}, async (app, file) => {
    const c = app.components.get('c1')!;
    await assert.rejects(app.reload('c1', body('not wasm at all')), /not a WebAssembly module/);
    await assert.rejects(app.reload('c1', fs.readFileSync(guest('badimport'))), /imports env\.nope/);
    await assert.rejects(app.reload('c1', fs.readFileSync(guest('add'))), /no _start/);
    await assert.rejects(app.reload('nope'), /no component named nope in app test \(it runs: c1\)/);
    // The file itself, unchanged: nothing to swap.
    assert.equal((await app.reload('c1')).swapped, false);
    for (let i = 0; i < 5; i++) await c.source.publish({ id: `e${i}`, source: 'embedded', subject: 'c1', headers: {}, body: body('x') });
    await waitUntil('5 events processed', () => c.state().counters.processed >= 5);
    const { rows } = await c.sink.rows!({ limit: 100, offset: 0 });
    assert.deepEqual(rows.map((r) => r.guest), ['v1', 'v1', 'v1', 'v1', 'v1']);
    assert.equal(c.state().counters.deadLettered, 0);
    // The manifest's file rewritten: reload() with no bytes reads it again.
    fs.writeFileSync(file, await watBytes(taggedGuestWat('v2')));
    assert.equal((await app.reload('c1')).swapped, true);
    await c.source.publish({ id: 'e5', source: 'embedded', subject: 'c1', headers: {}, body: body('x') });
    await waitUntil('the sixth event processed', () => c.state().counters.processed >= 6);
    const after = await c.sink.rows!({ limit: 100, offset: 0 });
    assert.equal(after.rows.find((r) => r.event_id === 'e5')?.guest, 'v2');
  });
});

test('reload swaps an abi: component module (a WASI 0.2 component) the same way', { timeout: 600_000 }, async (t) => {
  const { cComponent, missingCToolchain } = await import('../wasm/component-guests.js');
  const missing = missingCToolchain();
  if (missing) return t.skip(missing);
  const program = (tag: string) => `#include <stdio.h>\nint main(void) { printf("{\\"guest\\":\\"${tag}\\"}\\n"); return 0; }\n`;
  const [v1, v2] = await Promise.all([cComponent(program('c1')), cComponent(program('c2'))]);
  await withModule(v1, { abi: 'component' }, async (app) => {
    const c = app.components.get('c1')!;
    const publish = (id: string) => c.source.publish({ id, source: 'embedded', subject: 'c1', headers: {}, body: body('x') });
    await publish('first');
    await waitUntil('the first event', () => c.state().counters.processed >= 1);
    await assert.rejects(app.reload('c1', await watBytes(taggedGuestWat('core'))), /component/);
    assert.equal((await app.reload('c1', v2)).swapped, true);
    await publish('second');
    await waitUntil('the second event', () => c.state().counters.processed >= 2);
    const { rows } = await c.sink.rows!({ limit: 10, offset: 0 });
    assert.deepEqual(Object.fromEntries(rows.map((r) => [r.event_id, r.guest])), { first: 'c1', second: 'c2' });
  });
});
