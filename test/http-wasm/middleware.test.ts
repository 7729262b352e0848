import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHttpProxy, type HttpProxyGuest } from '../../src/server/http-proxy.js';
import type { InstanceMode } from '../../src/wasm/http-wasm/index.js';
import { captureLog, deadPort, probe, request, startUpstream, wat } from './helpers.js';

let probeModule: WebAssembly.Module;
let upstream: Awaited<ReturnType<typeof startUpstream>>;
before(async () => {
  probeModule = await probe();
  upstream = await startUpstream();
});
after(() => upstream.close());

const cfg = (lines: string[]) => new TextEncoder().encode(lines.join('\n'));

async function proxy(guests: HttpProxyGuest[], opts: { upstream?: string | null; instances?: InstanceMode; min?: string } = {}) {
  const log = captureLog(opts.min ?? 'debug');
  const p = await startHttpProxy({
    middleware: guests, upstream: opts.upstream === null ? undefined : (opts.upstream ?? upstream.url), log, instances: opts.instances,
  });
  return { ...p, log };
}

describe('http-wasm middleware in front of an upstream', () => {
  it('rewrites method, URI and request headers; reads method, URI, protocol, source address and config', async () => {
    const config = cfg([
      'req info 0', 'req method PUT', 'req uri /rewritten?q=1', 'req set 0 x-set v1', 'req add 0 x-add a', 'req add 0 x-add b',
      'req remove 0 x-drop',
    ]);
    const p = await proxy([{ name: 'probe', module: probeModule, config }]);
    try {
      const r = await request(`${p.url}/orig/path?z=9`, { headers: { 'x-drop': 'gone', 'x-keep': 'kept' } });
      assert.equal(r.status, 200);
      assert.equal(r.body, 'upstream-body');
      assert.equal(r.headers['x-upstream'], 'yes');
      const s = upstream.seen.at(-1)!;
      assert.equal(s.method, 'PUT');
      assert.equal(s.url, '/rewritten?q=1');
      assert.equal(s.headers['x-set'], 'v1');
      assert.deepEqual(s.distinct['x-add'], ['a', 'b']);
      assert.equal(s.headers['x-drop'], undefined);
      assert.equal(s.headers['x-keep'], 'kept');
      assert.equal(s.headers['x-info-method'], 'GET');
      assert.equal(s.headers['x-info-uri'], '/orig/path?z=9');
      assert.equal(s.headers['x-info-proto'], 'HTTP/1.1');
      assert.match(String(s.headers['x-info-source']), /^127\.0\.0\.1:\d+$/);
      assert.equal(s.headers['x-info-config-len'], String(config.length));
    } finally {
      await p.close();
    }
  });

  it('lists header names and values of requests, responses and trailers (with the trailers feature)', async () => {
    const p = await proxy([{ module: probeModule, config: cfg([
      'req features 6', 'req names 0 0 x-req-names', 'req values 0 x-multi 0 x-req-values', 'req values 0 x-none 0 x-req-none',
      'req names 2 0 x-req-trailer-names', 'req values 2 x-t 0 x-req-trailer',
      'resp names 1 1 x-resp-names', 'resp values 1 x-upstream-multi 1 x-resp-values', 'resp set 3 x-rt late',
      'resp names 3 1 x-resp-trailer-names',
    ]) }]);
    try {
      const r = await request(`${p.url}/h`, { method: 'POST', headers: { 'x-multi': ['a', 'b'], trailer: 'x-t' }, body: 'abc', trailers: { 'x-t': 'tv' } });
      assert.equal(r.status, 200);
      const s = upstream.seen.at(-1)!;
      const names = String(s.headers['x-req-names']);
      assert.match(names, /^\d+:/);
      assert.ok(names.split(':')[1]!.split(',').includes('x-multi'), names);
      assert.ok(names.split(':')[1]!.split(',').includes('host'), names);
      assert.equal(s.headers['x-req-values'], '2:a,b');
      assert.equal(s.headers['x-req-none'], '0:');
      assert.equal(s.headers['x-req-trailer-names'], '1:x-t');
      assert.equal(s.headers['x-req-trailer'], '1:tv');
      assert.equal(s.body, 'abc');
      assert.deepEqual(s.trailers, { 'x-t': 'tv' }, 'request trailers are forwarded');
      assert.match(String(r.headers['x-resp-names']), /x-upstream-multi/);
      assert.equal(r.headers['x-resp-values'], '2:one,two');
      assert.equal(r.headers['x-resp-trailer-names'], '1:x-rt');
    } finally {
      await p.close();
    }
  });

  it('gives empty trailers without the trailers feature', async () => {
    const p = await proxy([{ module: probeModule, config: cfg(['req names 2 0 x-tn']) }]);
    try {
      await request(`${p.url}/`, { method: 'POST', headers: { trailer: 'x-t' }, body: 'x', trailers: { 'x-t': 'tv' } });
      assert.equal(upstream.seen.at(-1)!.headers['x-tn'], '0:');
    } finally {
      await p.close();
    }
  });

  it('reading the request body consumes it unless buffer_request is on; write_body replaces it', async () => {
    const consume = await proxy([{ module: probeModule, config: cfg(['req readbody 0 4 0 x-read']) }]);
    const buffered = await proxy([{ module: probeModule, config: cfg(['req features 1', 'req readbody 0 4 0 x-read']) }]);
    const written = await proxy([{ module: probeModule, config: cfg(['req write 0 replaced', 'req write 0 -and-more']) }]);
    try {
      await request(`${consume.url}/b`, { method: 'POST', body: 'hello world' });
      let s = upstream.seen.at(-1)!;
      assert.equal(s.headers['x-read'], '3:hello world'); // 4+4+3 bytes, EOF on the third read
      assert.equal(s.body, '');
      await request(`${buffered.url}/b`, { method: 'POST', body: 'hello world' });
      s = upstream.seen.at(-1)!;
      assert.equal(s.headers['x-read'], '3:hello world');
      assert.equal(s.body, 'hello world');
      await request(`${written.url}/b`, { method: 'POST', body: 'original' });
      s = upstream.seen.at(-1)!;
      assert.equal(s.body, 'replaced-and-more');
      assert.equal(s.headers['content-length'], String('replaced-and-more'.length));
    } finally {
      await Promise.all([consume.close(), buffered.close(), written.close()]);
    }
  });

  it('handle_response sees the buffered upstream response and may replace status, headers and body', async () => {
    const p = await proxy([{ module: probeModule, config: cfg([
      'req features 2', 'req ctx 42', 'resp ctxinfo 1 x-ctx', 'resp getstatus 1 x-status', 'resp readbody 1 5 1 x-upstream-body',
      'resp status 203', 'resp write 1 new body', 'resp remove 1 x-upstream',
    ]) }]);
    try {
      const r = await request(`${p.url}/x`);
      assert.equal(r.status, 203);
      assert.equal(r.body, 'new body');
      assert.equal(r.headers['x-ctx'], '42,0');
      assert.equal(r.headers['x-status'], '200');
      assert.equal(r.headers['x-upstream-body'], '3:upstream-body');
      assert.equal(r.headers['x-upstream'], undefined);
      assert.equal(r.headers['content-length'], '8');
    } finally {
      await p.close();
    }
  });

  it('without buffer_response the upstream response streams through; headers set before next are kept', async () => {
    const q = await proxy([{ module: probeModule, config: cfg(['req set 1 x-before-next early']) }]);
    try {
      const r = await request(`${q.url}/s`);
      assert.equal(r.status, 200);
      assert.equal(r.body, 'upstream-body');
      assert.equal(r.headers['x-before-next'], 'early', 'response headers set before next are kept');
    } finally {
      await q.close();
    }
  });

  it('an upstream failure calls handle_response with is_error=1 and answers 502 unless the guest answers', async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`;
    const plain = await proxy([{ module: probeModule, config: cfg(['req ctx 7', 'req features 2', 'resp ctxinfo 1 x-ctx']) }], { upstream: dead });
    const answering = await proxy([{ module: probeModule, config: cfg(['req features 2', 'resp status 503', 'resp write 1 sorry']) }], { upstream: dead });
    try {
      const r = await request(`${plain.url}/`);
      assert.equal(r.status, 502);
      assert.equal(r.headers['x-ctx'], '7,1');
      const a = await request(`${answering.url}/`);
      assert.equal(a.status, 503);
      assert.equal(a.body, 'sorry');
    } finally {
      await Promise.all([plain.close(), answering.close()]);
    }
  });

  it('runs a chain in order: the first guest sees the request first and the response last', async () => {
    const p = await proxy([
      { name: 'a', module: probeModule, config: cfg(['req set 0 x-from-a 1', 'req features 2', 'resp values 1 x-from-b 1 x-a-saw-b']) },
      { name: 'b', module: probeModule, config: cfg(['req values 0 x-from-a 0 x-b-saw-a', 'req features 2', 'resp set 1 x-from-b 2']) },
    ]);
    try {
      const r = await request(`${p.url}/chain`);
      const s = upstream.seen.at(-1)!;
      assert.equal(s.headers['x-b-saw-a'], '1:1');
      assert.equal(r.headers['x-from-b'], '2');
      assert.equal(r.headers['x-a-saw-b'], '1:2');
    } finally {
      await p.close();
    }
  });

  it('sends guest logs to the host log by level and reports log_enabled', async () => {
    const p = await proxy([{ module: await wat('log') }], { min: 'info' });
    try {
      const r = await request(`${p.url}/`);
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-log-enabled'], '01110');
      const lines = p.log.entries.filter((e) => String(e.msg).startsWith('msg-')).map((e) => `${e.level}:${e.msg}`);
      assert.deepEqual(lines, ['info:msg-info', 'warn:msg-warn', 'error:msg-error']);
    } finally {
      await p.close();
    }
  });

  it('sends a WASI guest stdout/stderr to the log', async () => {
    const p = await proxy([{ name: 'w', module: await wat('wasi-stdout') }]);
    try {
      const r = await request(`${p.url}/`);
      assert.equal(r.status, 200);
      assert.ok(p.log.entries.some((e) => e.level === 'info' && e.msg === 'hello stdout!' && e.obj.guest === 'w'), p.log.text());
      assert.ok(p.log.entries.some((e) => e.level === 'warn' && e.msg === 'hello stderr'), p.log.text());
    } finally {
      await p.close();
    }
  });

  for (const instances of ['pooled', 'fresh'] as const) {
    it(`instances=${instances}: ${instances === 'pooled' ? 'reuses one instance (state carries over)' : 'a new instance per request'}`, async () => {
      const p = await proxy([{ module: probeModule, config: cfg(['req info 0']) }], { instances });
      try {
        await request(`${p.url}/1`);
        await request(`${p.url}/2`);
        assert.equal(upstream.seen.at(-1)!.headers['x-info-requests'], instances === 'pooled' ? '2' : '1');
        assert.equal(p.guests[0]!.stats().instancesCreated, instances === 'pooled' ? 1 : 2);
      } finally {
        await p.close();
      }
    });
  }
});
