import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { startApp, type RunningApp } from '../../src/app/app.js';
import { startServer } from '../../src/server/server.js';
import { guest, oneComponent, quietLog, tempDir, waitUntil } from './helpers.js';
import { runCli, spawnCli } from '../helpers/cli.js';

async function withHttpApp(f: (app: RunningApp) => Promise<void>): Promise<void> {
  const dir = tempDir();
  const app = await startApp(oneComponent(dir, { trigger: { type: 'http' } }), { log: quietLog });
  try {
    await f(app);
  } finally {
    await app.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const portOf = (s: { url: string }) => new URL(s.url).port;

/** A raw request, so Host and Origin can be anything (fetch forbids setting Host). */
function request(port: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(method === 'POST' ? '{"a":1}' : undefined);
  });
}

test('beyond loopback every route but /healthz and /metrics needs the token; reads included', async () => {
  await withHttpApp(async (app) => {
    const srv = await startServer(app, { listen: '0.0.0.0:0', log: quietLog, token: 'sesame' });
    const base = `http://127.0.0.1:${portOf(srv)}`;
    try {
      for (const path of ['/v1/components', '/v1/components/c1', '/v1/components/c1/rows', '/v1/dlq', '/v1/stream', '/', '/dashboard.js']) {
        const r = await fetch(base + path);
        assert.equal(r.status, 401, `${path} without a token`);
        assert.match(((await r.json()) as { error: string }).error, /bearer token/);
      }
      assert.equal((await fetch(`${base}/v1/dlq`, { headers: { authorization: 'Bearer nope' } })).status, 401);
      assert.equal((await fetch(`${base}/v1/dlq`, { headers: { authorization: 'Bearer sesame' } })).status, 200);
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      assert.equal((await fetch(`${base}/metrics`)).status, 200);
      const url = `${base}/v1/components/c1/events`;
      assert.equal((await fetch(url, { method: 'POST', body: '{"a":1}' })).status, 401);
      const ok = await fetch(url, { method: 'POST', body: '{"a":1}', headers: { authorization: 'Bearer sesame' } });
      assert.equal(ok.status, 202);
      assert.match(((await ok.json()) as { id: string }).id, /\S/);
      // the dashboard: /?token= once sets an HttpOnly SameSite cookie, then the page's requests carry it
      const login = await request(portOf(srv), '/?token=sesame');
      assert.equal(login.status, 303);
      const setCookie = String(login.headers['set-cookie']);
      assert.match(setCookie, /^fw_token=sesame; HttpOnly; SameSite=Strict; Path=\//);
      assert.equal((await request(portOf(srv), '/?token=wrong')).status, 401);
      const withCookie = await request(portOf(srv), '/v1/components', { cookie: setCookie.split(';')[0]! });
      assert.equal(withCookie.status, 200);
    } finally {
      await srv.close();
    }
  });
});

test('beyond loopback without a token the server refuses to start, unless insecureNoAuth', async () => {
  await withHttpApp(async (app) => {
    await assert.rejects(startServer(app, { listen: '0.0.0.0:0', log: quietLog }), /refusing to listen on 0\.0\.0\.0:0 without a token.*FEATHERWEIGHT_TOKEN.*--insecure-no-auth/);
    const warnings: string[] = [];
    const log = Object.assign(Object.create(quietLog), { child: () => ({ ...quietLog, warn: (_o: object, m: string) => warnings.push(m), info() {}, error() {} }) });
    const srv = await startServer(app, { listen: '0.0.0.0:0', log, insecureNoAuth: true });
    try {
      assert.equal((await fetch(`http://127.0.0.1:${portOf(srv)}/v1/components`)).status, 200);
      assert.ok(warnings.some((w) => /WITHOUT authentication/.test(w)), 'a warning is logged');
    } finally {
      await srv.close();
    }
  });
});

test('on loopback a foreign Host (DNS rebinding) or a foreign Origin (CSRF) is refused; same-origin and no-Origin requests pass', async () => {
  await withHttpApp(async (app) => {
    const srv = await startServer(app, { listen: '127.0.0.1:0', log: quietLog });
    const port = portOf(srv);
    try {
      const rebound = await request(port, '/v1/dlq', { host: `evil.example:${port}` });
      assert.equal(rebound.status, 403);
      assert.match(rebound.body, /not a loopback address.*DNS rebinding/);
      const csrf = await request(port, '/v1/components/c1/events', { origin: 'https://evil.example', 'content-type': 'application/json' }, 'POST');
      assert.equal(csrf.status, 403);
      assert.match(csrf.body, /cross-site requests are refused \(CSRF\)/);
      assert.equal(app.components.get('c1')!.state().counters.processed + (await app.components.get('c1')!.source.lag()).lag, 0, 'the cross-site POST queued nothing');
      assert.equal((await request(port, '/v1/components/c1/events', { origin: `http://127.0.0.1:${port}` }, 'POST')).status, 202, 'same origin');
      assert.equal((await request(port, '/v1/components', { host: `localhost:${port}` })).status, 200);
      assert.equal((await request(port, '/v1/components', { host: `[::1]:${port}` })).status, 200);
      assert.equal((await request(port, '/healthz')).status, 200);
    } finally {
      await srv.close();
    }
  });
});

test('a malformed %-encoding in the path is a 400 naming it, not a 500', async () => {
  await withHttpApp(async (app) => {
    const srv = await startServer(app, { listen: '127.0.0.1:0', log: quietLog });
    try {
      for (const path of ['/v1/components/%E0%A4%A', '/v1/components/%zz/rows', '/v1/dlq/%/retry']) {
        const r = await request(portOf(srv), path, {}, path.endsWith('retry') ? 'POST' : 'GET');
        assert.equal(r.status, 400, path);
        assert.match(r.body, /malformed %-encoding/);
      }
    } finally {
      await srv.close();
    }
  });
});

test('close() answers the requests in flight before it closes: every accepted event gets its 202', async () => {
  await withHttpApp(async (app) => {
    const srv = await startServer(app, { listen: '127.0.0.1:0', log: quietLog });
    const port = portOf(srv);
    // 40 POSTs whose bodies are still arriving when close() starts
    const reqs: http.ClientRequest[] = [];
    const pending = Array.from({ length: 40 }, () =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, path: '/v1/components/c1/events', method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        req.write('{"n":');
        reqs.push(req);
      }),
    );
    await waitUntil('the server is answering all 40', () => srv.requestsInFlight() === 40);
    const closing = srv.close();
    await new Promise((r) => setTimeout(r, 50));
    for (const req of reqs) req.end('1}');
    const answers = await Promise.all(pending);
    await closing;
    for (const a of answers) assert.equal(a.status, 202, a.body);
    const lag = (await app.components.get('c1')!.source.lag()).lag + app.components.get('c1')!.state().counters.processed;
    assert.ok(lag >= 40, `all 40 accepted events are on the queue or processed (${lag})`);
  });
});

test('featherweight up beyond loopback without FEATHERWEIGHT_TOKEN exits 1 with the remedy; --insecure-no-auth starts with a warning', async () => {
  const dir = tempDir();
  const file = `${dir}/featherweight.yaml`;
  fs.writeFileSync(file, ['apiVersion: featherweight.dev/v1', 'kind: App', 'metadata: { name: t }', `dataDir: ${dir}`, 'components:', '  - name: c1', `    module: ${guest('echo')}`].join('\n'));
  const env = { ...process.env };
  delete env.FEATHERWEIGHT_TOKEN;
  const refused = await runCli(['up', file, '--listen', '0.0.0.0:0'], { env });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /refusing to listen on 0\.0\.0\.0:0 without a token.*--insecure-no-auth/);
  const child = spawnCli(['up', file, '--listen', '0.0.0.0:0', '--insecure-no-auth'], { env });
  try {
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    await waitUntil('the server is up', () => /featherweight is up/.test(out));
    assert.match(out, /WITHOUT authentication \(--insecure-no-auth\)/);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('posting an event to a component whose trigger takes no posts is a 409 naming the triggers that do', async () => {
  const dir = tempDir();
  const app = await startApp(oneComponent(dir, { trigger: { type: 'cron', metadata: { schedule: '0 0 1 1 *' } } }), { log: quietLog });
  try {
    const srv = await startServer(app, { listen: '127.0.0.1:0', log: quietLog });
    try {
      const r = await request(portOf(srv), '/v1/components/c1/events', { 'content-type': 'application/json' }, 'POST');
      assert.equal(r.status, 409);
      assert.match(r.body, /component c1 is fed by its cron trigger; events can be posted only to embedded or http triggers/);
    } finally {
      await srv.close();
    }
  } finally {
    await app.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
