// `up --watch`: rebuild a component and swap its module in the running app when its .wasm or, for a
// component with a build command, its sources change (like `spin watch`). The swap itself is the
// app's (app.reload); this file only watches files and decides when to ask for it (decision 210).
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { RunningApp } from '../index.js';
import { buildables, buildComponents } from './commands/build.js';

export interface WatchOptions {
  /** Quiet time after the last change before a rebuild starts; default 250 ms. */
  debounceMs?: number;
}

interface Watched {
  name: string;
  module: string;
  build?: string;
  /** A change is waiting for the next cycle: 'source' rebuilds first, 'module' only swaps. */
  pending: 'source' | 'module' | null;
  running: boolean;
  building: boolean;
  timer?: NodeJS.Timeout;
}

/** Directory names never treated as sources: VCS, dependencies, editors' and tools' own folders. */
const ignoredDirs = new Set(['node_modules', 'target', 'dist', 'build', 'out']);

/**
 * Watches the app's components. Sources are the files under the manifest's folder, except dot
 * entries, the ignored folders above, the data dir, .wasm files (a module change swaps without a
 * build) and the manifest. A source change rebuilds every component that has a build command: the
 * manifest does not say which sources belong to which component.
 */
export function watchApp(app: RunningApp, manifestFile: string, log: Logger, opts: WatchOptions = {}): { close(): void } {
  const debounceMs = opts.debounceMs ?? 250;
  const manifestPath = path.resolve(manifestFile);
  const root = path.dirname(manifestPath);
  const dataDir = path.resolve(app.manifest.dataDir);
  const builds = new Map(buildables(manifestFile).map((b) => [b.name, b.build]));
  const watched: Watched[] = [];
  for (const c of app.components.values()) {
    const module = c.spec.module;
    if (module === undefined) continue;
    if (module.startsWith('oci://')) {
      log.info({ component: c.spec.name }, `watch: ${c.spec.name}'s module is an OCI artifact, not a file: it is not watched`);
      continue;
    }
    const build = builds.get(c.spec.name);
    watched.push({ name: c.spec.name, module: path.resolve(module), ...(build !== undefined ? { build } : {}), pending: null, running: false, building: false });
  }
  for (const name of app.httpHandlers.keys()) log.info({ component: name }, `watch: ${name} is an http-wasm handler, whose module is not swapped while running: restart up to load a new one`);

  // Last seen mtime and size per source file: an event that changed neither (a build touching its
  // outputs again, an editor's extra events) is no change.
  const seen = new Map<string, string>();
  const signature = (file: string): string | null => {
    try {
      const s = fs.statSync(file);
      return s.isFile() ? `${s.mtimeMs}:${s.size}` : null;
    } catch {
      return 'gone';
    }
  };

  const schedule = (w: Watched, kind: 'source' | 'module') => {
    w.pending = w.pending === 'source' || kind === 'source' ? 'source' : 'module';
    if (w.running) return; // the running cycle starts another when it ends
    clearTimeout(w.timer);
    w.timer = setTimeout(() => void cycle(w), debounceMs);
  };

  const cycle = async (w: Watched) => {
    if (closed || w.running || w.pending === null) return;
    const kind = w.pending;
    w.pending = null;
    w.running = true;
    try {
      if (kind === 'source' && w.build !== undefined) {
        w.building = true;
        const touched = new Set<string>();
        buildTouched.set(w, touched);
        try {
          await buildComponents(manifestFile, [w.name], (line) => log.info({ component: w.name }, line.replace(/^featherweight: /, 'watch: ')));
        } finally {
          w.building = false;
          buildTouched.delete(w);
          // What the build wrote under the folder is its output, not a source edit.
          for (const f of touched) {
            const sig = signature(f);
            if (sig !== null) seen.set(f, sig);
          }
        }
      }
      const swap = await app.reload(w.name);
      if (swap.swapped) log.info({ component: w.name, digest: swap.digest.slice(0, 12) }, `watch: ${w.name} now runs the new module ${path.relative(root, w.module) || w.module}`);
    } catch (err) {
      const message = (err as Error).message.replace(/\s+/g, ' ');
      log.error({ component: w.name }, `watch: ${w.name} keeps its running module: ${message}`);
    } finally {
      w.running = false;
      if (w.pending !== null && !closed) schedule(w, w.pending);
    }
  };

  const buildTouched = new Map<Watched, Set<string>>();
  const isSource = (file: string): boolean => {
    if (file === manifestPath || file.endsWith('.wasm')) return false;
    if (file === dataDir || file.startsWith(dataDir + path.sep)) return false;
    const rel = path.relative(root, file);
    return !rel.split(path.sep).some((part) => part.startsWith('.') || ignoredDirs.has(part));
  };

  const watchers: fs.FSWatcher[] = [];
  let closed = false;
  const buildable = watched.filter((w) => w.build !== undefined);
  if (buildable.length > 0) {
    watchers.push(
      fs.watch(root, { recursive: true }, (_event, name) => {
        if (name === null) return;
        const file = path.join(root, name.toString());
        if (file === manifestPath) {
          log.warn(`watch: ${path.basename(manifestPath)} changed: restart up to apply a manifest change`);
          return;
        }
        if (!isSource(file)) return;
        const sig = signature(file);
        if (sig === null || seen.get(file) === sig) return;
        seen.set(file, sig);
        for (const w of buildable) {
          const touched = buildTouched.get(w);
          if (touched) touched.add(file);
          else schedule(w, 'source');
        }
      }),
    );
  }
  // The module's folder, not the file: a build or `cp` that replaces the file by renaming would end a watch on the file itself.
  const byDir = new Map<string, Watched[]>();
  for (const w of watched) byDir.set(path.dirname(w.module), [...(byDir.get(path.dirname(w.module)) ?? []), w]);
  for (const [dir, list] of byDir) {
    watchers.push(
      fs.watch(dir, (_event, name) => {
        if (name === null) return;
        for (const w of list) if (name.toString() === path.basename(w.module) && !w.building) schedule(w, 'module');
      }),
    );
  }
  for (const w of watched) log.info({ component: w.name }, `watch: ${w.name}: ${path.relative(root, w.module) || w.module}${w.build !== undefined ? `, and the sources under ${root} (build: ${w.build})` : ''}`);

  return {
    close() {
      closed = true;
      for (const w of watched) clearTimeout(w.timer);
      for (const x of watchers) x.close();
    },
  };
}
