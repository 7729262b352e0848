// wasi:http/incoming-handler components served by the app's HTTP server under /v1/components/<name>/http/,
// on worker threads like http-wasm handlers (decision 220): a real HTTP client against startApp +
// startServer, with a ComponentizeJS handler built at test time (test/wasm/fixtures/http-ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { parseManifest } from '../../src/app/manifest.js';
import { startApp } from '../../src/app/app.js';
import { startServer } from '../../src/server/server.js';
import { repoRoot, startUp } from '../helpers/cli.js';
import { quietLog, tempDir } from '../app/helpers.js';
import { answersThroughout, request } from '../http-wasm/helpers.js';
import { buildCached } from './component-guests.js';

function httpComponent(dir: string): string {
  const file = path.join(dir, 'http-ts.wasm');
  fs.writeFileSync(file, buildCached(path.join(repoRoot, 'test/wasm/fixtures/http-ts'), 'build/http-ts.wasm'));
  return file;
}

function capturingLog() {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  return { log: pino({ level: 'warn' }, stream), text: () => lines.join('') };
}

test('abi: component with wasi:http/incoming-handler answers under /v1/components/<name>/http/; a hung one gets 504 while /healthz answers; body and memory limits hold', { timeout: 900_000 }, async () => {
  const dir = tempDir('fw-comp-http-');
  const module = httpComponent(dir);
  const m = parseManifest({
    apiVersion: 'featherweight.dev/v1', kind: 'App', metadata: { name: 'comp-http' }, dataDir: dir,
    components: [
      // No trigger or sink: the world (from the component's exports) makes it an HTTP handler.
      // 6s: a guest thread runs below normal priority, and a busy neighbour (another test file) can
      // hold a first request on a fresh thread for seconds; the hang below waits this long once.
      { name: 'web', module, abi: 'component', limits: { timeout: '6s', maxMemory: '256MiB', maxStdin: '4KiB' } },
      // The engine's ~9.5 MB memory does not fit: every core module's memory is capped (decision 002).
      { name: 'small', module, abi: 'component', limits: { maxMemory: '4MiB' } },
    ],
  }, { baseDir: dir });
  const captured = capturingLog();
  const app = await startApp(m, { log: captured.log });
  const server = await startServer(app, { listen: '127.0.0.1:0', log: captured.log });
  try {
    assert.equal(app.components.size, 0, 'an HTTP component runs no event pool');
    const listed = await request(`${server.url}/v1/handlers`);
    assert.deepEqual(JSON.parse(listed.body).handlers.map((h: { name: string; abi: string; path: string }) => [h.name, h.abi, h.path]), [
      ['web', 'component', '/v1/components/web/http/'],
      ['small', 'component', '/v1/components/small/http/'],
    ]);

    const ok = await request(`${server.url}/v1/components/web/http/hello?x=1`, { method: 'POST', headers: { 'x-a': 'b' }, body: 'body!' });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.headers['content-type'], 'text/plain');
    assert.equal(ok.headers['x-handler'], 'ts');
    assert.equal(ok.headers['x-calls'], '1', 'a fresh instance per request');
    assert.match(ok.body, /^post \/hello\?x=1 \[[^\]]*x-a=b[^\]]*\] 5:body!$/);
    const missing = await request(`${server.url}/v1/components/web/http/missing`);
    assert.equal(missing.status, 404);
    assert.match(missing.body, /^get \/missing /);

    // Body limit: over maxStdin is refused before the guest runs.
    const big = await request(`${server.url}/v1/components/web/http/big`, { method: 'POST', body: 'x'.repeat(5000) });
    assert.equal(big.status, 413);

    // A request that never returns: 504 at limits.timeout, the host answers meanwhile, the thread is replaced.
    const hung = request(`${server.url}/v1/components/web/http/hang`);
    const answered = await answersThroughout(`${server.url}/healthz`, hung);
    assert.ok(answered >= 1, '/healthz answered while the component hung');
    const r = await hung;
    assert.equal(r.status, 504);
    assert.match(r.body, /component web did not answer within 6s \(limits\.timeout\); its instance was discarded/);
    const after = await request(`${server.url}/v1/components/web/http/after`);
    assert.equal(after.status, 200, after.body);
    assert.match(after.body, /^get \/after /);
    for (let i = 0; i < 4; i++) assert.equal((await request(`${server.url}/v1/components/web/http/n`)).headers['x-calls'], '1');

    const small = await request(`${server.url}/v1/components/small/http/x`);
    assert.equal(small.status, 500);
    assert.match(captured.text(), /component small: memory-limit/);
  } finally {
    await server.close();
    await app.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('featherweight up serves a wasi:http component from the manifest (abi: component, nothing else)', { timeout: 900_000 }, async () => {
  const dir = tempDir('fw-comp-http-up-');
  httpComponent(dir);
  fs.writeFileSync(path.join(dir, 'featherweight.yaml'), [
    'apiVersion: featherweight.dev/v1',
    'kind: App',
    'metadata: { name: web }',
    'components:',
    '  - name: web',
    '    module: ./http-ts.wasm',
    '    abi: component',
    '    limits: { maxMemory: 128MiB, timeout: 60s }',
    '',
  ].join('\n'));
  const up = await startUp([path.join(dir, 'featherweight.yaml'), '--listen', '127.0.0.1:0']);
  try {
    const url = up.url;
    const r = await request(`${url}/v1/components/web/http/from/up`, { method: 'PUT', body: 'hey' });
    assert.equal(r.status, 200, r.body);
    assert.match(r.body, /^put \/from\/up \[[^\]]*\] 3:hey$/);
  } finally {
    await up.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
