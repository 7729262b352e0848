import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';
import { buildArtifact } from '../dist/oci/oci.js';

/**
 * What a node downloads to run the demo handler: the wasm OCI artifact (config + layer +
 * manifest, exactly the bytes `featherweight oci push` sends) beside the featherweight host
 * container image, estimated from the Dockerfile: the node:20-slim base plus the layers we add
 * (production node_modules, dist/, bin/, proto/, guests/build/, dashboard/, examples/).
 *
 * Sizes are uncompressed (on disk), the way `docker images` reports them; the artifact's gzip
 * size is shown too. The base is a published figure, not measured here (no Docker daemon in CI):
 *   node:22-slim = 220 MB in `docker images`, labs.iximiuz.com "A Deeper Look into Node.js
 *   Docker Images" (2024). node:20-slim is the same Debian bookworm-slim userland with an older
 *   Node, so we use that figure as the estimate.
 */
export const NODE_SLIM_BASE_BYTES = 220 * 1000 * 1000;
export const NODE_SLIM_BASE_SOURCE = 'node:22-slim 220 MB (docker images), labs.iximiuz.com/tutorials/how-to-choose-nodejs-container-image';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function du(p: string): number {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return 0;
  }
  if (st.isSymbolicLink()) return 0;
  if (!st.isDirectory()) return st.size;
  return fs.readdirSync(p).reduce((sum, name) => sum + du(path.join(p, name)), 0);
}

/** node_modules entries the lockfile does not mark dev-only: what `npm prune --omit=dev` keeps. */
export function productionNodeModulesBytes(): { bytes: number; packages: number } {
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; devOptional?: boolean }>;
  };
  let bytes = 0;
  let packages = 0;
  for (const [key, meta] of Object.entries(lock.packages)) {
    if (!key.startsWith('node_modules/') || meta.dev || meta.devOptional) continue;
    // Nested packages are counted inside their parent's folder; count top-level entries only.
    if (key.slice('node_modules/'.length).includes('node_modules/')) continue;
    const own = du(path.join(root, key));
    const nested = du(path.join(root, key, 'node_modules'));
    bytes += own - nested;
    packages++;
    if (nested) bytes += nested;
  }
  return { bytes, packages };
}

/** dist/ when built; else the JS tsc would emit (esbuild transform of src/, no .d.ts or maps). */
function distBytes(): { bytes: number; how: string } {
  const dist = path.join(root, 'dist');
  if (fs.existsSync(dist)) return { bytes: du(dist), how: 'dist/ as built' };
  let bytes = 0;
  const walk = (dir: string): void => {
    for (const name of fs.readdirSync(dir)) {
      const p = path.join(dir, name);
      if (fs.statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) bytes += transformSync(fs.readFileSync(p, 'utf8'), { loader: 'ts', format: 'esm' }).code.length;
    }
  };
  walk(path.join(root, 'src'));
  return { bytes, how: 'estimated: src/ transpiled, no .d.ts/maps (run npm run build for dist/)' };
}

const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
const kb = (n: number) => `${(n / 1e3).toFixed(1)} kB`;

export async function run(): Promise<void> {
  const modulePath = path.join(root, 'guests/build/mail-lines.wasm');
  if (!fs.existsSync(modulePath)) throw new Error(`${modulePath} is missing: run npm run build:guests`);
  const module = fs.readFileSync(modulePath);
  // A fixed time keeps the config (and so the figure) identical run to run.
  const art = buildArtifact(module, { created: new Date(0) });
  const artifact = art.config.length + art.layer.length + art.manifest.length;
  const artifactGz = gzipSync(art.layer).length + art.config.length + art.manifest.length;

  const nm = productionNodeModulesBytes();
  const dist = distBytes();
  const extras = ['bin', 'proto', 'guests/build', 'dashboard', 'examples', 'package.json'].map((p) => du(path.join(root, p))).reduce((a, b) => a + b, 0);
  const ours = nm.bytes + dist.bytes + extras;
  const image = NODE_SLIM_BASE_BYTES + ours;

  console.log('artifact size: demo handler as a wasm OCI artifact vs the featherweight host image');
  console.log(`  mail-lines artifact      ${kb(artifact)}  (layer ${art.layer.length} B, config ${art.config.length} B, manifest ${art.manifest.length} B; ${kb(artifactGz)} with the layer gzipped)`);
  console.log(`  host image (estimate)    ${mb(image)}`);
  console.log(`    node:20-slim base      ${mb(NODE_SLIM_BASE_BYTES)}  (${NODE_SLIM_BASE_SOURCE})`);
  console.log(`    node_modules (prod)    ${mb(nm.bytes)}  (${nm.packages} packages)`);
  console.log(`    dist                   ${mb(dist.bytes)}  (${dist.how})`);
  console.log(`    bin, proto, guests, dashboard, examples  ${mb(extras)}`);
  console.log(`  ratio image / artifact   ${Math.round(image / artifact).toLocaleString('en')}x`);
  console.log(`  ratio our layers only / artifact  ${Math.round(ours / artifact).toLocaleString('en')}x  (base image excluded)`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  run().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
