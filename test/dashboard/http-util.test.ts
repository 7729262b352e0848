import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { cookie, decodeSegment, foreignRequest, HttpError, isLoopback, parseListen, sameSecret } from '../../src/server/http-util.js';

test('parseListen: every written form, and typos refused rather than misread', () => {
  assert.deepEqual(parseListen('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseListen(':8080'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseListen('8080'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseListen(' 0.0.0.0:0 '), { host: '0.0.0.0', port: 0 });
  assert.deepEqual(parseListen('[::1]:9000'), { host: '::1', port: 9000 });
  // A missing colon used to read as host "127.0.0.1808", port 0.
  assert.throws(() => parseListen('127.0.0.18080'), /invalid listen address "127\.0\.0\.18080": use host:port/);
  assert.throws(() => parseListen('[::1]8080'), /invalid listen address/);
  assert.throws(() => parseListen('127.0.0.1:65536'), /invalid listen address/);
  assert.throws(() => parseListen('nope', '--listen'), /invalid --listen "nope"/);
});

test('isLoopback: literal loopback addresses only', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.equal(isLoopback(h), true, h);
  for (const h of ['0.0.0.0', '10.0.0.1', '127.example.com', '127.0.0.1.nip.io', '::']) assert.equal(isLoopback(h), false, h);
});

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

test('foreignRequest: loopback Host names pass, others are DNS rebinding; a cross-site Origin is CSRF', () => {
  for (const host of ['127.0.0.1:8080', 'localhost:8080', 'LOCALHOST', '[::1]:8080', '127.1.2.3:1']) assert.equal(foreignRequest(req({ host }), true), null, host);
  assert.match(foreignRequest(req({ host: 'evil.example:8080' }), true)!, /not a loopback address.*DNS rebinding/);
  assert.match(foreignRequest(req({ host: '127.0.0.1.evil.example' }), true)!, /not a loopback address/);
  assert.equal(foreignRequest(req({ host: 'api.example:8080' }), false), null, 'beyond loopback the token guards, not the Host');
  assert.equal(foreignRequest(req({ host: '127.0.0.1:8080', origin: 'http://127.0.0.1:8080' }), true), null, 'same origin');
  assert.match(foreignRequest(req({ host: '127.0.0.1:8080', origin: 'http://127.0.0.1:9999' }), true)!, /CSRF/);
  assert.match(foreignRequest(req({ host: '127.0.0.1:8080', origin: 'https://evil.example' }), true)!, /cross-site requests are refused/);
  assert.match(foreignRequest(req({ host: '127.0.0.1:8080', origin: 'null' }), true)!, /Origin "null" is not a URL/);
});

test('decodeSegment: a malformed %-escape is an HttpError 400; cookie() and sameSecret()', () => {
  assert.equal(decodeSegment('mail%2Dlines'), 'mail-lines');
  assert.throws(() => decodeSegment('%E0%A4%A'), (err: unknown) => err instanceof HttpError && err.status === 400 && /malformed %-encoding/.test(err.message));
  assert.equal(cookie(req({ cookie: 'a=1; fw_token=s%20x; b=2' }), 'fw_token'), 's x');
  assert.equal(cookie(req({ cookie: 'fw_token=%zz' }), 'fw_token'), '%zz');
  assert.equal(cookie(req({}), 'fw_token'), undefined);
  assert.equal(sameSecret('sesame', 'sesame'), true);
  assert.equal(sameSecret('sesam', 'sesame'), false);
  assert.equal(sameSecret(undefined, 'sesame'), false);
});
