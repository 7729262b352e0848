import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tinyApp } from './fixtures.js';

test('up: a taken port ends it at once with exit 1, naming the address', { timeout: 120_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-up-'));
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
  const port = (holder.address() as net.AddressInfo).port;
  try {
    const r = await runCli(['up', tinyApp(dir), '--listen', `127.0.0.1:${port}`]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^featherweight: cannot listen on 127\\.0\\.0\\.1:${port} for the HTTP API and dashboard: the address is already in use .*--listen or server\\.listen$`, 'm'));
    assert.doesNotMatch(r.stdout, /featherweight is up/);
  } finally {
    holder.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
