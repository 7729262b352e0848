import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpWasmListener, startHttpProxy, type HttpProxyGuest } from '../../src/server/http-proxy.js';
import { createHttpWasmGuest } from '../../src/wasm/http-wasm/index.js';
import { watBytes as watTextBytes } from '../runtime/wat.js';
import { captureLog, probe, request, startUpstream, wat } from './helpers.js';

let probeModule: WebAssembly.Module;
let upstream: Awaited<ReturnType<typeof startUpstream>>;
before(async () => {
  probeModule = await probe();
  upstream = await startUpstream();
});
after(() => upstream.close());

const cfg = (lines: string[]) => new TextEncoder().encode(lines.join('\n'));

async function serve(guests: HttpProxyGuest[], withUpstream = false) {
  const log = captureLog();
  const p = await startHttpProxy({ middleware: guests, upstream: withUpstream ? upstream.url : undefined, log });
  return { ...p, log };
}

describe('http-wasm handler mode (no upstream)', () => {
  it('a guest that continues without a next handler gives the default empty 200', async () => {
    const p = await serve([{ module: await wat('noop') }]);
    try {
      const r = await request(`${p.url}/anything`);
      assert.equal(r.status, 200);
      assert.equal(r.body, '');
      assert.equal(r.headers['content-length'], '0');
    } finally {
      await p.close();
    }
  });

  it('answers with status, headers and a body streamed from the request in small reads (WAT)', async () => {
    const p = await serve([{ module: await wat('echo') }]);
    try {
      const r = await request(`${p.url}/e`, { method: 'POST', body: 'ping pong!', headers: { 'x-one': '1' } });
      assert.equal(r.status, 202);
      assert.equal(r.body, 'ping pong!');
      assert.equal(r.headers['content-type'], 'text/plain');
      const names = String(r.headers['x-names']).split(',');
      assert.ok(names.includes('x-one') && names.includes('host'), String(r.headers['x-names']));
      assert.equal(r.headers['x-names-count'], String(names.length));
    } finally {
      await p.close();
    }
  });

  it('exercises the request getters, headers, body and status in handler mode (AssemblyScript)', async () => {
    const p = await serve([{ module: probeModule, config: cfg([
      'req info 1', 'req names 0 1 x-names', 'req values 0 x-multi 1 x-values', 'req logenabled 1 x-log',
      'req add 1 set-cookie a=1', 'req add 1 set-cookie b=2', 'req set 1 x-gone no', 'req remove 1 x-gone',
      'req status 201', 'req write 1 got: ', 'req echo 0 2', 'req log 0 handled', 'req next 0',
    ]) }]);
    try {
      const r = await request(`${p.url}/h/path?q=%20x`, { method: 'PATCH', body: 'data', headers: { 'x-multi': ['p', 'q'] } });
      assert.equal(r.status, 201);
      assert.equal(r.body, 'got: 2:data'); // 2 bytes, then 2 bytes with EOF
      assert.equal(r.headers['x-info-method'], 'PATCH');
      assert.equal(r.headers['x-info-uri'], '/h/path?q=%20x');
      assert.equal(r.headers['x-info-proto'], 'HTTP/1.1');
      assert.match(String(r.headers['x-info-source']), /^127\.0\.0\.1:\d+$/);
      assert.equal(r.headers['x-values'], '2:p,q');
      assert.match(String(r.headers['x-names']), /x-multi/);
      assert.equal(r.headers['x-log'], '11110');
      assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']);
      assert.equal(r.headers['x-gone'], undefined);
      assert.ok(p.log.entries.some((e) => e.level === 'info' && e.msg === 'handled'));
    } finally {
      await p.close();
    }
  });

  it('enable_features at start-up applies to every request', async () => {
    const p = await serve([{ module: probeModule, config: cfg(['init features 2', 'req info 1', 'req next 0']) }]);
    try {
      const r = await request(`${p.url}/`);
      assert.equal(r.headers['x-info-features'], '2');
    } finally {
      await p.close();
    }
  });

  it('mounts under a route prefix for the server (createHttpWasmListener)', async () => {
    const log = captureLog();
    const guest = createHttpWasmGuest(probeModule, { name: 'mounted', config: cfg(['req info 1', 'req next 0']), log });
    const listener = createHttpWasmListener({ guests: [guest], log, stripPrefix: '/v1/components/hello' });
    const server = http.createServer((req, res) => void listener(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const r = await request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/components/hello/items?id=3`);
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-info-uri'], '/items?id=3');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('http-wasm spec violations end the request with a 500 and a log line', () => {
  const cases: Array<{ name: string; guest: () => Promise<HttpProxyGuest>; upstream: boolean; line: RegExp }> = [
    { name: 'read_body with buf_limit 0', guest: async () => ({ module: await wat('violation-read-zero') }), upstream: true, line: /read_body with buf_limit 0/ },
    { name: 'a response header after next without buffer_response', guest: async () => ({ module: await wat('violation-after-next') }), upstream: true, line: /set_header_value: touching the response headers after next needs feature buffer_response/ },
    { name: 'the status after next without buffer_response', guest: async () => ({ module: probeModule, config: cfg(['resp status 201']) }), upstream: true, line: /set_status_code: touching the response status code after next needs feature buffer_response/ },
    { name: 'the response body after next without buffer_response', guest: async () => ({ module: probeModule, config: cfg(['resp write 1 x']) }), upstream: true, line: /write_body: touching the response body after next needs feature buffer_response/ },
    { name: 'a request header after next', guest: async () => ({ module: probeModule, config: cfg(['resp set 0 x-late 1']) }), upstream: true, line: /cannot change the request headers after next/ },
    { name: 'a trailer without the trailers feature', guest: async () => ({ module: probeModule, config: cfg(['req set 2 x-t 1']) }), upstream: true, line: /trailers need feature trailers/ },
    { name: 'an invalid header name', guest: async () => ({ module: probeModule, config: cfg(['req set 0 bad:name 1']) }), upstream: true, line: /invalid header name/ },
    { name: 'a missing handle_response export', guest: async () => ({ module: await wat('violation-no-response') }), upstream: true, line: /does not export handle_response/ },
    { name: 'a trap (WAT)', guest: async () => ({ module: await wat('violation-trap') }), upstream: false, line: /guest trapped in handle_request: unreachable/ },
    { name: 'a trap in handle_response (AssemblyScript)', guest: async () => ({ module: probeModule, config: cfg(['resp trap']) }), upstream: true, line: /guest trapped in handle_response/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const p = await serve([{ name: 'bad', ...(await c.guest()) }], c.upstream);
      try {
        for (let i = 0; i < 2; i++) {
          const r = await request(`${p.url}/v`);
          assert.equal(r.status, 500);
          assert.match(r.body, /handler bad failed; see the server log/);
        }
        const lines = p.log.entries.filter((e) => e.level === 'error' && e.obj.guest === 'bad');
        assert.equal(lines.length, 2, p.log.text());
        assert.match(lines[0]!.msg, c.line);
      } finally {
        await p.close();
      }
    });
  }

  it('the host keeps serving other requests and guests after a violation', async () => {
    const good = await serve([{ module: probeModule, config: cfg(['req uri /ok']) }], true);
    const bad = await serve([{ name: 'bad', module: probeModule, config: cfg(['req trap']) }], true);
    try {
      assert.equal((await request(`${bad.url}/`)).status, 500);
      const r = await request(`${good.url}/`);
      assert.equal(r.status, 200);
      assert.equal(upstream.seen.at(-1)!.url, '/ok');
      assert.equal((await request(`${bad.url}/`)).status, 500);
      assert.equal(bad.guests[0]!.stats().idle, 0, 'a trapped instance is not reused');
    } finally {
      await Promise.all([good.close(), bad.close()]);
    }
  });

  it('an inner guest violation ends the chain with 500; the outer guest gets is_error=1', async () => {
    const p = await serve([
      { name: 'outer', module: probeModule, config: cfg(['req ctx 5', 'req features 2', 'resp logctx', 'resp status 200']) },
      { name: 'inner', module: await wat('violation-read-zero') },
    ], true);
    try {
      const r = await request(`${p.url}/`);
      assert.equal(r.status, 500);
      assert.ok(p.log.entries.some((e) => e.obj.guest === 'inner' && /buf_limit 0/.test(e.msg)));
      assert.ok(p.log.entries.some((e) => e.obj.guest === 'outer' && e.msg === 'ctx=5 is_error=1'), p.log.text());
    } finally {
      await p.close();
    }
  });

  it('refuses a module that imports something the host does not provide', async () => {
    const { compileModule } = await import('../../src/wasm/compile.js');
    const mod = compileModule(await watTextBytes('(module (import "env" "foo" (func)) (memory (export "memory") 1) (func (export "handle_request") (result i64) (i64.const 1)))')).module;
    assert.throws(() => createHttpWasmGuest(mod, { name: 'x', log: captureLog() }), /imports env\.foo which the host does not provide/);
  });
});
