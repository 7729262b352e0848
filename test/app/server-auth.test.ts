import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startApp } from '../../src/app/app.js';
import { startServer } from '../../src/server/server.js';
import { oneComponent, quietLog, tempDir } from './helpers.js';

test('beyond loopback, mutating calls need the bearer token; reads do not; no token set refuses them', async () => {
  const dir = tempDir();
  const app = await startApp(oneComponent(dir, { trigger: { type: 'http' } }), { log: quietLog });
  const open = await startServer(app, { listen: '0.0.0.0:0', log: quietLog, token: 'sesame' });
  const locked = await startServer(app, { listen: '0.0.0.0:0', log: quietLog });
  const port = (s: { url: string }) => new URL(s.url).port;
  try {
    const url = `http://127.0.0.1:${port(open)}/v1/components/c1/events`;
    assert.equal((await fetch(url, { method: 'POST', body: '{"a":1}' })).status, 401);
    assert.equal((await fetch(url, { method: 'POST', body: '{"a":1}', headers: { authorization: 'Bearer nope' } })).status, 401);
    const ok = await fetch(url, { method: 'POST', body: '{"a":1}', headers: { authorization: 'Bearer sesame' } });
    assert.equal(ok.status, 202);
    assert.match(((await ok.json()) as { id: string }).id, /\S/);
    assert.equal((await fetch(`http://127.0.0.1:${port(open)}/v1/components`)).status, 200, 'reads need no token');
    const refused = await fetch(`http://127.0.0.1:${port(locked)}/v1/components/c1/events`, { method: 'POST', body: '{}' });
    assert.equal(refused.status, 403);
    assert.match(((await refused.json()) as { error: string }).error, /FEATHERWEIGHT_TOKEN/);
  } finally {
    await open.close();
    await locked.close();
    await app.close();
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
