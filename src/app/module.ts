import { existsSync } from 'node:fs';
import { loadModule } from '../wasm/compile.js';

/** A component's module, compiled once per process (the wasm layer caches by digest). */
export async function resolveModule(ref: string, _dataDir: string): Promise<{ module: WebAssembly.Module; digest: string }> {
  if (ref.startsWith('oci://')) {
    throw new Error(`module ${ref}: oci:// references are not supported yet`);
  }
  if (!existsSync(ref)) {
    throw new Error(`module ${ref} does not exist (guests shipped with featherweight are built by \`npm run build:guests\`)`);
  }
  const { module, digest } = loadModule(ref);
  return { module, digest };
}
