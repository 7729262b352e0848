/**
 * KEDA's `externalscaler.ExternalScaler` gRPC service, so KEDA can scale featherweight pods on
 * sources it has no scaler for (embedded queue, smtp, http, mqtt, cron). The trigger is
 * `external-push`: KEDA keeps StreamIsActive open and we push `true` the moment lag appears,
 * instead of waiting for KEDA's next poll.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { formatHostPort, parseHostPort } from '../core/address.js';

export interface ScalerComponent {
  /** lag + in-flight: the number KEDA divides by `target`. */
  metricValue(): Promise<number>;
  /** Per-replica target (the trigger's AverageValue target). */
  target: number;
  /** Active when metricValue > activationTarget (strict, as in KEDA). */
  activationTarget: number;
  isActive(): Promise<boolean>;
  /** Called whenever new lag arrives; returns an unsubscribe function. */
  onLag(cb: () => void): () => void;
}

export interface ScalerProvider {
  component(name: string): ScalerComponent | undefined;
}

export interface ExternalScalerOptions {
  /** host:port; port 0 picks a free one (see the returned address). */
  listen: string;
  /** PEM contents or file paths. With `ca`, clients must present a certificate signed by it. */
  tls?: { cert: string; key: string; ca?: string };
  /** Backstop check of each open StreamIsActive, in ms (default 1000). Lag events push at once. */
  streamCheckMs?: number;
}

export interface ExternalScalerServer {
  address: string;
  close(): Promise<void>;
}

/** The .proto ships in the package next to dist/ and src/: both sit two folders below the root. */
export const EXTERNAL_SCALER_PROTO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../proto/externalscaler.proto');

export function loadExternalScalerProto(): grpc.GrpcObject {
  const def = protoLoader.loadSync(EXTERNAL_SCALER_PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  return grpc.loadPackageDefinition(def);
}

/** The metric name KEDA puts into the HPA (it adds its own `s<idx>-` prefix). */
export function metricNameFor(component: string): string {
  return `featherweight-${component.toLowerCase().replace(/[^a-z0-9-]+/g, '-')}`;
}

interface ScaledObjectRef { name: string; namespace: string; scalerMetadata: Record<string, string> }
interface GetMetricsRequest { scaledObjectRef: ScaledObjectRef | null; metricName: string }

class ScalerError extends Error {
  constructor(readonly code: grpc.status, message: string) {
    super(message);
  }
}

function pem(value: string, what: string): Buffer {
  if (value.includes('-----BEGIN')) return Buffer.from(value);
  try {
    return fs.readFileSync(value);
  } catch (err) {
    throw new Error(`cannot read TLS ${what} ${value}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function parseListen(listen: string): string {
  const a = parseHostPort(listen);
  if (!a) throw new Error(`invalid scaler address ${JSON.stringify(listen)}: use host:port, e.g. 127.0.0.1:9090`);
  return formatHostPort(a);
}

function toServiceError(err: unknown): Partial<grpc.ServiceError> {
  if (err instanceof ScalerError) return { code: err.code, details: err.message, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { code: grpc.status.INTERNAL, details: message, message };
}

/** int64 fields are deprecated but older KEDA reads them when the float is 0; keep them filled. */
function int64(n: number): number {
  return Number.isFinite(n) ? Math.round(n) : 0;
}

export async function startExternalScaler(provider: ScalerProvider, opts: ExternalScalerOptions): Promise<ExternalScalerServer> {
  const bindTo = parseListen(opts.listen);
  const proto = loadExternalScalerProto();
  const service = (proto.externalscaler as grpc.GrpcObject).ExternalScaler as grpc.ServiceClientConstructor;
  const checkMs = opts.streamCheckMs ?? 1000;
  const streams = new Set<grpc.ServerWritableStream<ScaledObjectRef, unknown>>();

  const lookup = (ref: ScaledObjectRef | null | undefined): { name: string; component: ScalerComponent } => {
    const name = ref?.scalerMetadata?.component;
    if (!name) {
      throw new ScalerError(grpc.status.INVALID_ARGUMENT,
        `ScaledObject ${ref?.namespace ?? '?'}/${ref?.name ?? '?'}: trigger metadata has no "component"; set metadata.component to the featherweight component name`);
    }
    const component = provider.component(name);
    if (!component) {
      throw new ScalerError(grpc.status.NOT_FOUND,
        `no component named ${JSON.stringify(name)} in this featherweight app (ScaledObject ${ref?.namespace ?? '?'}/${ref?.name ?? '?'})`);
    }
    return { name, component };
  };

  function unary<Req, Res>(fn: (req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      fn(call.request).then((res) => callback(null, res), (err) => callback(toServiceError(err)));
    };
  }

  const impl: grpc.UntypedServiceImplementation = {
    IsActive: unary(async (ref: ScaledObjectRef) => ({ result: await lookup(ref).component.isActive() })),

    GetMetricSpec: unary(async (ref: ScaledObjectRef) => {
      const { name, component } = lookup(ref);
      return { metricSpecs: [{ metricName: metricNameFor(name), targetSize: int64(component.target), targetSizeFloat: component.target }] };
    }),

    GetMetrics: unary(async (req: GetMetricsRequest) => {
      const { name, component } = lookup(req.scaledObjectRef);
      const value = await component.metricValue();
      return { metricValues: [{ metricName: req.metricName || metricNameFor(name), metricValue: int64(value), metricValueFloat: value }] };
    }),

    StreamIsActive: (call: grpc.ServerWritableStream<ScaledObjectRef, unknown>) => {
      let component: ScalerComponent;
      try {
        component = lookup(call.request).component;
      } catch (err) {
        call.emit('error', toServiceError(err));
        return;
      }
      streams.add(call);
      let last: boolean | undefined;
      let lastTrueAt = 0;
      let checking = false;
      let again = false;
      let closed = false;
      // Serialised checks; a lag event during a check queues one more so none is lost.
      const check = async (fromLag: boolean): Promise<void> => {
        if (closed) return;
        if (checking) {
          again = true;
          return;
        }
        checking = true;
        try {
          const active = await component.isActive();
          // Changes are sent at once. New lag on an active component repeats `true` at most once
          // per check period: KEDA runs a scale check on every `true`, and a reminder covers a
          // scale-in that happened between our ticks.
          const remind = fromLag && active && Date.now() - lastTrueAt >= checkMs;
          if (!closed && (active !== last || remind)) {
            last = active;
            if (active) lastTrueAt = Date.now();
            call.write({ result: active });
          }
        } catch {
          /* provider hiccup: the next event or tick tries again; KEDA's own poll is the backstop */
        } finally {
          checking = false;
          if (again && !closed) {
            again = false;
            void check(true);
          }
        }
      };
      const unsubscribe = component.onLag(() => void check(true));
      const timer = setInterval(() => void check(false), checkMs);
      timer.unref();
      const stop = () => {
        if (closed) return;
        closed = true;
        clearInterval(timer);
        unsubscribe();
        streams.delete(call);
      };
      call.on('cancelled', stop);
      call.on('close', stop);
      call.on('error', stop);
      void check(false); // the current state, right away
    },
  };

  const server = new grpc.Server();
  server.addService(service.service, impl);
  let creds: grpc.ServerCredentials;
  if (opts.tls) {
    creds = grpc.ServerCredentials.createSsl(
      opts.tls.ca ? pem(opts.tls.ca, 'CA') : null,
      [{ cert_chain: pem(opts.tls.cert, 'certificate'), private_key: pem(opts.tls.key, 'key') }],
      Boolean(opts.tls.ca),
    );
  } else {
    creds = grpc.ServerCredentials.createInsecure();
  }
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(bindTo, creds, (err, p) => (err ? reject(new Error(`cannot listen for the KEDA scaler on ${bindTo}: ${err.message}`)) : resolve(p)));
  });
  const host = bindTo.slice(0, bindTo.lastIndexOf(':'));
  return {
    address: `${host}:${port}`,
    close: () => new Promise<void>((resolve) => {
      for (const s of streams) s.end();
      streams.clear();
      const force = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 2000);
      force.unref();
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    }),
  };
}
