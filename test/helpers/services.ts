import net from 'node:net';
import type { TestContext } from 'node:test';

/** True when a TCP connection to host:port opens within timeoutMs. */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export const services = {
  postgres: 5432,
  redis: 6379,
  rabbitmq: 5672,
  mqtt: 1883,
  nats: 4222,
} as const;

/**
 * Broker tests need the real broker. Unreachable: with CI set the test fails (nothing passes
 * silently in CI); without it the test skips and prints why.
 * Returns false when the caller must return early.
 */
export async function requireService(t: TestContext, name: keyof typeof services): Promise<boolean> {
  const port = services[name];
  if (await canConnect(port)) return true;
  const reason = `${name} is not reachable on 127.0.0.1:${port}`;
  if (process.env.CI) throw new Error(`${reason} (CI is set, so this fails instead of skipping)`);
  console.log(`# SKIP ${t.name}: ${reason}`);
  t.skip(reason);
  return false;
}
