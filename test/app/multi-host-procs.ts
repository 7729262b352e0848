/**
 * Helpers of the multi-host tests: each "pod" is a separate `featherweight up --only <component>`
 * process with its own data dir and a free HTTP port, found in its "featherweight is up" log line.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnCli } from '../helpers/cli.js';
import type { ComponentState } from '../../src/app/component.js';
import { freePort } from '../helpers/ports.js';

export interface UpProcess {
  name: string;
  child: ChildProcess;
  url: string;
  logs(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  state(component: string): Promise<ComponentState>;
  metrics(): Promise<string>;
}

export { freePort };

export async function startUp(name: string, manifest: string, only: string, dataDir: string, timeoutMs = 120_000): Promise<UpProcess> {
  const child = spawnCli(['up', manifest, '--only', only, '--listen', '127.0.0.1:0', '--data-dir', dataDir], { env: { ...process.env, FEATHERWEIGHT_LOG_LEVEL: 'info' } });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not come up within ${timeoutMs} ms:\n${out.slice(-3000)}`)), timeoutMs);
    const onData = () => {
      for (const line of out.split('\n')) {
        if (!line.includes('featherweight is up')) continue;
        try {
          const u = (JSON.parse(line) as { url?: string }).url;
          if (u) {
            clearTimeout(timer);
            child.stdout!.off('data', onData);
            resolve(u);
            return;
          }
        } catch {
          // a partial line: wait for the rest
        }
      }
    };
    child.stdout!.on('data', onData);
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${e.code ?? e.signal}) before it was up:\n${out.slice(-3000)}`));
    });
  });
  return {
    name,
    child,
    url,
    logs: () => out,
    exited,
    async state(component) {
      const res = await fetch(`${url}/v1/components/${component}`);
      if (!res.ok) throw new Error(`${name}: GET /v1/components/${component} answered ${res.status}`);
      return (await res.json()) as ComponentState;
    },
    async metrics() {
      return (await fetch(`${url}/metrics`)).text();
    },
  };
}

/** Kills every still-running process of the list (the test's own children only). */
export function killAll(procs: Array<UpProcess | undefined>): void {
  for (const p of procs) if (p && p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
}
