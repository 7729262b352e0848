// grants.outboundHosts (decision 221): wasi:http/outgoing-handler reaches only the hosts a Spin-shaped
// allow-list permits; the rest answer error-code HTTP-request-denied. Allowed requests really go out, to a
// node:http server on 127.0.0.1, from a ComponentizeJS handler served by the app (its thread blocks while
// the helper thread makes the request, so the upstream must live on another thread: this test's).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseManifest } from '../../src/app/manifest.js';
import { startApp } from '../../src/app/app.js';
import { startServer } from '../../src/server/server.js';
import { outboundAllowed, parseOutboundHost, splitAuthority } from '../../src/wasm/component/wasi-p2/outbound.js';
import { repoRoot } from '../helpers/cli.js';
import { quietLog, tempDir } from '../app/helpers.js';
import { deadPort, request, startUpstream } from '../http-wasm/helpers.js';
import { buildCached } from './component-guests.js';

test('outboundHosts entries: scheme, host, the written or default port, "*." for subdomains only', () => {
  const allow = ['https://api.example.com', 'http://127.0.0.1:8080', 'https://*.example.org', 'http://[::1]:81'].map(parseOutboundHost);
  const ok = (scheme: 'http' | 'https', authority: string) => {
    const a = splitAuthority(authority, scheme);
    return a !== null && outboundAllowed(allow, scheme, a.host, a.port);
  };
  assert.equal(ok('https', 'api.example.com'), true);
  assert.equal(ok('https', 'API.Example.com:443'), true);
  assert.equal(ok('https', 'api.example.com:8443'), false);
  assert.equal(ok('http', 'api.example.com'), false);
  assert.equal(ok('https', 'x.api.example.com'), false);
  assert.equal(ok('http', '127.0.0.1:8080'), true);
  assert.equal(ok('http', '127.0.0.1'), false);
  assert.equal(ok('https', 'a.example.org'), true);
  assert.equal(ok('https', 'a.b.example.org'), true);
  assert.equal(ok('https', 'example.org'), false);
  assert.equal(ok('https', 'badexample.org'), false);
  assert.equal(ok('http', '[::1]:81'), true);
  assert.equal(ok('http', 'user@127.0.0.1:8080'), false);
  for (const bad of ['api.example.com', 'ftp://x.com', 'https://', 'https://a.com:99999', 'https://a.com/path', 'https://*']) {
    assert.throws(() => parseOutboundHost(bad), /is not an outbound host|out of range/, bad);
  }
  const dir = tempDir('fw-outbound-');
  try {
    assert.throws(
      () => parseManifest({ apiVersion: 'featherweight.dev/v1', kind: 'App', metadata: { name: 'x' }, components: [{ name: 'c', abi: 'component', sink: { type: 'publish' }, grants: { outboundHosts: ['api.example.com'] } }] }, { baseDir: dir }),
      /grants\.outboundHosts\[0\].*"api\.example\.com" is not an outbound host: use scheme:\/\/host\[:port\]/s,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a component reaches an allowed host over real HTTP; every other host, port or scheme is HTTP-request-denied', { timeout: 900_000 }, async () => {
  const dir = tempDir('fw-outbound-');
  const module = path.join(dir, 'http-ts.wasm');
  fs.writeFileSync(module, buildCached(path.join(repoRoot, 'test/wasm/fixtures/http-ts'), 'build/http-ts.wasm'));
  const upstream = await startUpstream();
  const port = Number(new URL(upstream.url).port);
  const dead = await deadPort();
  const m = parseManifest({
    apiVersion: 'featherweight.dev/v1', kind: 'App', metadata: { name: 'outbound' }, dataDir: dir,
    components: [{
      name: 'web', module, abi: 'component', limits: { maxMemory: '256MiB', timeout: '20s' },
      grants: { outboundHosts: [`http://127.0.0.1:${port}`, `http://127.0.0.1:${dead}`, 'https://*.example.com'] },
    }],
  }, { baseDir: dir });
  const app = await startApp(m, { log: quietLog });
  const server = await startServer(app, { listen: '127.0.0.1:0', log: quietLog });
  const call = async (target: string, body?: string) => {
    const r = await request(`${server.url}/v1/components/web/http/outbound/${target}`, body === undefined ? {} : { method: 'POST', body });
    assert.equal(r.status, 200, r.body);
    return r.body.slice(r.body.lastIndexOf(' ') + 1);
  };
  try {
    assert.equal(await call(`http/127.0.0.1:${port}/into/upstream?q=1`, 'ping'), 'sent:200:upstream-body');
    assert.equal(upstream.seen.length, 1);
    assert.equal(upstream.seen[0]!.method, 'POST');
    assert.equal(upstream.seen[0]!.url, '/into/upstream?q=1');
    assert.equal(upstream.seen[0]!.body, 'ping');
    assert.equal(upstream.seen[0]!.headers['x-from'], 'guest');
    assert.equal(upstream.seen[0]!.headers.host, `127.0.0.1:${port}`, 'Host is the checked authority, not what the guest wrote');
    assert.equal(await call(`http/127.0.0.1:${port}/get`), 'sent:200:upstream-body');
    assert.equal(upstream.seen[1]!.method, 'GET');

    // Allowed, but nothing listens: the request went out and failed as a network error, not a denial.
    assert.equal(await call(`http/127.0.0.1:${dead}/`), 'failed:connection-refused');
    // Not on the list: denied before any connection is made.
    assert.equal(await call(`https/127.0.0.1:${port}/`), 'denied:HTTP-request-denied');
    assert.equal(await call(`http/localhost:${port}/`), 'denied:HTTP-request-denied');
    assert.equal(await call(`http/127.0.0.1/`), 'denied:HTTP-request-denied');
    assert.equal(await call('https/example.com/'), 'denied:HTTP-request-denied');
    assert.equal(await call('http/api.example.com/'), 'denied:HTTP-request-denied');
    assert.equal(upstream.seen.length, 2, 'no denied request reached the upstream');
  } finally {
    await server.close();
    await app.close();
    await upstream.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
