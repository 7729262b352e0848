import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { createLogger } from '../../app/log.js';
import { startHttpProxy, type HttpProxyGuest } from '../../server/http-proxy.js';
import { parseListen } from '../../server/http-util.js';
import { loadModule } from '../../wasm/compile.js';
import { parseSize } from '../../core/units.js';
import { createThreadBudget } from '../../runtime/budget.js';
import type { InstanceMode } from '../../wasm/http-wasm/index.js';

interface Opts {
  middleware?: string;
  upstream?: string;
  listen: string;
  config: string[];
  instances: string;
  maxMemory?: string;
  logLevel?: string;
}

/**
 * --config a.wasm=TEXT or a.wasm=@file (repeatable), matched against the --middleware path as given or its
 * base name. The bytes are opaque to the host (the spec: guest-specific, not necessarily UTF-8); Dapr's
 * guests usually take JSON.
 */
function parseConfigs(items: string[], files: string[]): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`invalid --config ${JSON.stringify(item)}: use <module.wasm>=<text> or <module.wasm>=@<file>, e.g. --config auth.wasm='{"user":"x"}'`);
    const key = item.slice(0, eq);
    const value = item.slice(eq + 1);
    const file = files.find((f) => f === key || path.basename(f) === key);
    if (!file) throw new Error(`--config ${key}: no --middleware module named ${key} (have: ${files.join(', ') || 'none'})`);
    if (value.startsWith('@')) {
      try {
        out.set(file, fs.readFileSync(value.slice(1)));
      } catch (err) {
        throw new Error(`--config ${key}: cannot read ${value.slice(1)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    } else {
      out.set(file, new TextEncoder().encode(value));
    }
  }
  return out;
}

export function register(program: Command): void {
  program
    .command('http-proxy')
    .description('run http-wasm guests (Dapr wasm middleware, http-wasm-guest-tinygo) as a chain in front of an upstream, or as the handler itself when no --upstream is given')
    .option('--middleware <files>', 'comma-separated .wasm guests, run in this order')
    .option('--upstream <url>', 'service behind the chain, e.g. http://127.0.0.1:3000 (omit: the guests answer; default answer an empty 200)')
    .option('--listen <host:port>', 'where to listen', '127.0.0.1:8081')
    .option('--config <module=json>', 'get_config bytes for one guest: <module.wasm>=<text> or =@<file> (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--instances <mode>', 'pooled (reuse instances) or fresh (one per request)', 'pooled')
    .option('--max-memory <size>', 'linear memory cap per instance, e.g. 64MiB')
    .option('--log-level <level>', 'debug, info, warn or error')
    .action(async (opts: Opts) => {
      const files = (opts.middleware ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      if (files.length === 0 && !opts.upstream) throw new Error('http-proxy needs --middleware a.wasm[,b.wasm], --upstream URL, or both');
      if (opts.instances !== 'pooled' && opts.instances !== 'fresh') throw new Error(`invalid --instances ${opts.instances}: use pooled or fresh`);
      const listen = parseListen(opts.listen, '--listen');
      const configs = parseConfigs(opts.config, files);
      const middleware: HttpProxyGuest[] = files.map((f) => ({ name: path.basename(f), module: loadModule(f).module, config: configs.get(f) }));
      const log = createLogger({ level: opts.logLevel });
      const proxy = await startHttpProxy({
        middleware, upstream: opts.upstream, host: listen.host, port: listen.port, log,
        // One budget for this process, as `up` has for its app: the guests share ~cores slots fairly (decision 122).
        budget: createThreadBudget(),
        instances: opts.instances as InstanceMode,
        limits: opts.maxMemory ? { maxMemoryBytes: parseSize(opts.maxMemory) } : undefined,
      });
      log.info({ url: proxy.url, middleware: files, upstream: opts.upstream ?? null }, 'http-proxy listening');
      console.log(`http-proxy listening on ${proxy.url}`);
      const stop = () => {
        void proxy.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
