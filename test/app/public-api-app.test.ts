// The public API (src/index.ts) is enough to do what `featherweight up` does: up and demo are its callers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { createLogger, loadManifest, startApp, startKedaScaler, startProxies, startServer, validateManifest } from '../../src/index.js';
import { repoRoot } from '../helpers/cli.js';
import { watBytes } from '../runtime/wat.js';
import { taggedGuestWat } from '../helpers/tagged-guest.js';
import { tempDir, waitUntil } from './helpers.js';

test('an embedder loads a manifest, starts the app and its API, swaps a module, and stops it, all through the public API', { timeout: 120_000 }, async () => {
  const dir = tempDir('fw-api-');
  const module = path.join(dir, 'handler.wasm');
  fs.writeFileSync(module, await watBytes(taggedGuestWat('v1')));
  const file = path.join(dir, 'featherweight.yaml');
  fs.writeFileSync(file, `apiVersion: featherweight.dev/v1
kind: App
metadata: { name: embedded-api }
dataDir: ./state
components:
  - name: echo
    module: ./handler.wasm
    trigger: { type: embedded }
    sink: { type: sqlite, table: echo }
`);
  try {
    assert.equal(validateManifest(file).ok, true);
    const manifest = loadManifest(file);
    const log = createLogger({ level: 'silent', pretty: false });
    const app = await startApp(manifest, { log });
    const proxies = await startProxies(manifest, { log, budget: app.budget });
    const server = await startServer(app, { listen: '127.0.0.1:0', log });
    const keda = await startKedaScaler(app, { listen: '127.0.0.1:0' });
    try {
      assert.deepEqual(proxies, []);
      const [host, port] = [keda.address.slice(0, keda.address.lastIndexOf(':')), Number(keda.address.slice(keda.address.lastIndexOf(':') + 1))];
      await new Promise<void>((resolve, reject) => net.connect(port, host, function (this: net.Socket) { this.end(); resolve(); }).once('error', reject));
      const post = async () => ((await (await fetch(`${server.url}/v1/components/echo/events`, { method: 'POST', body: 'x' })).json()) as { id: string }).id;
      const first = await post();
      await waitUntil('the first row', () => app.components.get('echo')!.state().counters.processed >= 1);
      assert.equal((await app.reload('echo', await watBytes(taggedGuestWat('v2')))).swapped, true);
      const second = await post();
      await waitUntil('the second row', () => app.components.get('echo')!.state().counters.processed >= 2);
      const { rows } = (await (await fetch(`${server.url}/v1/components/echo/rows`)).json()) as { rows: Array<{ event_id: string; guest: string }> };
      assert.deepEqual(Object.fromEntries(rows.map((r) => [r.event_id, r.guest])), { [first]: 'v1', [second]: 'v2' });
    } finally {
      await keda.close();
      await server.close();
      await app.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('up and demo reach the app, the server and the KEDA scaler only through the public API', () => {
  for (const cmd of ['up', 'demo']) {
    const text = fs.readFileSync(path.join(repoRoot, `src/cli/commands/${cmd}.ts`), 'utf8');
    const internal = [...text.matchAll(/^import (?!type )[^;]*? from '(\.\.\/\.\.\/[^']+)';$/gm)].map((m) => m[1]).filter((p) => p !== '../../index.js');
    assert.deepEqual(internal, [], `${cmd}.ts imports values only from ../../index.js`);
  }
});
