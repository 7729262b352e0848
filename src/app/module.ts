import { compileModule, type CompileOptions } from '../wasm/compile.js';
import { resolveModuleRef } from '../oci/oci.js';

/**
 * A component's module: a file, or an oci:// artifact pulled once and cached by digest under the
 * data dir. Compiled once per process (the wasm layer caches by digest).
 */
export async function resolveModule(ref: string, dataDir: string, compile: CompileOptions = {}): Promise<{ module: WebAssembly.Module; digest: string }> {
  let resolved;
  try {
    resolved = await resolveModuleRef(ref, { dataDir });
  } catch (err) {
    const hint = ref.endsWith('.wasm') && !ref.startsWith('oci://') ? ' (guests shipped with featherweight are built by `npm run build:guests`)' : '';
    throw new Error(`${(err as Error).message}${hint}`);
  }
  return compileModule(resolved.bytes, compile);
}
