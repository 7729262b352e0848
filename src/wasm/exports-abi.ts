/**
 * ABI `exports`: call a named export with numeric arguments, get numeric results (the wazero "add" example).
 * The module may import WASI (e.g. for abort messages); it then gets empty stdio and no grants.
 */
import type { GuestErrorInfo } from '../core/errors.js';
import { moduleMeta, type ModuleMeta, type ValType } from './compile.js';
import { stderrCap, type Limits } from './limits.js';
import { classify, importObject, makeMemory, missingImport, releaseMemory, wasiNames } from './instance.js';
import { createWasi } from './wasi/index.js';

export type ExportCall = { ok: true; results: number[] } | { ok: false; error: GuestErrorInfo };

const empty = new Uint8Array(0);

function bad(message: string): ExportCall {
  return { ok: false, error: { kind: 'invalid-module', message } };
}

/**
 * Calls `name` on a fresh instance. i64 parameters take integer numbers and i64 results come back as
 * numbers (exact up to 2^53). Wrong export name, argument count or a non-integer for an i64 come back
 * as ok:false 'invalid-module' with the export's signature in the message; never throws.
 */
export function callExport(module: WebAssembly.Module, name: string, args: number[], limits: Limits): ExportCall {
  const meta = moduleMeta(module);
  const problem = missingImport(module, meta, wasiNames());
  if (problem) return bad(`module ${problem}`);
  const exps = WebAssembly.Module.exports(module).filter((e) => e.kind === 'function').map((e) => e.name);
  if (!exps.includes(name)) {
    return bad(`module has no exported function ${JSON.stringify(name)} (exported functions: ${exps.join(', ') || 'none'})`);
  }
  const sig = meta.exports[name];
  const sigText = sig ? `${name}(${sig.params.join(', ')}) -> ${sig.results.join(', ') || 'nothing'}` : name;
  if (sig && sig.params.length !== args.length) {
    return bad(`export ${sigText} takes ${sig.params.length} argument(s), got ${args.length}`);
  }
  const callArgs: (number | bigint)[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const t: ValType | undefined = sig?.params[i];
    if (typeof a !== 'number' || Number.isNaN(a)) return bad(`argument ${i + 1} of ${sigText} is not a number`);
    if (t === 'i64') {
      if (!Number.isInteger(a)) return bad(`argument ${i + 1} of ${sigText} must be an integer, got ${a}`);
      callArgs.push(BigInt(a));
    } else if (t === 'i32' && !Number.isInteger(a)) {
      return bad(`argument ${i + 1} of ${sigText} must be an integer, got ${a}`);
    } else if (t && t !== 'i32' && t !== 'f32' && t !== 'f64') {
      return bad(`export ${sigText} takes a ${t} parameter, which cannot be passed as a number`);
    } else callArgs.push(a);
  }
  return invoke(module, meta, name, callArgs, limits, sig ? null : args);
}

/**
 * One call on a fresh instance. `bigRetry`: the arguments to pass again as BigInts when the call rejects
 * numbers (an i64 export without a recorded signature, i.e. a module not from compileModule).
 */
function invoke(
  module: WebAssembly.Module,
  meta: ModuleMeta,
  name: string,
  callArgs: (number | bigint)[],
  limits: Limits,
  bigRetry: number[] | null,
): ExportCall {
  const { memory, error } = makeMemory(meta, limits);
  if (error) return { ok: false, error };
  const wasi = createWasi({ args: ['guest'], env: {}, stdin: empty, maxStdoutBytes: limits.maxStdoutBytes, maxStderrBytes: stderrCap(limits), preopens: [] });
  let mem = memory;
  try {
    const instance = new WebAssembly.Instance(module, importObject(wasi, meta, memory));
    const exported = instance.exports.memory;
    if (exported instanceof WebAssembly.Memory) {
      mem = exported;
      wasi.bind(exported);
    } else if (memory) wasi.bind(memory);
    const fn = instance.exports[name] as (...a: (number | bigint)[]) => unknown;
    const r = fn(...callArgs);
    const list = r === undefined ? [] : Array.isArray(r) ? r : [r];
    return { ok: true, results: list.map((x) => Number(x)) };
  } catch (err) {
    if (bigRetry && err instanceof TypeError && /BigInt/.test(err.message)) {
      return invoke(module, meta, name, bigRetry.map((a) => BigInt(Math.trunc(a))), limits, null);
    }
    const e = classify(err, mem, limits);
    if (e.kind === 'exit') e.message = `guest called proc_exit(${e.exitCode}) inside ${name}`;
    return { ok: false, error: e };
  } finally {
    wasi.dispose();
    releaseMemory(meta, limits, memory);
  }
}
