import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseManifest } from '../../src/app/manifest.js';
import { startApp } from '../../src/app/app.js';
import { startServer } from '../../src/server/server.js';
import { startProxies } from '../../src/cli/commands/up.js';
import { guest, quietLog, tempDir } from './helpers.js';

const manifest = (dir: string, extra: Record<string, unknown>) =>
  parseManifest({ apiVersion: 'featherweight.dev/v1', kind: 'App', metadata: { name: 'hw' }, dataDir: dir, ...extra }, { baseDir: dir });

test('manifest: an http-wasm component with an http trigger answers requests itself', async () => {
  const dir = tempDir();
  const m = manifest(dir, { components: [{ name: 'echo', module: guest('http/echo'), abi: 'http-wasm', trigger: { type: 'http' } }] });
  const app = await startApp(m, { log: quietLog });
  const server = await startServer(app, { listen: '127.0.0.1:0', log: quietLog });
  try {
    const res = await fetch(`${server.url}/v1/components/echo/http/anything?x=1`, { method: 'POST', body: 'hello wasm' });
    assert.equal(res.status, 202);
    assert.equal(await res.text(), 'hello wasm');
    const list = (await (await fetch(`${server.url}/v1/handlers`)).json()) as { handlers: Array<{ name: string; path: string }> };
    assert.deepEqual(list.handlers, [{ name: 'echo', abi: 'http-wasm', path: '/v1/components/echo/http/' }]);
  } finally {
    await server.close();
    await app.close();
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('manifest: an http-wasm component needs an http trigger', () => {
  const dir = tempDir();
  assert.throws(
    () => manifest(dir, { components: [{ name: 'echo', module: guest('http/echo'), abi: 'http-wasm', trigger: { type: 'embedded' } }] }),
    /components\[0\]\.trigger\.type: an http-wasm component answers HTTP requests, so its trigger must be http/,
  );
});

test('manifest: proxies run http-wasm middleware in front of an upstream, with the configured guest config', async () => {
  const dir = tempDir();
  const seen: Array<{ url?: string; added?: string | string[] }> = [];
  const upstream = http.createServer((req, res) => {
    seen.push({ url: req.url, added: req.headers['x-added'] });
    res.end('from upstream');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  const m = manifest(dir, {
    proxies: [{ name: 'front', upstream: `http://127.0.0.1:${port}`, middleware: [{ module: guest('http/probe'), config: 'req set 0 x-added by-guest' }] }],
  });
  const proxies = await startProxies(m, quietLog);
  try {
    const res = await fetch(`${proxies[0]!.url}/path?q=1`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'from upstream');
    assert.deepEqual(seen, [{ url: '/path?q=1', added: 'by-guest' }]);
  } finally {
    await Promise.all(proxies.map((p) => p.close()));
    upstream.close();
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
