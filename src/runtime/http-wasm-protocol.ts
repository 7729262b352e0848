// Messages between an http-wasm pool (main thread) and its worker threads. Requests and responses are
// the model types of wasm/http-wasm (Maps and Uint8Arrays clone as they are); a response body that is
// still an upstream stream stays on the main thread and crosses only as `streamed: true`.
// The same protocol carries wasi:http/incoming-handler components (abi: component): one 'run', one 'done'.
import type { ComponentImage } from '../wasm/component/index.js';
import type { HttpRequestModel, InstanceMode } from '../wasm/http-wasm/index.js';
import type { Grants, Limits } from '../wasm/limits.js';

export interface HttpWasmWorkerInit {
  /** The http-wasm guest; absent when the thread serves `component`. */
  module?: WebAssembly.Module;
  /** A wasi:http/incoming-handler component, a fresh instance per request. */
  component?: ComponentImage;
  /** What the component may reach (grants.env, dirs, outboundHosts). */
  grants?: Grants;
  name: string;
  config?: Uint8Array;
  limits: Partial<Limits>;
  instances: InstanceMode;
  maxIdle?: number;
  /** Log levels the main thread's logger has enabled (the guest's log_enabled answers from it). */
  levels: string[];
}

/** A response head and, when buffered, its body. */
export interface WireResponse {
  status: number;
  headers: Map<string, string[]>;
  trailers: Map<string, string[]>;
  body: Uint8Array | null;
  /** The body is the upstream stream the main thread kept. */
  streamed: boolean;
}

export interface WireFailure {
  /** An http-wasm ABI violation of a guest further down the chain (already logged). */
  violation?: { message: string; guest: string };
  /** Any other failure of next (upstream down, response not bufferable). */
  error?: string;
}

export type ToHttpWorker =
  | { type: 'run'; id: number; req: HttpRequestModel; hasNext: boolean }
  | { type: 'next-result'; id: number; resp?: WireResponse; failure?: WireFailure };

export type FromHttpWorker =
  | { type: 'ready'; tid?: number }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; obj: object; msg?: string }
  | { type: 'next'; id: number; req: HttpRequestModel; bufferResponse: boolean }
  | { type: 'done'; id: number; resp?: WireResponse; violation?: { message: string; guest: string }; instancesCreated: number; idle: number };
