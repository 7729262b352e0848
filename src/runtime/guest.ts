// TEMPORARY stand-in for src/wasm until it lands: the same shapes as docs/brief wasm-api, enough to
// exercise the pool with tiny export-only modules. Replaced by re-exports of ../wasm/index.js.
import type { GuestErrorInfo } from '../core/errors.js';

export interface Limits { maxMemoryBytes: number; timeoutMs: number; maxStdinBytes: number; maxStdoutBytes: number }
export const defaultLimits: Limits = { maxMemoryBytes: 64 * 2 ** 20, timeoutMs: 5000, maxStdinBytes: 25 * 2 ** 20, maxStdoutBytes: 50 * 2 ** 20 };
export interface DirGrant { host: string; guest: string; writable: boolean }
export interface Grants { env: Record<string, string>; dirs: DirGrant[] }
export type GuestRun =
  | { ok: true; exitCode: 0; stdout: Uint8Array; stderr: Uint8Array }
  | { ok: false; error: GuestErrorInfo; stdout: Uint8Array; stderr: Uint8Array };
export type ExportCall = { ok: true; results: number[] } | { ok: false; error: GuestErrorInfo };
export interface CommandInput { stdin: Uint8Array; env: Record<string, string>; args: string[] }

export function runWasiCommand(module: WebAssembly.Module, input: CommandInput, _limits: Limits, _grants?: Grants): GuestRun {
  // Stand-in: "runs" an export-only module by calling its `_start` and echoing stdin.
  try {
    const inst = new WebAssembly.Instance(module, {});
    (inst.exports['_start'] as () => void)();
    return { ok: true, exitCode: 0, stdout: input.stdin.slice(), stderr: new Uint8Array(0) };
  } catch (err) {
    return { ok: false, error: { kind: 'trap', message: String(err) }, stdout: new Uint8Array(0), stderr: new Uint8Array(0) };
  }
}

export function callExport(module: WebAssembly.Module, name: string, args: number[], _limits: Limits): ExportCall {
  try {
    const inst = new WebAssembly.Instance(module, {});
    const f = inst.exports[name];
    if (typeof f !== 'function') return { ok: false, error: { kind: 'invalid-module', message: `no export ${name}` } };
    const r = (f as (...a: number[]) => unknown)(...args);
    return { ok: true, results: r === undefined ? [] : [Number(r)] };
  } catch (err) {
    return { ok: false, error: { kind: 'trap', message: String(err) } };
  }
}
