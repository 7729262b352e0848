/**
 * featherweight's WASI 0.2 host: deny-by-default like wasmtime's WasiCtxBuilder. A guest gets exactly
 * the environment and arguments passed in, stdin from the event, captured stdout/stderr under the output
 * limit, clocks, random, wasi:io, and wasi:filesystem over granted directories only. Anything else it
 * imports (wasi:sockets, wasi:http/outgoing-handler, ...) answers "denied" when its error type has such
 * a case, and traps otherwise (deny.ts). @bytecodealliance/preview2-shim is never loaded: it hands
 * guests the host's env, files and sockets, and its exit ends the process.
 */
import type { DirGrant } from '../../limits.js';
import { cliFuncs } from './cli.js';
import { filesystemFuncs } from './filesystem.js';
import { httpFuncs, type HttpRequestIn, type HttpState } from './http.js';
import { bytesInput, captureStream, ioFuncs, type HostFuncs } from './io.js';
import { outgoingFuncs } from './outbound.js';

export interface WasiP2Options {
  args: string[];
  env: Record<string, string>;
  stdin: Uint8Array;
  maxStdoutBytes: number;
  preopens: DirGrant[];
  /** wasi:http/types for an incoming-handler call (the request, and where the response lands). */
  http?: { request: HttpRequestIn | null; state: HttpState };
  /** grants.outboundHosts: wasi:http/outgoing-handler sends to these only (empty: every request is denied). */
  outbound?: { hosts: readonly string[]; timeoutMs: number };
}

export interface WasiP2Host {
  funcs: HostFuncs;
  stdout(): Uint8Array;
  stderr(): Uint8Array;
  dispose(): void;
}

const io = ioFuncs();

export function createWasiP2(o: WasiP2Options): WasiP2Host {
  const stdout = captureStream('stdout', o.maxStdoutBytes);
  const stderr = captureStream('stderr', o.maxStdoutBytes);
  const fsHost = filesystemFuncs(o.preopens);
  const funcs: HostFuncs = {
    ...io,
    ...cliFuncs({ args: o.args, env: o.env, stdin: bytesInput(o.stdin), stdout, stderr }),
    ...fsHost.funcs,
    ...httpFuncs(o.http?.request ?? null, o.maxStdoutBytes, o.http?.state ?? { response: null }),
    // Without an allow-list, outgoing-handler stays unprovided and deny.ts answers HTTP-request-denied.
    ...(o.outbound && o.outbound.hosts.length > 0 ? outgoingFuncs(o.outbound.hosts, { timeoutMs: o.outbound.timeoutMs, maxBodyBytes: o.maxStdoutBytes }) : {}),
    // A network handle is harmless: every socket made with it is denied (deny.ts).
    'wasi:sockets/instance-network#instance-network': () => ({}),
  };
  return { funcs, stdout: () => stdout.bytes(), stderr: () => stderr.bytes(), dispose: () => fsHost.dispose() };
}
