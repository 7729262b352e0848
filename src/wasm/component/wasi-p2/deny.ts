/**
 * What an import featherweight does not provide does when called: if its result is result<_, E> and E
 * has a "denied" case (wasi:sockets' error-code access-denied, wasi:http's HTTP-request-denied), it
 * returns that error, as wasmtime does for a socket or request the WasiCtx does not allow; otherwise it
 * traps with a message naming the import.
 */
import type { FuncType } from '../types.js';
import type { HostFn } from './io.js';

const denials = ['access-denied', 'HTTP-request-denied', 'not-permitted', 'access'];

export function denied(key: string, type: FuncType): HostFn {
  const r = type.result;
  if (r?.k === 'result' && r.err) {
    const e = r.err;
    if (e.k === 'enum') {
      const name = denials.find((d) => e.names.includes(d));
      if (name) return () => ({ tag: 'err', val: name });
    } else if (e.k === 'variant') {
      const c = e.cases.find((x) => denials.includes(x.name) && x.t === null);
      if (c) return () => ({ tag: 'err', val: { tag: c.name } });
    }
  }
  return () => {
    throw new WebAssembly.RuntimeError(`guest called ${key}, which featherweight does not provide to components`);
  };
}
