import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli, spawnCli } from '../helpers/cli.js';
import { probeBytes, request, startUpstream, watBytes } from './helpers.js';

describe('featherweight http-proxy', () => {
  it('runs guests with their config in front of an upstream until stopped', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-http-proxy-'));
    const upstream = await startUpstream();
    fs.writeFileSync(path.join(dir, 'noop.wasm'), await watBytes('noop'));
    fs.writeFileSync(path.join(dir, 'probe.wasm'), await probeBytes());
    fs.writeFileSync(path.join(dir, 'probe.conf'), 'req uri /from-config\nreq set 0 x-config-file yes\n');
    const child = spawnCli([
      'http-proxy', '--middleware', `${path.join(dir, 'noop.wasm')},${path.join(dir, 'probe.wasm')}`,
      '--upstream', upstream.url, '--listen', '127.0.0.1:0', '--config', `probe.wasm=@${path.join(dir, 'probe.conf')}`, '--config', 'noop.wasm={"opaque":true}',
    ]);
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d) => {
          out += d;
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        let err = '';
        child.stderr!.on('data', (d) => (err += d));
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      const r = await request(`${url}/original`);
      assert.equal(r.status, 200);
      assert.equal(r.body, 'upstream-body');
      assert.equal(upstream.seen.at(-1)!.url, '/from-config');
      assert.equal(upstream.seen.at(-1)!.headers['x-config-file'], 'yes');
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      await upstream.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects bad options with a message a person can act on', async () => {
    let r = await runCli(['http-proxy']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /needs --middleware/);
    r = await runCli(['http-proxy', '--upstream', 'http://127.0.0.1:1', '--listen', 'nope']);
    assert.match(r.stderr, /invalid --listen "nope"/);
    r = await runCli(['http-proxy', '--middleware', 'a.wasm', '--config', 'b.wasm={}']);
    assert.match(r.stderr, /--config b\.wasm: no --middleware module named b\.wasm/);
    r = await runCli(['http-proxy', '--middleware', 'a.wasm', '--config', 'a.wasm=@/nonexistent/conf']);
    assert.match(r.stderr, /--config a\.wasm: cannot read \/nonexistent\/conf: ENOENT/);
    r = await runCli(['http-proxy', '--middleware', '/nonexistent/a.wasm']);
    assert.match(r.stderr, /cannot read module \/nonexistent\/a\.wasm: no such file/);
  });
});
