import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { metricNameFor, startExternalScaler, type ScalerComponent, type ScalerProvider } from '../../src/kube/external-scaler.js';
import { repoRoot } from '../helpers/cli.js';

/** The client loads the repo's .proto itself, as KEDA compiles the same file. */
function client(address: string, creds = grpc.credentials.createInsecure(), options: grpc.ClientOptions = {}): grpc.Client & Record<string, any> {
  const def = protoLoader.loadSync(path.join(repoRoot, 'proto/externalscaler.proto'), { keepCase: true, longs: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def).externalscaler as grpc.GrpcObject;
  const Ctor = pkg.ExternalScaler as grpc.ServiceClientConstructor;
  return new Ctor(address, creds, options) as grpc.Client & Record<string, any>;
}

function call<T>(c: Record<string, any>, method: string, req: unknown): Promise<T> {
  return new Promise((resolve, reject) => c[method](req, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res))));
}

/** A component whose lag the test sets; onLag listeners are counted to check unsubscribe. */
function fakeComponent(target = 5, activationTarget = 0) {
  const listeners = new Set<() => void>();
  const state = { lag: 0, inFlight: 0 };
  const comp: ScalerComponent = {
    target,
    activationTarget,
    metricValue: async () => state.lag + state.inFlight,
    isActive: async () => state.lag + state.inFlight > activationTarget,
    onLag(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
  };
  return {
    comp,
    state,
    listeners,
    addLag(n: number) {
      state.lag += n;
      for (const l of [...listeners]) l();
    },
  };
}

const ref = (component?: string) => ({ name: 'mail', namespace: 'default', scalerMetadata: component ? { component, scalerAddress: 'x:1' } : {} });

test('IsActive, GetMetricSpec, GetMetrics over a real gRPC client', async (t) => {
  const mail = fakeComponent(2.5, 3);
  const provider: ScalerProvider = { component: (n) => (n === 'mail' ? mail.comp : undefined) };
  const srv = await startExternalScaler(provider, { listen: '127.0.0.1:0' });
  t.after(() => srv.close());
  assert.match(srv.address, /^127\.0\.0\.1:\d+$/);
  assert.notEqual(srv.address, '127.0.0.1:0');
  const c = client(srv.address);
  t.after(() => c.close());

  assert.deepEqual(await call(c, 'IsActive', ref('mail')), { result: false });
  mail.state.lag = 3; // equal to activationTarget: still inactive (strict >)
  assert.deepEqual(await call(c, 'IsActive', ref('mail')), { result: false });
  mail.state.inFlight = 4;
  assert.deepEqual(await call(c, 'IsActive', ref('mail')), { result: true });

  const spec = await call<{ metricSpecs: { metricName: string; targetSize: string; targetSizeFloat: number }[] }>(c, 'GetMetricSpec', ref('mail'));
  assert.deepEqual(spec.metricSpecs, [{ metricName: metricNameFor('mail'), targetSize: '3', targetSizeFloat: 2.5 }]);

  const metrics = await call<{ metricValues: { metricName: string; metricValue: string; metricValueFloat: number }[] }>(
    c, 'GetMetrics', { scaledObjectRef: ref('mail'), metricName: spec.metricSpecs[0]!.metricName });
  assert.deepEqual(metrics.metricValues, [{ metricName: metricNameFor('mail'), metricValue: '7', metricValueFloat: 7 }]);
});

test('unknown or missing component is NOT_FOUND / INVALID_ARGUMENT with a clear message', async (t) => {
  const srv = await startExternalScaler({ component: () => undefined }, { listen: '127.0.0.1:0' });
  t.after(() => srv.close());
  const c = client(srv.address);
  t.after(() => c.close());
  for (const method of ['IsActive', 'GetMetricSpec']) {
    await assert.rejects(call(c, method, ref('nope')), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.NOT_FOUND);
      assert.match(err.details, /no component named "nope"/);
      return true;
    });
  }
  await assert.rejects(call(c, 'GetMetrics', { scaledObjectRef: ref('nope'), metricName: 'x' }), (err: grpc.ServiceError) => err.code === grpc.status.NOT_FOUND);
  await assert.rejects(call(c, 'IsActive', ref()), (err: grpc.ServiceError) => {
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
    assert.match(err.details, /metadata\.component/);
    return true;
  });
  const stream = c.StreamIsActive(ref('nope'));
  const code = await new Promise<number>((resolve) => {
    stream.on('error', (e: grpc.ServiceError) => resolve(e.code));
    stream.on('data', () => resolve(-1));
  });
  assert.equal(code, grpc.status.NOT_FOUND);
});

test('StreamIsActive pushes true on new lag (event-driven), stays open, unsubscribes on cancel', async (t) => {
  const mail = fakeComponent();
  // A periodic check of one minute: any `true` seen here came from the onLag push.
  const srv = await startExternalScaler({ component: (n) => (n === 'mail' ? mail.comp : undefined) }, { listen: '127.0.0.1:0', streamCheckMs: 60_000 });
  t.after(() => srv.close());
  const c = client(srv.address);
  t.after(() => c.close());
  const stream = c.StreamIsActive(ref('mail'));
  const received: boolean[] = [];
  let notify: (() => void) | undefined;
  stream.on('data', (m: { result: boolean }) => {
    received.push(m.result);
    notify?.();
  });
  stream.on('error', () => {});
  const nextMessage = (n: number) => new Promise<void>((resolve) => {
    if (received.length >= n) return resolve();
    notify = () => received.length >= n && resolve();
  });

  await nextMessage(1);
  assert.deepEqual(received, [false], 'the current state is sent on open');
  assert.equal(mail.listeners.size, 1);

  mail.addLag(4);
  await nextMessage(2);
  assert.deepEqual(received, [false, true]);

  // More lag while already reported active within the period: no flood of duplicates.
  mail.addLag(1);
  mail.addLag(1);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(received, [false, true]);

  // The stream is still open after the pushes.
  assert.equal(mail.listeners.size, 1);
  stream.cancel();
  for (let i = 0; i < 100 && mail.listeners.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(mail.listeners.size, 0, 'cancelling the stream unsubscribes from onLag');
});

test('StreamIsActive periodic check reports the drop to inactive and the next activation', async (t) => {
  const mail = fakeComponent();
  mail.state.lag = 2;
  const srv = await startExternalScaler({ component: () => mail.comp }, { listen: '127.0.0.1:0', streamCheckMs: 20 });
  t.after(() => srv.close());
  const c = client(srv.address);
  t.after(() => c.close());
  const stream = c.StreamIsActive(ref('mail'));
  const received: boolean[] = [];
  const waitFor = (n: number) => new Promise<void>((resolve) => {
    const tick = () => (received.length >= n ? resolve() : setTimeout(tick, 5));
    tick();
  });
  stream.on('data', (m: { result: boolean }) => received.push(m.result));
  stream.on('error', () => {});
  await waitFor(1);
  mail.state.lag = 0; // drained without a lag event: only the periodic check can see it
  await waitFor(2);
  mail.state.lag = 1; // lag that arrived without an event is still found by the backstop
  await waitFor(3);
  assert.deepEqual(received.slice(0, 3), [true, false, true]);
  stream.cancel();
});

test('TLS: server certificate, and client certificates when a CA is given', async (t) => {
  if (spawnSync('openssl', ['version']).status !== 0) {
    t.skip('openssl CLI not available to make test certificates');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-scaler-tls-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '1', '-subj', '/CN=fw-test-ca');
  fs.writeFileSync(f('san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  for (const who of ['server', 'client']) {
    ssl('req', ...ec, '-keyout', f(`${who}.key`), '-out', f(`${who}.csr`), '-subj', `/CN=fw-${who}`);
    ssl('x509', '-req', '-in', f(`${who}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${who}.crt`), '-days', '1', '-extfile', f('san.ext'));
  }
  const mail = fakeComponent();
  mail.state.lag = 9;
  const provider: ScalerProvider = { component: () => mail.comp };
  const ca = fs.readFileSync(f('ca.crt'));

  // Server TLS only (cert as a file path).
  const srv = await startExternalScaler(provider, { listen: '127.0.0.1:0', tls: { cert: f('server.crt'), key: f('server.key') } });
  t.after(() => srv.close());
  // Names the certificate's DNS SAN: TLS SNI may not be an IP address.
  const sni = { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' };
  const tlsClient = client(srv.address, grpc.credentials.createSsl(ca), sni);
  t.after(() => tlsClient.close());
  assert.deepEqual(await call(tlsClient, 'IsActive', ref('mail')), { result: true });
  const plain = client(srv.address, grpc.credentials.createInsecure(), { 'grpc.initial_reconnect_backoff_ms': 50 });
  t.after(() => plain.close());
  await assert.rejects(call(plain, 'IsActive', ref('mail')), (err: grpc.ServiceError) => err.code === grpc.status.UNAVAILABLE);

  // Mutual TLS (PEM contents): a client without a certificate from the CA is refused.
  const mtls = await startExternalScaler(provider, {
    listen: '127.0.0.1:0',
    tls: { cert: fs.readFileSync(f('server.crt'), 'utf8'), key: fs.readFileSync(f('server.key'), 'utf8'), ca: ca.toString() },
  });
  t.after(() => mtls.close());
  const noCert = client(mtls.address, grpc.credentials.createSsl(ca), sni);
  t.after(() => noCert.close());
  await assert.rejects(call(noCert, 'IsActive', ref('mail')), (err: grpc.ServiceError) => err.code === grpc.status.UNAVAILABLE);
  const withCert = client(mtls.address, grpc.credentials.createSsl(ca, fs.readFileSync(f('client.key')), fs.readFileSync(f('client.crt'))), sni);
  t.after(() => withCert.close());
  const metrics = await call<{ metricValues: { metricValueFloat: number }[] }>(withCert, 'GetMetrics', { scaledObjectRef: ref('mail'), metricName: 'm' });
  assert.equal(metrics.metricValues[0]!.metricValueFloat, 9);
});

test('invalid listen address is rejected with the expected form', async () => {
  await assert.rejects(startExternalScaler({ component: () => undefined }, { listen: 'nonsense' }), /use host:port/);
});
