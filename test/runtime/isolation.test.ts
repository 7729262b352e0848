// Every hostile guest of guests/hostile/ in one running app beside a good component: /healthz answers
// throughout, each hostile event ends with its typed error in the dead-letter store, the hung http-wasm
// handler gets its 504, and the good component's events all land (issue 10).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parseManifest } from '../../src/app/manifest.js';
import { startApp } from '../../src/app/app.js';
import { startServer } from '../../src/server/server.js';
import { repoRoot } from '../helpers/cli.js';
import { guest, quietLog, tempDir, waitUntil } from '../app/helpers.js';

const hostile = (name: string) => path.join(repoRoot, 'guests/build/hostile', `${name}.wasm`);

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // Generous: the assertion is that the host answers at all while the hostile guests run.
    const req = http.get(url, { agent: false, timeout: 20_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${url} did not answer within 20 s`)));
    req.on('error', reject);
  });
}

test('isolation: table, row, fd and stderr bombs, an endless loop and a hung http-wasm guest beside a good component', async () => {
  const dir = tempDir('fw-isolation-');
  const granted = path.join(dir, 'granted');
  fs.mkdirSync(granted);
  const queued = (name: string, extra: Record<string, unknown> = {}) => ({
    name, module: hostile(name), trigger: { type: 'embedded' },
    scaling: { pollingInterval: 1, cooldownPeriod: 1, minReplicaCount: 0, maxReplicaCount: 2 },
    sink: { type: 'sqlite', table: name.replace('-', '_') },
    delivery: { maxAttempts: 1 },
    limits: { timeout: '2s', maxStdout: '4MiB' },
    ...extra,
  });
  const m = parseManifest({
    apiVersion: 'featherweight.dev/v1', kind: 'App', metadata: { name: 'isolation' }, dataDir: dir,
    components: [
      { name: 'good', module: guest('echo'), trigger: { type: 'embedded' }, sink: { type: 'sqlite', table: 'good' },
        scaling: { pollingInterval: 1, cooldownPeriod: 1, minReplicaCount: 0, maxReplicaCount: 4 } },
      queued('table-bomb'), queued('row-bomb'), queued('stderr-bomb'), queued('spin'),
      queued('fd-bomb', { grants: { dirs: [`${granted}::/data`] }, limits: { timeout: '20s', maxOpenFiles: 64 } }),
      { name: 'hang', module: hostile('http-hang'), abi: 'http-wasm', trigger: { type: 'http' }, limits: { timeout: '1s' } },
    ],
  }, { baseDir: dir });
  const app = await startApp(m, { log: quietLog });
  const server = await startServer(app, { listen: '127.0.0.1:0', log: quietLog });
  const bombs = ['table-bomb', 'row-bomb', 'stderr-bomb', 'spin', 'fd-bomb'];
  try {
    const body = new TextEncoder().encode('x');
    for (const name of bombs) await app.components.get(name)!.source.publish({ id: `${name}-1`, source: 'embedded', subject: name, headers: {}, body });
    const good = app.components.get('good')!;
    for (let i = 0; i < 50; i++) await good.source.publish({ id: `g${i}`, source: 'embedded', subject: 'good', headers: {}, body: new TextEncoder().encode(`{"n":${i}}\n`) });
    const hung = get(`${server.url}/v1/components/hang/http/`);
    let settled = false;
    void hung.finally(() => (settled = true));
    let healthy = 0;
    await waitUntil('every hostile event dead-lettered, the hung request answered, the good events landed', async () => {
      const h = await get(`${server.url}/healthz`);
      assert.equal(h.status, 200);
      healthy++;
      return settled && bombs.every((b) => app.deadLetters.count(b) === 1) && good.state().counters.processed === 50;
    }, 300_000);
    assert.ok(healthy >= 1);
    const kind = (name: string) => {
      const [d] = app.deadLetters.list({ component: name });
      return `${d!.error.kind}: ${d!.error.message}`;
    };
    assert.match(kind('table-bomb'), /^trap: guest trapped: unreachable/);
    assert.match(kind('row-bomb'), /^(output-limit|record-limit):/);
    assert.match(kind('stderr-bomb'), /^output-limit: .*stderr/);
    assert.match(kind('spin'), /^timeout: guest ran past 2s/);
    assert.match(kind('fd-bomb'), /^exit: guest exited with code 1/);
    assert.match(app.deadLetters.list({ component: 'fd-bomb' })[0]!.stderrTail, /open refused: errno 33/, 'MFILE past maxOpenFiles');
    const r = await hung;
    assert.equal(r.status, 504);
    assert.match(r.body, /limits\.timeout/);
  } finally {
    await server.close();
    await app.close();
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
