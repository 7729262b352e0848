// `featherweight up --watch`: a real process; its module file replaced, or its sources rebuilt, while events flow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { spawnCli } from '../helpers/cli.js';
import { watBytes } from '../runtime/wat.js';
import { taggedGuestWat } from '../helpers/tagged-guest.js';

interface LogLine { msg: string; [k: string]: unknown }

/** `up --watch` on the manifest, its JSON log lines collected; resolves once it is up. */
async function startUp(manifest: string): Promise<{ child: ChildProcess; url: string; logs: LogLine[]; stderr: () => string }> {
  const child = spawnCli(['up', manifest, '--watch', '--listen', '127.0.0.1:0'], { cwd: path.dirname(manifest) });
  const logs: LogLine[] = [];
  let stderr = '';
  let buf = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line.startsWith('{')) continue; // a build's own output
        const entry = JSON.parse(line) as LogLine;
        logs.push(entry);
        if (entry.msg === 'featherweight is up') resolve(entry.url as string);
      }
    });
    child.once('exit', (code) => reject(new Error(`up exited with ${code}: ${stderr}`)));
  });
  return { child, url, logs, stderr: () => stderr };
}

async function until<T>(what: string, f: () => T | undefined | Promise<T | undefined>, ms = 90_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function post(url: string): Promise<string> {
  const r = await fetch(`${url}/v1/components/echo/events`, { method: 'POST', body: 'x' });
  assert.equal(r.status, 202);
  return ((await r.json()) as { id: string }).id;
}

async function state(url: string) {
  return (await (await fetch(`${url}/v1/components/echo`)).json()) as { counters: { processed: number; retried: number; deadLettered: number } };
}

async function rowsByEvent(url: string): Promise<Map<string, string[]>> {
  const { rows } = (await (await fetch(`${url}/v1/components/echo/rows?limit=1000`)).json()) as { rows: Array<{ event_id: string; guest: string }> };
  const m = new Map<string, string[]>();
  for (const r of rows) m.set(r.event_id, [...(m.get(r.event_id) ?? []), r.guest]);
  return m;
}

function manifest(dir: string, extra = ''): string {
  const file = path.join(dir, 'featherweight.yaml');
  fs.writeFileSync(file, `apiVersion: featherweight.dev/v1
kind: App
metadata: { name: watched }
dataDir: ./state
components:
  - name: echo
    module: ./handler.wasm
${extra}    trigger: { type: embedded }
    scaling: { maxReplicaCount: 4, cooldownPeriod: 1 }
    sink: { type: sqlite, table: echo }
`);
  return file;
}

/** Writes the file whole, then renames it over the old one, as a build or `cp` onto a new inode would. */
function replace(file: string, bytes: Uint8Array): void {
  fs.writeFileSync(`${file}.tmp`, bytes);
  fs.renameSync(`${file}.tmp`, file);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

test('up --watch: a new .wasm is swapped in while events run, none lost or handled twice; a broken one is refused with its reason and the old one keeps serving', { timeout: 240_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-watch-'));
  const handler = path.join(dir, 'handler.wasm');
  fs.writeFileSync(handler, await watBytes(taggedGuestWat('v1', 5_000_000)));
  const up = await startUp(manifest(dir));
  try {
    const before: string[] = [];
    for (let i = 0; i < 30; i++) before.push(await post(up.url));
    await until('the first v1 row', async () => (await state(up.url)).counters.processed > 0);
    replace(handler, await watBytes(taggedGuestWat('v2')));
    await until('the swap logged', () => up.logs.some((l) => /^watch: echo now runs the new module handler\.wasm$/.test(l.msg)));
    const after: string[] = [];
    for (let i = 0; i < 30; i++) after.push(await post(up.url));
    await until('60 events processed', async () => (await state(up.url)).counters.processed >= 60);

    let rows = await rowsByEvent(up.url);
    assert.equal(rows.size, 60, 'every event has its row');
    for (const id of [...before, ...after]) assert.equal(rows.get(id)?.length, 1, `event ${id}: one row`);
    for (const id of after) assert.deepEqual(rows.get(id), ['v2'], `event ${id} came after the swap`);
    assert.ok(before.some((id) => rows.get(id)![0] === 'v1'), 'events before the swap ran on v1');
    const s = await state(up.url);
    assert.equal(s.counters.processed, 60, 'no event handled twice');
    assert.equal(s.counters.retried + s.counters.deadLettered, 0);

    // A broken module: refused, named, and v2 keeps serving.
    replace(handler, new TextEncoder().encode('this is not wasm'));
    const refused = await until('the refusal logged', () => up.logs.find((l) => l.msg.startsWith('watch: echo keeps its running module: ')));
    assert.match(refused.msg, /^watch: echo keeps its running module: .*not a WebAssembly module: the bytes do not start with \\0asm$/);
    assert.equal(refused.level, 50, 'logged as an error');
    const late = await post(up.url);
    await until('the late event processed', async () => (await state(up.url)).counters.processed >= 61);
    rows = await rowsByEvent(up.url);
    assert.deepEqual(rows.get(late), ['v2']);
  } finally {
    await stop(up.child);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('up --watch: a source change runs the build command and swaps the module; a failed build is logged and the old module keeps serving', { timeout: 240_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-watch-'));
  fs.mkdirSync(path.join(dir, 'src'));
  fs.mkdirSync(path.join(dir, 'variants'));
  fs.writeFileSync(path.join(dir, 'variants/v1.wasm'), await watBytes(taggedGuestWat('v1')));
  fs.writeFileSync(path.join(dir, 'variants/v2.wasm'), await watBytes(taggedGuestWat('v2')));
  fs.writeFileSync(path.join(dir, 'src/version.txt'), 'v1\n');
  // The "compiler": copies the variant src/version.txt names onto the module, or fails for an unknown one.
  fs.writeFileSync(path.join(dir, 'build.mjs'), `import fs from 'node:fs';
const v = fs.readFileSync(fs.existsSync('src/override/version.txt') ? 'src/override/version.txt' : 'src/version.txt', 'utf8').trim();
if (!fs.existsSync('variants/' + v + '.wasm')) { console.error('no variant ' + v); process.exit(3); }
fs.copyFileSync('variants/' + v + '.wasm', 'handler.wasm');
`);
  fs.copyFileSync(path.join(dir, 'variants/v1.wasm'), path.join(dir, 'handler.wasm'));
  const up = await startUp(manifest(dir, '    build: node build.mjs\n'));
  try {
    const first = await post(up.url);
    await until('the first event processed', async () => (await state(up.url)).counters.processed >= 1);
    assert.deepEqual((await rowsByEvent(up.url)).get(first), ['v1']);

    fs.writeFileSync(path.join(dir, 'src/version.txt'), 'v2\n');
    await until('the rebuilt module swapped in', () => up.logs.some((l) => l.msg === 'watch: echo now runs the new module handler.wasm'));
    assert.ok(up.logs.some((l) => l.msg === 'watch: building echo: node build.mjs'), 'the build ran');
    const second = await post(up.url);
    await until('the second event processed', async () => (await state(up.url)).counters.processed >= 2);
    assert.deepEqual((await rowsByEvent(up.url)).get(second), ['v2']);

    fs.writeFileSync(path.join(dir, 'src/version.txt'), 'v9\n');
    const failed = await until('the failed build logged', () => up.logs.find((l) => l.msg.startsWith('watch: echo keeps its running module: ')));
    assert.equal(failed.msg, 'watch: echo keeps its running module: build of echo failed (exit code 3): node build.mjs');
    const third = await post(up.url);
    await until('the third event processed', async () => (await state(up.url)).counters.processed >= 3);
    assert.deepEqual((await rowsByEvent(up.url)).get(third), ['v2']);
    assert.equal(up.logs.filter((l) => /now runs the new module/.test(l.msg)).length, 1, 'one swap: the build writing handler.wasm did not cause a second one');

    // A folder made after the start is watched too, and the file written into it at once counts.
    fs.mkdirSync(path.join(dir, 'src/override'));
    fs.writeFileSync(path.join(dir, 'src/override/version.txt'), 'v1\n');
    await until('the second swap', () => up.logs.filter((l) => l.msg === 'watch: echo now runs the new module handler.wasm').length === 2);
    const fourth = await post(up.url);
    await until('the fourth event processed', async () => (await state(up.url)).counters.processed >= 4);
    assert.deepEqual((await rowsByEvent(up.url)).get(fourth), ['v1']);
    const s = await state(up.url);
    assert.equal(s.counters.processed, 4);
    assert.equal(s.counters.retried + s.counters.deadLettered, 0);
  } finally {
    await stop(up.child);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
