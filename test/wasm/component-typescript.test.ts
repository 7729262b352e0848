import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, runCli, upAndPost } from '../helpers/cli.js';
import { buildCached } from './component-guests.js';

// The TypeScript scaffold end to end: `featherweight new --lang typescript`, the README's build
// (`npm run build`: jco guest-types, tsc, ComponentizeJS; here the repo's node_modules stand in for
// `npm install`), `featherweight up`, an event, rows. ComponentizeJS takes minutes on two cores, so the
// built component is kept in the temp dir keyed by the template's content: a template change rebuilds.

const templateDir = path.join(repoRoot, 'templates/new/typescript');

function templateHash(): string {
  const h = createHash('sha256');
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else h.update(path.relative(templateDir, p)).update(fs.readFileSync(p));
    }
  };
  walk(templateDir);
  return h.digest('hex').slice(0, 24);
}

test('new --lang typescript: the README build makes a component that featherweight up runs into rows', { timeout: 900_000 }, async () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-new-ts-'));
  const dir = path.join(parent, 'hello-ts');
  try {
    const r = await runCli(['new', 'hello-ts', '--lang', 'typescript', '--dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(fs.readFileSync(path.join(dir, 'featherweight.yaml'), 'utf8'), /abi: component/);
    assert.match(fs.readFileSync(path.join(dir, 'README.md'), 'utf8'), /npm install && npm run build/);
    const wasm = path.join(dir, 'build/hello-ts.wasm');
    const cache = path.join(os.tmpdir(), 'fw-component-cache', `ts-${templateHash()}.wasm`);
    if (fs.existsSync(cache)) {
      fs.mkdirSync(path.dirname(wasm), { recursive: true });
      fs.copyFileSync(cache, wasm);
    } else {
      fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
      const build = spawnSync('npm', ['run', 'build'], { cwd: dir, encoding: 'utf8', timeout: 800_000 });
      assert.equal(build.status, 0, build.stderr || build.stdout);
      // The WIT-typed imports were generated, and the handler type-checked against them.
      assert.ok(fs.existsSync(path.join(dir, 'types/interfaces/wasi-cli-stdin.d.ts')));
      fs.mkdirSync(path.dirname(cache), { recursive: true });
      fs.copyFileSync(wasm, `${cache}.${process.pid}`);
      fs.renameSync(`${cache}.${process.pid}`, cache);
    }
    const bytes = fs.readFileSync(wasm);
    assert.deepEqual([...bytes.subarray(4, 8)], [0x0d, 0, 1, 0], 'a component, not a core module');

    const rows = await upAndPost(dir, 'hello-ts', 'first "quoted" line\n\n  \ncafé\tthird\r\n');
    const byLine = rows.map((row) => ({ line: row.line, text: row.text, length: row.length })).sort((a, b) => Number(a.line) - Number(b.line));
    // The same rows as the AssemblyScript and C scaffolds.
    assert.deepEqual(byLine, [
      { line: 1, text: 'first "quoted" line', length: 19 },
      { line: 4, text: 'café\tthird', length: 11 },
    ]);
  } finally {
    fs.rmSync(parent, { recursive: true, force: true });
  }
});

test('examples/mail-lines-ts writes exactly the rows of the AssemblyScript mail-lines handler', { timeout: 900_000 }, async () => {
  const { loadComponent, runComponentCommand } = await import('../../src/wasm/component/index.js');
  const { runWasiCommand } = await import('../../src/wasm/index.js');
  const { dec, enc, guest, limits } = await import('./guests.js');
  const image = loadComponent(buildCached(path.join(repoRoot, 'examples/mail-lines-ts'), 'build/mail-lines-ts.wasm'));
  const as = guest('mail-lines');
  const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
  const mails = [
    {
      subject: 'Zahlen', text: 'see attached',
      attachments: [
        { filename: 'notes.txt', contentType: 'text/plain', size: 0, content: b64('\ufefffirst\r\n\r\nGrüße, "Ü" \\ tab\there\r\nlast line without newline') },
        { filename: 'photo.png', contentType: 'image/png', size: 4, content: b64(Buffer.from([0x89, 0x50, 0x4e, 0x47])) },
        { filename: 'DATA.CSV', contentType: 'application/octet-stream', size: 0, content: b64('a,b\n1,2\n') },
        { filename: 'app', contentType: 'text/x-log', size: 0, content: b64('ctl\u0001 😀\n') },
        { filename: 'bad.txt', contentType: 'text/plain', size: 0, content: b64(Buffer.from([0x6f, 0x6b, 0xff, 0x21, 0xe2, 0x82, 0x41, 0xf0, 0x9f, 0x98])) },
      ],
    },
    { attachments: [{ filename: 'cr.txt', contentType: 'text/plain', content: b64('mac\rold\r\rend\n\n') }] },
    { attachments: [{ filename: 'short.txt', contentType: 'text/plain', content: b64(Buffer.from([0xef, 0xbb])) }, { filename: 'e.txt', content: '' }] },
    { attachments: [{ content: b64('held before its type\nsecond'), filename: 'late.log' }] },
    { attachments: [{ filename: 'broken.txt', contentType: 'text/plain', content: `${b64('one\ntwo\n')}!!!` }] },
    { attachments: null },
  ];
  for (const mail of mails) {
    const input = { stdin: enc(JSON.stringify(mail)), env: {}, args: [] };
    const want = runWasiCommand(as, input, limits());
    const got = runComponentCommand(image, input, limits({ maxMemoryBytes: 256 * 1024 * 1024 }));
    assert.ok(got.ok, !got.ok ? `${got.error.message}\n${dec(got.stderr)}` : '');
    assert.equal(dec(got.stdout), dec(want.stdout), JSON.stringify(mail));
    assert.equal(dec(got.stderr), dec(want.stderr), JSON.stringify(mail));
  }
  const bad = runComponentCommand(image, { stdin: enc('{"attachments": ['), env: {}, args: [] }, limits({ maxMemoryBytes: 256 * 1024 * 1024 }));
  assert.equal(!bad.ok && bad.error.kind, 'exit');
  assert.match(dec(bad.stderr), /mail-lines: invalid mail JSON/);
});

test('wasi:http/incoming-handler: a component answers a request; outbound HTTP is denied', { timeout: 900_000 }, async () => {
  const { loadComponent, runComponentHttp } = await import('../../src/wasm/component/index.js');
  const { limits } = await import('./guests.js');
  const image = loadComponent(buildCached(path.join(repoRoot, 'test/wasm/fixtures/http-ts'), 'build/http-ts.wasm'));
  const lim = limits({ maxMemoryBytes: 256 * 1024 * 1024 });
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  const call = (pathWithQuery: string, body = 'body!') =>
    runComponentHttp(image, { method: 'POST', pathWithQuery, headers: [['X-A', 'b']], body: new TextEncoder().encode(body) }, lim);
  const ok = call('/hello?x=1');
  assert.ok(ok.ok, !ok.ok ? ok.error.message : '');
  assert.equal(ok.ok && ok.response.status, 200);
  assert.deepEqual(ok.ok && ok.response.headers.map(([k, v]) => [k, text(v)]), [['content-type', 'text/plain'], ['x-handler', 'ts'], ['x-calls', '1']]);
  assert.equal(ok.ok && text(ok.response.body), 'post /hello?x=1 [x-a=b] 5:body!');
  const missing = call('/missing', '');
  assert.equal(missing.ok && missing.response.status, 404);
  // Every call is a fresh instance on a reused memory: the JS engine's state never carries over.
  for (let i = 0; i < 5; i++) {
    const again = call('/again');
    assert.equal(again.ok && text(again.response.headers.find(([k]) => k === 'x-calls')![1]), '1');
  }
  const out = call('/outbound/https/example.com/x', '');
  assert.equal(out.ok && text(out.response.body), 'post /outbound/https/example.com/x [x-a=b] 0: denied:HTTP-request-denied');
  // A command component is not an HTTP handler.
  const { cComponent, missingCToolchain } = await import('./component-guests.js');
  if (!missingCToolchain()) {
    const cmd = loadComponent(await cComponent('int main(void) { return 0; }'));
    const r = runComponentHttp(cmd, { method: 'GET', pathWithQuery: '/', headers: [], body: new Uint8Array(0) }, lim);
    assert.equal(!r.ok && r.error.kind, 'invalid-module');
  }
});
