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
  const isSourceDir = (dir: string): boolean => {
    if (dir === dataDir || dir.startsWith(dataDir + path.sep)) return false;
    const rel = path.relative(root, dir);
    return rel === '' || !rel.split(path.sep).some((part) => part.startsWith('.') || ignoredDirs.has(part));
  };
  const isSource = (file: string): boolean => file !== manifestPath && !file.endsWith('.wasm') && !path.basename(file).startsWith('.') && isSourceDir(path.dirname(file));

  const watchers: Array<{ close(): void }> = [];
  let closed = false;
  const buildable = watched.filter((w) => w.build !== undefined);
  if (buildable.length > 0) {
    const onFile = (file: string) => {
      if (file === manifestPath) {
        log.warn(`watch: ${path.basename(manifestPath)} changed: restart up to apply a manifest change`);
        return;
      }
      if (!isSource(file)) return;
      const sig = signature(file);
      // gone and never seen: an editor's probe file, created and removed at once
      if (sig === null || seen.get(file) === sig || (sig === 'gone' && !seen.has(file))) return;
      seen.set(file, sig);
      for (const w of buildable) {
        const touched = buildTouched.get(w);
        if (touched) touched.add(file);
        else schedule(w, 'source');
      }
    };
    watchers.push(watchTree(root, (dir) => dir !== root && !isSourceDir(dir), onFile));
  }
  // The module's folder, not the file: a build or `cp` that replaces the file by renaming would end a watch on the file itself.
  const byDir = new Map<string, Watched[]>();
  for (const w of watched) byDir.set(path.dirname(w.module), [...(byDir.get(path.dirname(w.module)) ?? []), w]);
  for (const [dir, list] of byDir) {
    const watcher = fs.watch(dir, (_event, name) => {
      if (name === null) return;
      for (const w of list) if (name.toString() === path.basename(w.module) && !w.building) schedule(w, 'module');
    });
    // e.g. the folder was removed: up keeps running, without this watch
    watcher.on('error', (err) => log.warn(`watch: stopped watching ${dir}: ${err.message}`));
    watchers.push(watcher);
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

/**
 * fs.watch on every folder under `root` that `skip` lets through, added as folders appear. Not
 * fs.watch's own `recursive`, which on Linux puts an inotify watch on every folder, node_modules
 * included (a scaffold's holds thousands), before any filter could leave it out. Files found in a
 * folder that appears later are reported too: they may have been written before its watch began.
 */
function watchTree(root: string, skip: (dir: string) => boolean, onFile: (file: string) => void): { close(): void } {
  const watchers = new Map<string, fs.FSWatcher>();
  const add = (dir: string, announce: boolean) => {
    if (watchers.has(dir) || skip(dir)) return;
    let watcher: fs.FSWatcher;
    try {
      watcher = fs.watch(dir, (_event, name) => {
        if (name === null) return;
        const entry = path.join(dir, name.toString());
        let stat: fs.Stats;
        try {
          stat = fs.statSync(entry);
        } catch {
          // removed: a folder's watch goes with it; a file's removal is a change like any other
          for (const [d, w] of watchers) {
            if (d === entry || d.startsWith(entry + path.sep)) {
              w.close();
              watchers.delete(d);
            }
          }
          onFile(entry);
          return;
        }
        if (stat.isDirectory()) add(entry, true);
        else onFile(entry);
      });
    } catch {
      return; // gone already, or not readable: nothing to watch
    }
    watcher.on('error', () => {
      watcher.close();
      watchers.delete(dir);
    });
    watchers.set(dir, watcher);
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      // raced with its removal
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) add(p, announce);
      else if (announce) onFile(p);
    }
  };
  add(root, false);
  return {
    close() {
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}
