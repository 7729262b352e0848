import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { printJson } from '../json.js';

/**
 * `featherweight new <name>`: a component folder that `featherweight up` runs as it is once built.
 * Templates live in templates/new/{common,<lang>}; __NAME__-style placeholders are replaced.
 */

const here = path.dirname(fileURLToPath(import.meta.url));
// Same depth from src/cli/commands and dist/cli/commands.
const templatesDir = path.resolve(here, '../../../templates/new');

export const languages = {
  assemblyscript: { label: 'AssemblyScript', build: 'npm install && npm run build', buildCommand: 'npm run build', source: 'src/handler.ts' },
  c: { label: 'C (clang, wasm32-wasi)', build: 'npm run build', buildCommand: 'make', source: 'src/handler.c' },
  typescript: { label: 'TypeScript (a WASI 0.2 component built with ComponentizeJS)', build: 'npm install && npm run build', buildCommand: 'npm run build', source: 'src/handler.ts' },
} as const;

const packageRoot = path.resolve(here, '../../..');
export const packageName = 'featherweight-wasm';

/**
 * How the scaffold's npm scripts reach this CLI. Installed from the registry (inside node_modules),
 * the scaffold depends on the same version and npm puts `featherweight` on the scripts' PATH. From a
 * checkout, which no registry has, the scripts call this checkout's bin by its absolute path: a
 * `file:` dependency would work too, but npm takes over a minute to link a checkout this size.
 */
export function cliReference(root = packageRoot): { command: string; dependency?: [string, string] } {
  if (root.split(path.sep).includes('node_modules')) {
    const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    return { command: 'featherweight', dependency: [packageName, `^${version}`] };
  }
  return { command: `node ${JSON.stringify(path.join(root, 'bin/featherweight.js'))}` };
}

/** package.json's scripts call `featherweight ...`; point them at this CLI (see cliReference). */
function wireCli(text: string): string {
  const pkg = JSON.parse(text) as { scripts?: Record<string, string>; devDependencies?: Record<string, string> };
  const cli = cliReference();
  for (const [name, script] of Object.entries(pkg.scripts ?? {})) pkg.scripts![name] = script.replace(/^featherweight(?= )/, cli.command);
  if (cli.dependency) pkg.devDependencies = { ...pkg.devDependencies, [cli.dependency[0]]: cli.dependency[1] };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}
export type Language = keyof typeof languages;

const triggers = {
  http: 'POST /v1/components/<name>/events on the featherweight server',
  embedded: 'the embedded queue; POST /v1/components/<name>/events or `featherweight queue` feed it',
} as const;

export interface ScaffoldOptions {
  name: string;
  lang: Language;
  /** Folder to create (default ./<name>); must not exist or be empty. */
  dir: string;
  trigger?: keyof typeof triggers;
}

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

/** Writes the scaffold; returns the files written, relative to the folder. */
export function scaffold(o: ScaffoldOptions): string[] {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(o.name) || o.name.length > 63) {
    throw new Error(`component name ${JSON.stringify(o.name)} must be a DNS-1123 label: lower-case letters, digits and "-", at most 63 characters (e.g. mail-lines)`);
  }
  // Own keys only: "constructor" or "toString" must be refused like any other unknown name.
  if (!Object.hasOwn(languages, o.lang)) throw new Error(`--lang ${JSON.stringify(o.lang)} is not supported (use ${Object.keys(languages).join(' or ')})`);
  const trigger = o.trigger ?? 'http';
  if (!Object.hasOwn(triggers, trigger)) throw new Error(`--trigger ${JSON.stringify(trigger)} is not supported (use ${Object.keys(triggers).join(' or ')})`);
  const lang = languages[o.lang];
  const dir = path.resolve(o.dir);
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) throw new Error(`${o.dir} already exists and is not empty: pick another --dir or remove it`);

  const values: Record<string, string> = {
    __NAME__: o.name,
    __TABLE__: o.name.replace(/-/g, '_'),
    __LANG__: lang.label,
    __BUILD__: lang.build,
    __BUILD_COMMAND__: lang.buildCommand,
    __SOURCE__: lang.source,
    __TRIGGER__: trigger,
    __TRIGGER_NOTE__: triggers[trigger].replace('<name>', o.name),
  };
  const fill = (text: string) => text.replace(/__[A-Z_]+__/g, (k) => values[k] ?? k);
  const written: string[] = [];
  for (const base of [path.join(templatesDir, 'common'), path.join(templatesDir, o.lang)]) {
    for (const file of walk(base)) {
      let rel = path.relative(base, file);
      if (rel === 'gitignore') rel = '.gitignore'; // npm drops .gitignore files from packages
      const target = path.join(dir, rel);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      const text = fill(fs.readFileSync(file, 'utf8'));
      fs.writeFileSync(target, rel === 'package.json' ? wireCli(text) : text);
      written.push(rel);
    }
  }
  return [...new Set(written)].sort(); // a language folder may override a common file
}

export function register(program: Command): void {
  program
    .command('new')
    .description('scaffold a component: handler source, build script and a featherweight.yaml that `featherweight up` runs')
    .argument('<name>', 'component name (lower-case letters, digits, "-")')
    .option('--lang <lang>', `handler language: ${Object.keys(languages).join(' | ')}`, 'assemblyscript')
    .option('--trigger <type>', `trigger: ${Object.keys(triggers).join(' | ')}`, 'http')
    .option('--dir <dir>', 'folder to create (default: ./<name>)')
    .option('--json', '{dir, name, lang, trigger, files, next} as one JSON document on stdout')
    .action((name: string, o: { lang: string; trigger: string; dir?: string; json?: boolean }) => {
      const dir = o.dir ?? name;
      const files = scaffold({ name, lang: o.lang as Language, dir, trigger: o.trigger as keyof typeof triggers });
      const lang = languages[o.lang as Language];
      if (o.json) {
        const next = [`cd ${dir}`, lang.build, 'npm run up', `curl --data-binary $'hello\\nworld\\n' http://127.0.0.1:8080/v1/components/${name}/events`];
        printJson({ dir: path.resolve(dir), name, lang: o.lang, trigger: o.trigger, files, next });
        return;
      }
      console.log(`created ${dir}/ (${lang.label}, ${o.trigger} trigger, sqlite sink):`);
      for (const f of files) console.log(`  ${f}`);
      console.log(`\nnext:\n  cd ${dir}\n  ${lang.build}\n  npm run up\n  curl --data-binary $'hello\\nworld\\n' http://127.0.0.1:8080/v1/components/${name}/events`);
    });
}
