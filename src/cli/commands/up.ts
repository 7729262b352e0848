import type { Command } from 'commander';
import type { Logger } from 'pino';
import { createLogger, loadManifest, selectComponents, startApp, startKedaScaler, startProxies as startAppProxies, startServer, type AppManifest } from '../../index.js';
import type { ThreadBudget } from '../../runtime/budget.js';
import { logLevelOption } from '../log-level.js';

// `up` is a caller of the public API (src/index.ts), like any embedder: what it starts, an embedder can.
export function register(program: Command): void {
  logLevelOption(program
    .command('up')
    .description('start every component of an app (sources, replica pools, scalers, sinks) and the HTTP server')
    .argument('[file]', 'app manifest', 'featherweight.yaml')
    .option('--listen <host:port>', 'HTTP API and dashboard address (default: manifest server.listen, 127.0.0.1:8080)')
    .option('--data-dir <dir>', 'state directory (default: manifest dataDir, ./.featherweight)')
    .option('--keda-scaler <host:port>', "serve KEDA's external scaler gRPC service here (default: manifest server.kedaScaler, off)")
    .option('--only <names>', 'run only these components/proxies (comma-separated), e.g. one worker per process sharing a broker consumer')
    .option('--watch', "rebuild (a component's build: command) and swap a component's module when its .wasm or its sources change, without dropping events, like `spin watch`")
    .option('--insecure-no-auth', 'listen beyond loopback without FEATHERWEIGHT_TOKEN: anyone who can reach the address may read rows and dead letters and post events (logged as a warning)'))
    .action(async (file: string, o: { listen?: string; dataDir?: string; kedaScaler?: string; only?: string; watch?: boolean; insecureNoAuth?: boolean }) => {
      const loaded = loadManifest(file);
      const manifest = o.only !== undefined ? selectComponents(loaded, o.only.split(',')) : loaded;
      if (o.dataDir) manifest.dataDir = o.dataDir;
      const log = createLogger();
      const app = await startApp(manifest, { log }).catch((err) => startupFailed(err, []));
      const listen = o.listen ?? manifest.server.listen;
      const token = process.env[manifest.server.tokenEnv];
      const started: Array<{ close(): Promise<void> }> = [app];
      const server = await bound(startServer(app, { listen, log, ...(token ? { token } : {}), ...(o.insecureNoAuth ? { insecureNoAuth: true } : {}) }), listen, 'the HTTP API and dashboard', '--listen or server.listen')
        .catch((err) => startupFailed(err, started));
      started.unshift(server);
      const proxies = await startAppProxies(manifest, { log, budget: app.budget }).catch((err) => startupFailed(err, started));
      started.unshift(...proxies);
      const kedaListen = o.kedaScaler ?? manifest.server.kedaScaler;
      const keda = kedaListen
        ? await bound(startKedaScaler(app, { listen: kedaListen }), kedaListen, "KEDA's external scaler", '--keda-scaler or server.kedaScaler')
          .catch((err) => startupFailed(err, started))
        : undefined;
      if (keda) log.info({ address: keda.address }, 'serving the KEDA external scaler (externalscaler.ExternalScaler)');
      const watcher = o.watch
        ? await import('../watch.js').then((w) => w.watchApp(app, file, log)).catch((err) => startupFailed(new Error(`--watch: ${(err as Error).message}`), [...(keda ? [keda] : []), ...started]))
        : undefined;
      log.info({ app: manifest.name, url: server.url, components: manifest.components.map((c) => c.name) }, 'featherweight is up');
      await waitForSignal();
      watcher?.close();
      log.info('draining in-flight events');
      await Promise.all(proxies.map((p) => p.close()));
      await keda?.close();
      await server.close();
      await app.close();
      log.info('stopped');
    });
}

/** A listen error names the address and what wanted it, e.g. a port another process holds. */
export async function bound<T>(starting: Promise<T>, address: string, what: string, how: string): Promise<T> {
  try {
    return await starting;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'EADDRINUSE' ? 'the address is already in use (another featherweight up?)'
      : code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)'
      : code === 'EADDRNOTAVAIL' ? 'no interface of this machine has that address'
      : null;
    if (!why) throw err;
    throw new Error(`cannot listen on ${address} for ${what}: ${why}; pick another with ${how}`);
  }
}

/**
 * A part of the app failed to start: say why, stop what did start and exit 1 at once, rather than
 * keep running without it (sources accepting events nobody can see, an app without its API).
 */
async function startupFailed(err: unknown, started: Array<{ close(): Promise<void> }>): Promise<never> {
  console.error(`featherweight: ${err instanceof Error ? err.message : String(err)}`);
  const cleanup = Promise.allSettled(started.map((s) => s.close()));
  await Promise.race([cleanup, new Promise((r) => setTimeout(r, 5000).unref())]);
  process.exit(1);
}

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once. */
export function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolve(sig);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** The manifest's proxies on the app's thread budget: startProxies of the public API, in the form the tests call. */
export function startProxies(manifest: AppManifest, log: Logger, budget?: ThreadBudget) {
  return startAppProxies(manifest, { log, ...(budget ? { budget } : {}) });
}
