// `proxies:` started by `featherweight up` run their http-wasm guests on the app's thread budget, beside
// the components (decision 122), instead of on threads of their own outside it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseManifest } from '../../src/app/manifest.js';
import { startApp } from '../../src/app/app.js';
import { startProxies } from '../../src/cli/commands/up.js';
import { guest, quietLog, tempDir } from '../app/helpers.js';

test('proxies join the app thread budget: their guests are members next to the components', async () => {
  const dir = tempDir('fw-proxy-budget-');
  const upstream = http.createServer((_req, res) => res.end('from upstream'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  const m = parseManifest({
    apiVersion: 'featherweight.dev/v1', kind: 'App', metadata: { name: 'pb' }, dataDir: dir,
    components: [{ name: 'worker', module: guest('echo'), trigger: { type: 'embedded' }, sink: { type: 'sqlite', table: 'rows' } }],
    proxies: [{ name: 'front', upstream: `http://127.0.0.1:${port}`, middleware: [{ module: guest('http/probe'), config: 'req set 0 x-added by-guest' }] }],
  }, { baseDir: dir });
  const app = await startApp(m, { log: quietLog });
  const proxies = await startProxies(m, quietLog, app.budget);
  try {
    const names = app.budget.stats().members.map((x) => x.name);
    assert.ok(names.includes('worker'), `the component is a member (${names.join(', ')})`);
    assert.ok(names.includes('front[0]'), `the proxy's guest is a member (${names.join(', ')})`);
    const res = await fetch(`${proxies[0]!.url}/x`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'from upstream');
    assert.equal(app.budget.stats().members.find((x) => x.name === 'front[0]')!.running, 0, 'its slot came back after the request');
  } finally {
    await Promise.all(proxies.map((p) => p.close()));
    await app.close();
    upstream.close();
  }
  assert.ok(!app.budget.stats().members.some((x) => x.name === 'front[0]'), 'a closed proxy leaves the budget');
});
