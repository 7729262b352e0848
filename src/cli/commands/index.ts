import type { Command } from 'commander';

/** Each command lives in its own file and registers itself on the program. */
export type RegisterCommand = (program: Command) => void;

type Loader = () => Promise<{ register: RegisterCommand }>;

/**
 * Every command by name, in the order `--help` lists them. Each file is imported only when its command
 * runs: importing all of them (kube's schemas, the app, brokers' clients) cost ~1.9 s per invocation,
 * and `run` or `--version` need none of it (decision 140).
 */
export const commands: ReadonlyArray<readonly [name: string, load: Loader]> = [
  ['demo', () => import('./demo.js')],
  ['up', () => import('./up.js')],
  ['validate', () => import('./validate.js')],
  ['build', () => import('./build.js')],
  ['oci', () => import('./oci.js')],
  ['kube', () => import('./kube.js')],
  ['queue', () => import('./queue.js')],
  ['dlq', () => import('./dlq.js')],
  ['simulate', () => import('./simulate.js')],
  ['mail', () => import('./mail.js')],
  ['new', () => import('./new.js')],
  ['http-proxy', () => import('./http-proxy.js')],
  ['run', () => import('./run.js')],
  ['call', () => import('./call.js')],
  ['completion', () => import('./completion.js')],
];
