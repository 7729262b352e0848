import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  buildArtifact, parseChallenge, parseRef, pull, push, resolveModuleRef, sha256Digest,
  OCI_MANIFEST_MEDIA_TYPE, WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE,
} from '../../src/oci/oci.js';
import { runCli } from '../helpers/cli.js';
import { bcryptHash, requireRegistry, startRegistry } from './registry.js';

/** A valid module with a custom section of random bytes, so every test run pushes new blobs. */
function wasmModule(payload = randomBytes(64)): Buffer {
  const name = Buffer.from('fw-test');
  const body = Buffer.concat([Buffer.from([name.length]), name, payload]);
  if (body.length > 127) throw new Error('keep the test section under 128 bytes');
  return Buffer.concat([Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0, body.length]), body]);
}

test('parseRef: registry, repository, tag, digest and docker hub defaults', () => {
  assert.deepEqual(parseRef('oci://127.0.0.1:5000/mail/lines:v1'), { registry: '127.0.0.1:5000', repository: 'mail/lines', tag: 'v1' });
  assert.deepEqual(parseRef('localhost/x'), { registry: 'localhost', repository: 'x', tag: 'latest' });
  assert.deepEqual(parseRef('alpine'), { registry: 'docker.io', repository: 'library/alpine', tag: 'latest' });
  const d = `sha256:${'a'.repeat(64)}`;
  assert.deepEqual(parseRef(`ghcr.io/o/r@${d}`), { registry: 'ghcr.io', repository: 'o/r', digest: d });
  assert.throws(() => parseRef('ghcr.io/Upper/r:v1'), /lowercase/);
  assert.throws(() => parseRef('ghcr.io/o/r@sha256:xyz'), /not sha256/);
});

test('parseChallenge: bearer parameters with quoted commas', () => {
  const c = parseChallenge('Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"');
  assert.equal(c.scheme, 'bearer');
  assert.equal(c.params.realm, 'https://auth.example/token');
  assert.equal(c.params.scope, 'repository:a/b:pull,push');
});

test('buildArtifact follows the CNCF wasm layout', () => {
  const mod = wasmModule();
  const art = buildArtifact(mod, { created: new Date(0) });
  const manifest = JSON.parse(art.manifest.toString());
  assert.equal(manifest.mediaType, OCI_MANIFEST_MEDIA_TYPE);
  assert.equal(manifest.config.mediaType, WASM_CONFIG_MEDIA_TYPE);
  assert.deepEqual(manifest.layers, [{ mediaType: WASM_LAYER_MEDIA_TYPE, digest: sha256Digest(mod), size: mod.length }]);
  const config = JSON.parse(Buffer.from(art.config).toString());
  assert.deepEqual(config, { created: '1970-01-01T00:00:00.000Z', architecture: 'wasm', os: 'wasip1', layerDigests: [sha256Digest(mod)] });
  assert.throws(() => buildArtifact(Buffer.from('hello world')), /not a WebAssembly module/);
});

test('plain http is refused for a non-loopback registry unless --insecure', async () => {
  const seen: string[] = [];
  const fakeFetch = (async (url: string | URL) => {
    seen.push(String(url));
    throw Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
  }) as unknown as typeof fetch;
  await assert.rejects(pull('registry.example:5000/x:v1', { fetch: fakeFetch }), /needs --insecure/);
  assert.match(seen[0]!, /^https:\/\/registry\.example:5000\/v2\/x\/manifests\/v1$/);
  await assert.rejects(pull('registry.example:5000/x:v1', { fetch: fakeFetch, insecure: true }), /cannot reach/);
  assert.match(seen[1]!, /^http:\/\/registry\.example:5000\//);
});

test('push and pull against a real registry; a tampered blob is rejected', async (t) => {
  if (!requireRegistry(t)) return;
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const mod = wasmModule();
  const ref = `${reg.address}/featherweight/mail-lines:v1`;

  const pushed = await push(mod, ref);
  assert.match(pushed.digest, /^sha256:[a-f0-9]{64}$/);
  assert.equal(pushed.layer.digest, sha256Digest(mod));
  assert.equal(pushed.totalBytes, mod.length + pushed.config.size + pushed.manifest.size);

  // The registry serves back exactly the manifest we pushed, with our media types.
  const mres = await fetch(`http://${reg.address}/v2/featherweight/mail-lines/manifests/v1`, { headers: { accept: OCI_MANIFEST_MEDIA_TYPE } });
  assert.equal(mres.headers.get('docker-content-digest'), pushed.digest);
  const manifest = await mres.json() as { config: { mediaType: string }; layers: { mediaType: string }[] };
  assert.equal(manifest.config.mediaType, WASM_CONFIG_MEDIA_TYPE);
  assert.equal(manifest.layers[0]!.mediaType, WASM_LAYER_MEDIA_TYPE);

  const got = await pull(ref);
  assert.deepEqual(Buffer.from(got.bytes), mod);
  assert.equal(got.digest, sha256Digest(mod));
  assert.equal(got.manifestDigest, pushed.digest);

  const byDigest = await pull(`${reg.address}/featherweight/mail-lines@${pushed.digest}`);
  assert.deepEqual(Buffer.from(byDigest.bytes), mod);

  // Pushing the same module again reuses the blobs (HEAD says they exist) and succeeds.
  const again = await push(mod, `${reg.address}/featherweight/mail-lines:v2`);
  assert.equal(again.layer.digest, pushed.layer.digest);

  await assert.rejects(pull(`${reg.address}/featherweight/nope:v1`), /not found/);

  // Overwrite the layer's data file in the registry's storage with other bytes of the same size.
  const file = reg.blobFile(pushed.layer.digest);
  assert.ok(fs.existsSync(file), `blob file ${file} exists`);
  const evil = Buffer.from(mod);
  evil[evil.length - 1] ^= 0xff;
  fs.writeFileSync(file, evil);
  await assert.rejects(pull(ref), (err: Error) => {
    assert.match(err.message, /failed digest verification/);
    assert.match(err.message, /tampered/);
    assert.ok(err.message.includes(pushed.layer.digest));
    return true;
  });
});

test('resolveModuleRef: oci:// pulls once, caches by digest, pinned refs resolve offline', async (t) => {
  if (!requireRegistry(t)) return;
  const reg = await startRegistry();
  let stopped = false;
  t.after(() => (stopped ? undefined : reg.stop()));
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-oci-cache-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const mod = wasmModule();
  const pushed = await push(mod, `${reg.address}/apps/handler:v1`);

  const first = await resolveModuleRef(`oci://${reg.address}/apps/handler:v1`, { dataDir });
  assert.equal(first.cached, false);
  assert.deepEqual(Buffer.from(first.bytes), mod);
  assert.equal(first.digest, sha256Digest(mod));
  assert.equal(first.source, `${reg.address}/apps/handler@${pushed.digest}`);
  const cacheFile = path.join(dataDir, 'oci/blobs/sha256', first.digest.slice(7));
  assert.deepEqual(fs.readFileSync(cacheFile), mod);

  const second = await resolveModuleRef(`oci://${reg.address}/apps/handler:v1`, { dataDir });
  assert.equal(second.cached, true);

  // Pinned by manifest digest: served from the cache with the registry gone.
  await reg.stop();
  stopped = true;
  const offline = await resolveModuleRef(`oci://${reg.address}/apps/handler@${pushed.digest}`, { dataDir });
  assert.equal(offline.cached, true);
  assert.deepEqual(Buffer.from(offline.bytes), mod);
  // A corrupted cache entry is not trusted: with the registry gone it must fail, not serve bad bytes.
  fs.writeFileSync(cacheFile, Buffer.from('garbage'));
  await assert.rejects(resolveModuleRef(`oci://${reg.address}/apps/handler@${pushed.digest}`, { dataDir }), /cannot reach registry/);

  const file = path.join(dataDir, 'local.wasm');
  fs.writeFileSync(file, mod);
  const local = await resolveModuleRef('local.wasm', { dataDir, baseDir: dataDir });
  assert.equal(local.digest, sha256Digest(mod));
  await assert.rejects(resolveModuleRef('missing.wasm', { dataDir, baseDir: dataDir }), /cannot read module missing\.wasm/);
});

test('basic auth against a registry with an htpasswd (bcrypt) file', async (t) => {
  if (!requireRegistry(t)) return;
  const hash = bcryptHash('s3cret');
  if (!hash) {
    t.skip('no bcrypt-capable crypt(3) via perl; bearer/basic are covered by the token-proxy test');
    return;
  }
  const reg = await startRegistry({ htpasswd: `fw:${hash}\n` });
  t.after(() => reg.stop());
  const mod = wasmModule();
  const ref = `${reg.address}/secure/mod:v1`;
  await assert.rejects(push(mod, ref), /requires a login|401/);
  await assert.rejects(push(mod, ref, { auth: { username: 'fw', password: 'wrong' } }), /check the username and password/);
  await push(mod, ref, { auth: { username: 'fw', password: 's3cret' } });
  const got = await pull(ref, { auth: { username: 'fw', password: 's3cret' } });
  assert.deepEqual(Buffer.from(got.bytes), mod);
});

/**
 * Bearer flow: a front server challenges with `Bearer realm=...`, its token endpoint checks basic
 * credentials and scope, and requests carrying the token are proxied to the real registry.
 */
test('bearer token auth: challenge, token endpoint, retry with the token', async (t) => {
  if (!requireRegistry(t)) return;
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const token = randomBytes(16).toString('hex');
  const scopes: string[] = [];
  const front = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/token') {
      scopes.push(url.searchParams.get('scope') ?? '');
      const ok = req.headers.authorization === `Basic ${Buffer.from('robot:pw').toString('base64')}` && url.searchParams.get('service') === 'fw-test';
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(ok ? JSON.stringify({ token }) : '{}');
      return;
    }
    if (req.headers.authorization !== `Bearer ${token}`) {
      const repo = /^\/v2\/(.+?)\/(?:blobs|manifests)\//.exec(url.pathname)?.[1] ?? '';
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${req.headers.host}/token",service="fw-test",scope="repository:${repo}:pull,push"` });
      res.end();
      return;
    }
    const upstream = http.request({ host: '127.0.0.1', port: Number(reg.address.split(':')[1]), path: req.url, method: req.method, headers: { ...req.headers, host: reg.address, authorization: '' } }, (up) => {
      const headers = { ...up.headers };
      // Upload locations point at the registry; keep the client talking to the front.
      if (headers.location) headers.location = headers.location.replace(`http://${reg.address}`, `http://${req.headers.host}`);
      res.writeHead(up.statusCode!, headers);
      up.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => front.close(() => r())));
  const address = `127.0.0.1:${(front.address() as { port: number }).port}`;
  const mod = wasmModule();
  const ref = `${address}/team/handler:v1`;

  await assert.rejects(push(mod, ref), /token service .* refused: 401/);
  await assert.rejects(push(mod, ref, { auth: { username: 'robot', password: 'nope' } }), /check the username and password/);
  await push(mod, ref, { auth: { username: 'robot', password: 'pw' } });
  assert.ok(scopes.includes('repository:team/handler:pull,push'), `scopes asked: ${scopes.join(' ')}`);
  const got = await pull(ref, { auth: { username: 'robot', password: 'pw' } });
  assert.deepEqual(Buffer.from(got.bytes), mod);
  // A ready token skips the token endpoint.
  const before = scopes.length;
  const again = await pull(ref, { auth: { token } });
  assert.deepEqual(Buffer.from(again.bytes), mod);
  assert.equal(scopes.length, before);
});

test('CLI: featherweight oci push / pull', async (t) => {
  if (!requireRegistry(t)) return;
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-oci-cli-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const mod = wasmModule();
  fs.writeFileSync(path.join(dir, 'm.wasm'), mod);
  const ref = `${reg.address}/cli/m:v1`;
  const p = await runCli(['oci', 'push', path.join(dir, 'm.wasm'), ref]);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /sha256:[a-f0-9]{64}/);
  const out = path.join(dir, 'out.wasm');
  const q = await runCli(['oci', 'pull', ref, '-o', out]);
  assert.equal(q.code, 0, q.stderr);
  assert.deepEqual(fs.readFileSync(out), mod);
  const bad = await runCli(['oci', 'push', path.join(dir, 'm.wasm'), 'NOT A REF']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /invalid OCI reference/);
  const nopw = await runCli(['oci', 'push', path.join(dir, 'm.wasm'), ref, '--password-stdin']);
  assert.equal(nopw.code, 1);
  assert.match(nopw.stderr, /--username/);
});
