// Loads the built guests (building them first when `npm test`'s pretest did not run).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/cli.js';
import { loadModule } from '../../src/wasm/index.js';
import { defaultLimits, type Limits } from '../../src/wasm/limits.js';

let built = false;

export function guestPath(name: string): string {
  const p = path.join(repoRoot, 'guests/build', `${name}.wasm`);
  if (!built && !existsSync(p)) {
    execFileSync(process.execPath, [path.join(repoRoot, 'scripts/build-guests.mjs')], { stdio: 'inherit' });
    built = true;
  }
  return p;
}

export function guest(name: string): WebAssembly.Module {
  return loadModule(guestPath(name)).module;
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
export const limits = (over: Partial<Limits> = {}): Limits => ({ ...defaultLimits, ...over });
export const noInput = { stdin: new Uint8Array(0), env: {}, args: [] as string[] };
