// Builds build/mail-lines-ts.wasm, offline once `npm install` has run:
//  1. the WASI 0.2 WIT packages wit/world.wit names, copied from the jco package into wit/deps/;
//  2. TypeScript types for the world's imports (`jco guest-types`) into types/;
//  3. tsc: src/handler.ts -> build/js/handler.js;
//  4. ComponentizeJS: the JS module + the WIT world -> a WASI 0.2 component (~12 MB; no --aot, which
//     downloads a binary at first use).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const WASI = '0.2.12';
const root = path.dirname(new URL(import.meta.url).pathname);
const modules = path.join(root, 'node_modules');
const jco = path.join(modules, '@bytecodealliance/jco');
if (!existsSync(jco)) {
  console.error('build: node_modules is missing; run `npm install` first');
  process.exit(1);
}
for (const pkg of ['wasi-cli', 'wasi-io', 'wasi-clocks', 'wasi-random', 'wasi-filesystem', 'wasi-sockets', 'wasi-http']) {
  const from = path.join(jco, 'lib/wit/builtin', WASI, pkg);
  mkdirSync(path.join(root, 'wit/deps', pkg), { recursive: true });
  cpSync(from, path.join(root, 'wit/deps', pkg), { recursive: true });
}
const node = (args) => execFileSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
node([path.join(jco, 'dist/jco.js'), 'guest-types', 'wit', '--world-name', 'handler', '-o', 'types']);
node([path.join(modules, 'typescript/bin/tsc'), '-p', 'tsconfig.json']);
const { componentize } = await import('@bytecodealliance/componentize-js');
const { component } = await componentize({
  sourcePath: path.join(root, 'build/js/handler.js'),
  witPath: path.join(root, 'wit'),
  worldName: 'handler',
  // The handler reads stdin and writes stdout through WASI; it serves no HTTP.
  disableFeatures: ['http', 'fetch-event'],
});
writeFileSync(path.join(root, 'build/mail-lines-ts.wasm'), component);
console.log(`build/mail-lines-ts.wasm: ${(component.length / 1024 / 1024).toFixed(1)} MiB`);
