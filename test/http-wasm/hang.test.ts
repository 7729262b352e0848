// An http-wasm guest that never returns (guests/hostile/http-hang.wat): the request gets a 504 once
// limits.timeout passes, its thread is replaced, and the rest of the host answers all along (decision 121).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseManifest } from '../../src/app/manifest.js';
import { startApp } from '../../src/app/app.js';
import { startServer } from '../../src/server/server.js';
import { startHttpProxy } from '../../src/server/http-proxy.js';
import { loadModule } from '../../src/wasm/compile.js';
import { repoRoot } from '../helpers/cli.js';
import { guest, quietLog, tempDir } from '../app/helpers.js';
import { answersThroughout, captureLog, request, startUpstream } from './helpers.js';

const hang = path.join(repoRoot, 'guests/build/hostile/http-hang.wasm');

test('server: a hung http-wasm handler gets 504 at limits.timeout; /healthz and another handler answer meanwhile', async () => {
  const dir = tempDir();
  const m = parseManifest({
    apiVersion: 'featherweight.dev/v1', kind: 'App', metadata: { name: 'hang' }, dataDir: dir,
    components: [
      { name: 'hang', module: hang, abi: 'http-wasm', trigger: { type: 'http' }, limits: { timeout: '1s' } },
      { name: 'echo', module: guest('http/echo'), abi: 'http-wasm', trigger: { type: 'http' } },
    ],
  }, { baseDir: dir });
  const app = await startApp(m, { log: quietLog });
  const server = await startServer(app, { listen: '127.0.0.1:0', log: quietLog });
  try {
    const hung = request(`${server.url}/v1/components/hang/http/x`);
    const answered = await answersThroughout(`${server.url}/healthz`, hung);
    assert.ok(answered >= 1, '/healthz answered while the guest hung');
    const r = await hung;
    assert.equal(r.status, 504);
    assert.match(r.body, /http-wasm guest hang did not answer within 1s \(limits\.timeout\); its instance was discarded/);
    // The thread was replaced: the guest is called again (and times out again), other handlers serve.
    const again = request(`${server.url}/v1/components/hang/http/y`);
    const echo = await request(`${server.url}/v1/components/echo/http/e`, { method: 'POST', body: 'still here' });
    assert.equal(echo.body, 'still here');
    assert.equal((await again).status, 504);
  } finally {
    await server.close();
    await app.close();
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('middleware: a hung guest in front of an upstream gets 504; the upstream is never called; queued requests get theirs on replaced threads', async () => {
  const upstream = await startUpstream();
  const log = captureLog('warn');
  const p = await startHttpProxy({ middleware: [{ name: 'hang', module: loadModule(hang).module }], upstream: upstream.url, log, limits: { timeoutMs: 500 } });
  try {
    const replies = await Promise.all([request(`${p.url}/a`), request(`${p.url}/b`), request(`${p.url}/c`)]);
    // Two threads: the first two hang and time out; the third waits its turn on a replaced thread.
    for (const r of replies) {
      assert.ok(r.status === 504 || r.status === 503, `status ${r.status}`);
      assert.match(r.body, /http-wasm guest hang/);
    }
    assert.ok(replies.some((r) => r.status === 504));
    assert.equal(upstream.seen.length, 0);
    assert.match(log.text(), /ran past 500ms \(limits\.timeout\): its thread is replaced/);
  } finally {
    await p.close();
    await upstream.close();
  }
});
