import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopback, parseListen } from '../../src/server/http-util.js';

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
