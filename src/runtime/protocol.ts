// Messages between the pool (main thread) and its worker threads.
import type { ExportCall, Grants, GuestRun, Limits } from './guest.js';
import type { ComponentImage } from '../wasm/component/index.js';

export type Abi = 'wasi-command' | 'exports';

export type CommandJob = { kind: 'command'; stdin: Uint8Array; env: Record<string, string>; args: string[] };
export type ExportJob = { kind: 'export'; name: string; args: number[] };
export type Job = CommandJob | ExportJob;

/** Sent once per thread as workerData: the compiled module is shared, not recompiled. */
export interface WorkerInit { module: WebAssembly.Module; abi: Abi; limits: Limits; grants?: Grants; component?: ComponentImage }

export type ToWorker = { type: 'job'; id: number; job: Job };
export type FromWorker =
  | { type: 'ready'; tid?: number }
  | { type: 'done'; id: number; result: GuestRun | ExportCall; durationUs: number };
