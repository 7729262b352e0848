// Where a command that reads or writes the app's state (queue, dead letters) finds it.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadManifest, manifestSchema, normalizeComponent, type AppManifest } from '../app/manifest.js';
import { ValidationError } from '../core/validation.js';

export const defaultDataDir = '.featherweight';
export const defaultManifest = 'featherweight.yaml';

export interface StateFlags { dataDir?: string; file?: string }
export interface State { dataDir: string; manifest: AppManifest | null }

/**
 * --data-dir wins; else the manifest's dataDir (from -f, or ./featherweight.yaml when present, as
 * `up` reads it); else ./.featherweight. A manifest that is there but does not load is an error,
 * not a silent fall-back to another directory (which would report "no dead letters" while the
 * app's own store has some).
 */
export function resolveState(flags: StateFlags): State {
  const file = flags.file ?? (existsSync(defaultManifest) ? defaultManifest : undefined);
  let manifest: AppManifest | null = null;
  if (file !== undefined) {
    try {
      manifest = stateManifest(file);
    } catch (err) {
      // An implicit ./featherweight.yaml that does not load is no obstacle when the directory is named.
      if (flags.file === undefined && flags.dataDir !== undefined) manifest = null;
      else throw new Error(`${(err as Error).message}\n(the data directory comes from this manifest; give --data-dir DIR to name it yourself)`);
    }
  }
  return { dataDir: flags.dataDir ?? manifest?.dataDir ?? defaultDataDir, manifest };
}

const missingModule = /^components\[\d+\]\.module: no such file /;

/**
 * The manifest as far as the state commands need it (the data dir, the components' names and
 * triggers). A module that is not built yet is no obstacle to reading the queue or the dead letters:
 * when missing module files are its only problems, the manifest is taken without them being checked.
 */
export function stateManifest(file: string): AppManifest {
  try {
    return loadManifest(file);
  } catch (err) {
    if (!(err instanceof ValidationError) || !err.problems.every((p) => missingModule.test(p))) throw err;
  }
  // It validated but for the module files, so the shape is known good here.
  const opts = { baseDir: path.dirname(path.resolve(file)), file };
  const raw = manifestSchema.parse(parseYaml(readFileSync(file, 'utf8')));
  const ignored: string[] = [];
  return {
    name: raw.metadata.name,
    dataDir: path.resolve(opts.baseDir, raw.dataDir),
    server: raw.server,
    components: raw.components.map((c, i) => normalizeComponent(c, i, opts, ignored)),
    proxies: [],
    file,
  };
}

/** The path of a state file, or null when it does not exist: reads never create databases. */
export function existingStateFile(dataDir: string, name: string): string | null {
  const file = path.resolve(dataDir, name);
  return existsSync(file) ? file : null;
}

export const stateOptionHelp = {
  dataDir: `state directory (default: the manifest's dataDir, else ./${defaultDataDir})`,
  file: `app manifest whose dataDir to use (default: ./${defaultManifest} when present)`,
};
