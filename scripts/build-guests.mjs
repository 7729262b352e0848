#!/usr/bin/env node
// Builds every guest from source into guests/build/<name>.wasm:
//   guests/wat/<name>.wat  with wabt (wat2wasm)
//   guests/as/<name>.ts    with AssemblyScript (guests/as/wasi.ts is the shared WASI binding, not a guest)
//   guests/hostile/<name>.wat into guests/build/hostile/ (the isolation tests' attackers)
// A guest is skipped when its output is newer than its sources and this script. Runs in `npm ci` (prepare)
// and before `npm test` (pretest). Usage: node scripts/build-guests.mjs [--force]
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'guests/build');
const force = process.argv.includes('--force');
const self = fileURLToPath(import.meta.url);

function mtime(p) {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}

function fresh(out, sources) {
  if (force) return false;
  const t = mtime(out);
  return t > 0 && sources.every((s) => mtime(s) < t);
}

function list(dir, ext) {
  const d = path.join(root, dir);
  if (!existsSync(d)) return [];
  return readdirSync(d).filter((f) => f.endsWith(ext)).sort().map((f) => path.join(d, f));
}

process.chdir(root); // asc resolves its paths against the working directory
mkdirSync(outDir, { recursive: true });
let built = 0;
let failed = 0;

const watFiles = list('guests/wat', '.wat');
let wabt = null;
for (const src of watFiles) {
  const name = path.basename(src, '.wat');
  const out = path.join(outDir, `${name}.wasm`);
  if (fresh(out, [src, self])) continue;
  try {
    wabt ??= await (await import('wabt')).default();
    const mod = wabt.parseWat(path.relative(root, src), readFileSync(src, 'utf8'), { multi_value: true });
    mod.resolveNames();
    mod.validate();
    writeFileSync(out, mod.toBinary({}).buffer);
    mod.destroy();
    built++;
  } catch (err) {
    failed++;
    console.error(`build-guests: ${path.relative(root, src)}: ${err.message}`);
  }
}

const asLib = path.join(root, 'guests/as/wasi.ts');
const asFiles = list('guests/as', '.ts').filter((f) => f !== asLib);
let asc = null;
for (const src of asFiles) {
  const name = path.basename(src, '.ts');
  const out = path.join(outDir, `${name}.wasm`);
  if (fresh(out, [src, asLib, self])) continue;
  asc ??= (await import('assemblyscript/asc')).default;
  const stderr = [];
  const result = await asc.main(
    [
      path.relative(root, src),
      '-o', path.relative(root, out),
      // stub runtime: a command lives for one event, so never freeing is cheaper than collecting.
      '--runtime', 'stub',
      '--exportStart', '_start',
      '--use', 'abort=guests/as/wasi/wasiAbort',
      '-O3',
      '--noAssert',
    ],
    { stderr: { write: (s) => stderr.push(String(s)) }, stdout: { write: () => {} } },
  );
  if (result.error) {
    failed++;
    console.error(`build-guests: ${path.relative(root, src)}: ${result.error.message}\n${stderr.join('')}`);
  } else built++;
}

// http-wasm guests (guests/http/*.wat, guests/http/as/*.ts) -> guests/build/http/. No WASI: they import only
// http_handler; the incremental runtime because a pooled instance serves many requests.
const httpOut = path.join(outDir, 'http');
mkdirSync(httpOut, { recursive: true });
for (const src of [...list('guests/http', '.wat'), ...list('guests/http/as', '.ts')]) {
  const out = path.join(httpOut, `${path.basename(src).replace(/\.(wat|ts)$/, '')}.wasm`);
  if (fresh(out, [src, self])) continue;
  try {
    if (src.endsWith('.wat')) {
      wabt ??= await (await import('wabt')).default();
      const mod = wabt.parseWat(path.relative(root, src), readFileSync(src, 'utf8'));
      writeFileSync(out, mod.toBinary({}).buffer);
      mod.destroy();
    } else {
      asc ??= (await import('assemblyscript/asc')).default;
      const args = [path.relative(root, src), '-o', path.relative(root, out), '--exportStart', '_initialize', '--use', 'abort=', '-O2'];
      const result = await asc.main(args, { stdout: { write: () => {} } });
      if (result.error) throw result.error;
    }
    built++;
  } catch (err) {
    failed++;
    console.error(`build-guests: ${path.relative(root, src)}: ${err.message}`);
  }
}

// Hostile guests (guests/hostile/*.wat) -> guests/build/hostile/: the isolation tests and bench run them.
const hostileOut = path.join(outDir, 'hostile');
mkdirSync(hostileOut, { recursive: true });
for (const src of list('guests/hostile', '.wat')) {
  const out = path.join(hostileOut, `${path.basename(src, '.wat')}.wasm`);
  if (fresh(out, [src, self])) continue;
  try {
    wabt ??= await (await import('wabt')).default();
    const mod = wabt.parseWat(path.relative(root, src), readFileSync(src, 'utf8'), { reference_types: true, bulk_memory: true });
    mod.resolveNames();
    mod.validate();
    writeFileSync(out, mod.toBinary({}).buffer);
    mod.destroy();
    built++;
  } catch (err) {
    failed++;
    console.error(`build-guests: ${path.relative(root, src)}: ${err.message}`);
  }
}

if (built > 0 || failed > 0) console.error(`build-guests: built ${built} guest(s) into guests/build/${failed ? `, ${failed} failed` : ''}`);
if (failed > 0) process.exit(1);
