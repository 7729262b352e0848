/**
 * WASI preview1 for http-wasm guests (TinyGo's -target=wasi output imports it) through the shared
 * sandboxed shim of src/wasm/wasi.ts. Loaded at module load so createHttpWasmGuest can stay synchronous.
 */
import { GuestError } from '../../core/errors.js';
import type { DirGrant } from '../limits.js';

export interface WasiLike {
  imports: { wasi_snapshot_preview1: Record<string, Function> };
  bind(memory: WebAssembly.Memory): void;
}
export type WasiFactory = (opts: { args: string[]; env: Record<string, string>; stdin: Uint8Array; maxStdoutBytes: number; preopens: DirGrant[] }) => WasiLike;

const specifier = '../wasi.js';
let factory: WasiFactory | null = null;
try {
  factory = ((await import(specifier)) as { createWasi?: WasiFactory }).createWasi ?? null;
} catch {
  factory = null;
}

export function loadWasi(): WasiFactory {
  if (!factory) throw new GuestError({ kind: 'invalid-module', message: 'the guest imports wasi_snapshot_preview1 but this build has no WASI shim (src/wasm/wasi.ts)' });
  return factory;
}
