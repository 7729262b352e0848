/** Starts Debian's docker-registry (distribution 2.8) on 127.0.0.1 for a test, with temp storage. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { freePort } from '../helpers/ports.js';

export const REGISTRY_BIN = process.env.DOCKER_REGISTRY_BIN ?? '/usr/bin/docker-registry';

export interface TestRegistry {
  /** host:port, e.g. 127.0.0.1:40123 */
  address: string;
  storageDir: string;
  /** Path of a blob's data file inside the registry's storage. */
  blobFile(digest: string): string;
  stop(): Promise<void>;
}

export { freePort };

/** Missing binary: fails when CI is set, otherwise skips with the reason. Returns false to stop the test. */
export function requireRegistry(t: TestContext): boolean {
  if (fs.existsSync(REGISTRY_BIN)) return true;
  const reason = `${REGISTRY_BIN} is missing (apt-get install docker-registry)`;
  if (process.env.CI) throw new Error(`${reason}; CI is set, so this fails instead of skipping`);
  console.log(`# SKIP ${t.name}: ${reason}`);
  t.skip(reason);
  return false;
}

/** bcrypt via the system crypt(3) (libxcrypt) through perl, which Debian always ships. */
export function bcryptHash(password: string): string | undefined {
  const salt = Buffer.from(Array.from({ length: 16 }, () => Math.floor(Math.random() * 256))).toString('base64').replace(/\+/g, '.').replace(/=+$/, '').slice(0, 22);
  const r = spawnSync('perl', ['-e', 'print crypt($ARGV[0], $ARGV[1])', password, `$2b$05$${salt}`], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.startsWith('$2b$') && r.stdout.length === 60 ? r.stdout : undefined;
}

export async function startRegistry(opts: { htpasswd?: string } = {}): Promise<TestRegistry> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-registry-'));
  const storageDir = path.join(dir, 'storage');
  fs.mkdirSync(storageDir);
  let auth = '';
  if (opts.htpasswd) {
    fs.writeFileSync(path.join(dir, 'htpasswd'), opts.htpasswd);
    auth = `auth:\n  htpasswd:\n    realm: fw-test\n    path: ${path.join(dir, 'htpasswd')}\n`;
  }
  for (let tries = 0; ; tries++) {
    const port = await freePort();
    const config = path.join(dir, 'config.yml');
    // No blob descriptor cache: the tamper test edits storage behind the registry's back.
    fs.writeFileSync(config, [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${storageDir}`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      `  secret: ${Math.random().toString(36).slice(2)}`,
      auth,
    ].join('\n'));
    const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const address = `127.0.0.1:${port}`;
    const up = await waitUp(address, child);
    if (!up) {
      child.kill('SIGKILL');
      if (tries < 2) continue;
      throw new Error(`docker-registry did not start on ${address}: ${stderr.slice(-500)}`);
    }
    return {
      address,
      storageDir,
      blobFile: (digest) => path.join(storageDir, 'docker/registry/v2/blobs/sha256', digest.slice(7, 9), digest.slice(7), 'data'),
      stop: () => new Promise<void>((resolve) => {
        const done = () => {
          fs.rmSync(dir, { recursive: true, force: true });
          resolve();
        };
        if (child.exitCode !== null) return done();
        child.once('exit', done);
        child.kill('SIGTERM');
      }),
    };
  }
}

async function waitUp(address: string, child: ChildProcess): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) return false;
    try {
      const res = await fetch(`http://${address}/v2/`);
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) return true;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
