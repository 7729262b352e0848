import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { parseManifest, type AppManifest } from '../../src/app/manifest.js';
import { startApp, type RunningApp } from '../../src/app/app.js';
import { repoRoot } from '../helpers/cli.js';

export const guest = (name: string) => path.join(repoRoot, 'guests/build', `${name}.wasm`);
export const quietLog = pino({ level: 'silent' });

export function tempDir(prefix = 'fw-app-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A one-component manifest; `component` fields override the defaults (echo guest, embedded queue, sqlite). */
export function oneComponent(dataDir: string, component: Record<string, unknown>): AppManifest {
  return parseManifest(
    {
      apiVersion: 'featherweight.dev/v1',
      kind: 'App',
      metadata: { name: 'test' },
      dataDir,
      components: [
        {
          name: 'c1',
          module: guest('echo'),
          trigger: { type: 'embedded' },
          scaling: { pollingInterval: 1, cooldownPeriod: 1, minReplicaCount: 0, maxReplicaCount: 4 },
          sink: { type: 'sqlite', table: 'rows' },
          delivery: { maxAttempts: 2, backoff: '10ms', maxBackoff: '50ms' },
          ...component,
        },
      ],
    },
    { baseDir: dataDir },
  );
}

export async function waitUntil(what: string, ok: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function withApp<T>(manifest: AppManifest, f: (app: RunningApp) => Promise<T>): Promise<T> {
  const app = await startApp(manifest, { log: quietLog });
  try {
    return await f(app);
  } finally {
    await app.close();
  }
}
