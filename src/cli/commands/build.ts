// `featherweight build`: runs each component's `build` command from the manifest, in the manifest's
// folder, as `spin build` does; then checks the module it names exists.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { loadManifest } from '../../app/manifest.js';
import { jsonHelp, printJson } from '../json.js';

export interface Buildable { name: string; build?: string; module?: string }

/**
 * The components' names, build commands and module paths, read from the YAML as written: the full
 * manifest check wants the modules to exist, which is what building makes true. It runs afterwards.
 */
export function buildables(file: string): Buildable[] {
  let doc: { components?: unknown };
  try {
    doc = parseYaml(fs.readFileSync(file, 'utf8')) as { components?: unknown };
  } catch (err) {
    throw new Error(`cannot read manifest ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  const list = Array.isArray(doc?.components) ? (doc.components as unknown[]) : [];
  const dir = path.dirname(path.resolve(file));
  return list.map((c, i) => {
    const o = (c ?? {}) as Record<string, unknown>;
    const text = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
    const module = text('module');
    return {
      name: text('name') ?? `components[${i}]`,
      ...(text('build') !== undefined ? { build: text('build') } : {}),
      ...(module !== undefined ? { module: module.startsWith('oci://') ? module : path.resolve(dir, module) } : {}),
    };
  });
}

/** `quietStdout`: the build's stdout goes to stderr, leaving stdout to a --json document. */
function runShell(command: string, cwd: string, quietStdout = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, { cwd, shell: true, stdio: ['inherit', quietStdout ? 2 : 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

/** Builds the named components (all with a build command when none are named); throws on the first failure. */
export async function buildComponents(manifestFile: string, only: string[] = [], say: (line: string) => void = (l) => console.error(l), quietStdout = false): Promise<Buildable[]> {
  const components = buildables(manifestFile);
  const unknown = only.filter((n) => !components.some((c) => c.name === n));
  if (unknown.length) throw new Error(`no component named ${unknown.join(', ')} in ${manifestFile} (components: ${components.map((c) => c.name).join(', ')})`);
  const chosen = components.filter((c) => (only.length ? only.includes(c.name) : c.build !== undefined));
  const cwd = path.dirname(path.resolve(manifestFile));
  for (const c of chosen) {
    if (c.build === undefined) throw new Error(`component ${c.name} has no build command: add build: "<command>" to it in ${manifestFile}`);
    say(`featherweight: building ${c.name}: ${c.build}`);
    const code = await runShell(c.build, cwd, quietStdout);
    if (code !== 0) throw new Error(`build of ${c.name} failed (exit code ${code}): ${c.build}`);
    if (c.module && !c.module.startsWith('oci://') && !fs.existsSync(c.module)) {
      throw new Error(`build of ${c.name} succeeded but its module ${path.relative(cwd, c.module) || c.module} does not exist: check module: and build: agree`);
    }
  }
  return chosen;
}

export function register(program: Command): void {
  program
    .command('build')
    .description("run each component's build command (its manifest's build: field) in the manifest's folder, like `spin build`")
    .argument('[components...]', 'only these components (default: every component with a build command)')
    .option('-f, --file <manifest>', 'app manifest', 'featherweight.yaml')
    .option('--json', `${jsonHelp}: {manifest, built: [{name, build, module}]} (the builds' own output goes to stderr)`)
    .action(async (components: string[], o: { file: string; json?: boolean }) => {
      const built = await buildComponents(o.file, components, undefined, o.json);
      loadManifest(o.file); // with the modules built, the whole manifest must check out
      if (o.json) {
        printJson({ manifest: path.resolve(o.file), built });
        return;
      }
      console.error(built.length ? `featherweight: built ${built.map((c) => c.name).join(', ')}` : `featherweight: no component in ${o.file} has a build command (add build: "<command>" to one)`);
    });
}
