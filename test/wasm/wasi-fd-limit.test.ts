// Issue 10's fd bomb: one instance holds at most limits.maxOpenFiles WASI fds (default 1024); past it
// path_open is MFILE and the host's own descriptor count stays bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { repoRoot } from '../helpers/cli.js';
import { fdsUnder } from '../helpers/fds.js';
import { createWasi, defaultLimits } from '../../src/wasm/index.js';
import { buildC, missingClang, skipOrFail } from './fixtures/c-build.js';

const EMFILE = 33;

function withDir(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-fdlimit-'));
  return Promise.resolve(fn(dir)).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test('the default cap on open fds per instance is 1024', () => {
  assert.equal(defaultLimits.maxOpenFiles, 1024);
});

test('path_open past maxOpenFiles is MFILE, opens no host fd, and a close makes room again', () => withDir((dir) => {
  writeFileSync(path.join(dir, 'f.txt'), 'x');
  const wasi = createWasi({ args: ['g'], env: {}, stdin: new Uint8Array(0), maxStdoutBytes: 100, maxOpenFiles: 8,
    preopens: [{ host: dir, guest: '/d', writable: false }] });
  const memory = new WebAssembly.Memory({ initial: 1 });
  wasi.bind(memory);
  const w = wasi.imports.wasi_snapshot_preview1;
  new Uint8Array(memory.buffer).set(new TextEncoder().encode('f.txt'), 100);
  const open = (): number => w.path_open!(3, 1, 100, 5, 0, 2n, 0n, 0, 200);
  const hostFds = (): number => fdsUnder(dir);
  const before = hostFds();
  const got: number[] = [];
  // 8 = stdin, stdout, stderr, the preopen and 4 files
  for (let i = 0; i < 4; i++) {
    assert.equal(open(), 0);
    got.push(new DataView(memory.buffer).getUint32(200, true));
  }
  assert.deepEqual(got, [4, 5, 6, 7]);
  assert.equal(hostFds() - before, 4);
  assert.equal(open(), EMFILE);
  assert.equal(hostFds() - before, 4, 'the refused open left no host fd');
  assert.equal(w.fd_close!(5), 0);
  assert.equal(open(), 0);
  assert.equal(new DataView(memory.buffer).getUint32(200, true), 5, 'the lowest free number is reused');
  wasi.dispose();
  assert.equal(hostFds(), before, 'dispose closes what the guest left open');
}));

/** Runs a guest in a worker and samples how many host fds point into its directory until it ends. */
async function runWatching(wasm: string, args: string[], root: string, limits: object): Promise<{ stdout: string; exitCode: number; peak: number }> {
  const fixture = new URL('./fixtures/wasi-suite-worker.ts', import.meta.url).href;
  const worker = new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(fixture)}); })`,
    { eval: true, workerData: { wasm, args, env: {}, root, guest: '/data', writable: false, limits } });
  let peak = 0;
  const timer = setInterval(() => { peak = Math.max(peak, fdsUnder(root)); }, 5);
  try {
    const out = await new Promise<{ stdout: string; exitCode: number }>((resolve, reject) => {
      worker.on('message', (m) => { if (!m.started) resolve(m); });
      worker.once('error', reject);
    });
    return { ...out, peak };
  } finally {
    clearInterval(timer);
    await worker.terminate();
  }
}

test('the fd bomb (guests/c/fdbomb.c) gets MFILE at the limit and the host fd count stays bounded', async (t) => {
  const why = missingClang();
  if (why) return skipOrFail(t, why);
  await withDir(async (dir) => {
    const wasm = path.join(dir, 'fdbomb.wasm');
    buildC(path.join(repoRoot, 'guests/c/fdbomb.c'), wasm);
    const data = path.join(dir, 'data');
    await import('node:fs').then((fs) => fs.mkdirSync(data));
    writeFileSync(path.join(data, 'f.txt'), 'x');
    const hostFds = (): number => fdsUnder(data);
    const before = hostFds();
    for (const limit of [64, 1024]) {
      const r = await runWatching(wasm, ['/data/f.txt', 'hold'], data, { maxOpenFiles: limit });
      assert.equal(r.exitCode, 0);
      // every fd but stdio and the preopen, then MFILE
      assert.equal(r.stdout, `opened ${limit - 4}, then errno ${EMFILE} (No file descriptors available)\n`);
      // the preopen and every file the guest holds, never more than its limit
      assert.ok(r.peak - before <= limit, `host fds into the grant peaked at ${r.peak}, ${r.peak - before} above the ${before} before`);
      assert.ok(r.peak - before >= limit - 4, `the sampler saw the guest hold its fds (peak ${r.peak}, before ${before})`);
    }
    assert.equal(hostFds(), before, 'the guest\'s fds were closed when its run ended');
  });
});
