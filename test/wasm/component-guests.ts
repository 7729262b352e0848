// Builds the test components at test time (nothing prebuilt is checked in): C programs compiled with
// clang/wasi-libc and turned into WASI 0.2 components by jco's bundled preview1 command adapter
// (`jco new core.wasm --wasi-command`, here through jco's API), and component text parsed by jco.
// Results are cached in the temp dir by content hash, since an adapter run takes seconds.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { componentNew, parse, preview1AdapterCommandPath } from '@bytecodealliance/jco';

const cacheDir = path.join(os.tmpdir(), 'fw-component-cache');
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Why C components cannot be built here, or null. */
export function missingCToolchain(): string | null {
  if (spawnSync('clang', ['--version']).error) return 'clang is not installed (apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32)';
  if (!existsSync('/usr/share/wasi-sysroot') && !existsSync('/usr/include/wasm32-wasi')) return 'wasi-libc is not installed (apt-get install wasi-libc)';
  return null;
}

function cached(key: string, build: () => Promise<Uint8Array>): Promise<Uint8Array> {
  const file = path.join(cacheDir, `${createHash('sha256').update(key).digest('hex').slice(0, 24)}.wasm`);
  if (existsSync(file)) return Promise.resolve(readFileSync(file));
  return build().then((bytes) => {
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(`${file}.${process.pid}`, bytes);
    execFileSync('mv', [`${file}.${process.pid}`, file]);
    return bytes;
  });
}

/** The core wasm32-wasi module of a C source, as clang builds it. */
export function cCore(source: string): Uint8Array {
  const dir = path.join(cacheDir, `c-${process.pid}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir, { recursive: true });
  const src = path.join(dir, 'main.c');
  const out = path.join(dir, 'main.wasm');
  writeFileSync(src, source);
  const sysroot = existsSync('/usr/share/wasi-sysroot') ? ['--sysroot=/usr/share/wasi-sysroot'] : [];
  execFileSync('clang', ['--target=wasm32-wasi', ...sysroot, '-O2', '-g0', '-Wl,--strip-all', '-o', out, src], { stdio: 'pipe' });
  return readFileSync(out);
}

/** A C program (source text) as a WASI 0.2 command component. */
export function cComponent(source: string): Promise<Uint8Array> {
  return cached(`c\0${source}`, async () => {
    const adapter = readFileSync(preview1AdapterCommandPath());
    return componentNew(cCore(source), [['wasi_snapshot_preview1', adapter]]);
  });
}

/** Component text format -> binary. */
export function watComponent(wat: string): Promise<Uint8Array> {
  return cached(`wat\0${wat}`, () => parse(wat));
}

/** Builds a folder with `npm run build` in a temp copy (the repo's node_modules linked in), cached by content. */
export function buildCached(folder: string, output: string): Uint8Array {
  const h = createHash('sha256');
  for (const rel of ['package.json', 'build.mjs', 'tsconfig.json', 'wit/world.wit', 'src/handler.ts', 'src/globals.d.ts']) {
    h.update(rel).update(fs.readFileSync(path.join(folder, rel)));
  }
  const cache = path.join(os.tmpdir(), 'fw-component-cache', `ts-${h.digest('hex').slice(0, 24)}.wasm`);
  if (fs.existsSync(cache)) return fs.readFileSync(cache);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-ts-build-'));
  try {
    for (const rel of ['package.json', 'build.mjs', 'tsconfig.json', 'wit', 'src']) fs.cpSync(path.join(folder, rel), path.join(dir, rel), { recursive: true });
    fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
    const build = spawnSync('npm', ['run', 'build'], { cwd: dir, encoding: 'utf8', timeout: 800_000 });
    if (build.status !== 0) throw new Error(`npm run build in ${folder} failed: ${build.stderr || build.stdout}`);
    const bytes = fs.readFileSync(path.join(dir, output));
    fs.mkdirSync(path.dirname(cache), { recursive: true });
    fs.writeFileSync(`${cache}.${process.pid}`, bytes);
    fs.renameSync(`${cache}.${process.pid}`, cache);
    return bytes;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
