import { compileModule, type CompileOptions } from '../wasm/compile.js';
import { resolveModuleRef } from '../oci/oci.js';
import { isComponent, loadComponent, type ComponentImage } from '../wasm/component/index.js';

/**
 * A component's module: a file, or an oci:// artifact pulled once and cached by digest under the
 * data dir. Compiled once per process (the wasm layer caches by digest).
 */
export async function resolveModule(ref: string, dataDir: string, compile: CompileOptions = {}): Promise<{ module: WebAssembly.Module; digest: string }> {
  return compileModule(await moduleBytes(ref, dataDir), compile);
}

/** What a pool runs for an event ABI: the module, and for `abi: component` the linked component (its main core module as `module`). */
export async function resolveGuest(ref: string, abi: string, dataDir: string, compile: CompileOptions = {}): Promise<{ module: WebAssembly.Module; component?: ComponentImage }> {
  return guestFromBytes(await moduleBytes(ref, dataDir), ref, abi, compile);
}

/** resolveGuest for bytes already read (a module swapped in by `up --watch`); `ref` only names them in errors. */
export function guestFromBytes(bytes: Uint8Array, ref: string, abi: string, compile: CompileOptions = {}): { module: WebAssembly.Module; component?: ComponentImage } {
  if (abi !== 'component') {
    if (isComponent(bytes)) throw new Error(`${ref} is a WASI 0.2 component: give the component \`abi: component\` (abi ${abi} runs core modules)`);
    return { module: compileModule(bytes, compile).module };
  }
  const component = loadComponent(bytes, compile);
  return { module: component.modules[0]!, component };
}

export async function moduleBytes(ref: string, dataDir: string): Promise<Uint8Array> {
  let resolved;
  try {
    resolved = await resolveModuleRef(ref, { dataDir });
  } catch (err) {
    const hint = ref.endsWith('.wasm') && !ref.startsWith('oci://') ? ' (guests shipped with featherweight are built by `npm run build:guests`)' : '';
    throw new Error(`${(err as Error).message}${hint}`);
  }
  return resolved.bytes;
}
