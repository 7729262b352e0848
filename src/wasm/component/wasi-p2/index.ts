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
import { bytesInput, captureStream, ioFuncs, type HostFn, type HostFuncs } from './io.js';
import { outgoingFuncs } from './outbound.js';

export interface WasiP2Options {
  args: string[];
  env: Record<string, string>;
  stdin: Uint8Array;
  maxStdoutBytes: number;
  /** Cap on stderr (limits.maxStderr); default maxStdoutBytes. */
  maxStderrBytes?: number;
  /** Sees every write to stdout/stderr as it is made (the pool's board), beside the capture. */
  onOutput?: (stream: 'stdout' | 'stderr', bytes: Uint8Array) => void;
  preopens: DirGrant[];
  /** wasi:http/types for an incoming-handler call (the request, and where the response lands). */
  http?: { request: HttpRequestIn | null; state: HttpState };
  /** grants.outboundHosts: wasi:http/outgoing-handler sends to these only (empty: every request is denied). */
  outbound?: { hosts: readonly string[]; timeoutMs: number };
}

export interface WasiP2Host {
  /** The host function `iface#name` (iface without its version), or undefined when featherweight provides none. */
  lookup(key: string): HostFn | undefined;
  stdout(): Uint8Array;
  stderr(): Uint8Array;
  dispose(): void;
}

const io = ioFuncs();
// A network handle is harmless: every socket made with it is denied (deny.ts).
const statics: HostFuncs = { 'wasi:sockets/instance-network#instance-network': () => ({}) };

/**
 * One event's host. Its functions are looked up group by group rather than merged into one object:
 * spreading ~150 entries into a dictionary per event was the largest host cost of a small component
 * (~0.1 ms of its ~0.3 ms, measured with bench/component.ts). wasi:http's group is built only when
 * the guest calls into wasi:http (or for an incoming-handler call).
 */
export function createWasiP2(o: WasiP2Options): WasiP2Host {
  const stdout = captureStream('stdout', o.maxStdoutBytes, o.onOutput);
  const stderr = captureStream('stderr', o.maxStderrBytes ?? o.maxStdoutBytes, o.onOutput);
  const fsHost = filesystemFuncs(o.preopens);
  const cli = cliFuncs({ args: o.args, env: o.env, stdin: bytesInput(o.stdin), stdout, stderr });
  let http: HostFuncs | null = null;
  const httpGroup = (): HostFuncs => (http ??= {
    ...httpFuncs(o.http?.request ?? null, o.maxStdoutBytes, o.http?.state ?? { response: null }),
    // Without an allow-list, outgoing-handler stays unprovided and deny.ts answers HTTP-request-denied.
    ...(o.outbound && o.outbound.hosts.length > 0 ? outgoingFuncs(o.outbound.hosts, { timeoutMs: o.outbound.timeoutMs, maxBodyBytes: o.maxStdoutBytes }) : {}),
  });
  // An incoming-handler call needs the group at once: it makes the request resource handed to `handle`.
  if (o.http) httpGroup();
  return {
    lookup: (key) => (key.startsWith('wasi:http/') ? httpGroup()[key] : io[key] ?? cli[key] ?? fsHost.funcs[key] ?? statics[key]),
    stdout: () => stdout.bytes(),
    stderr: () => stderr.bytes(),
    dispose: () => fsHost.dispose(),
  };
}
