// Messages between the pool (main thread) and its worker threads.
import type { ExportCall, Grants, GuestRun, Limits } from '../wasm/index.js';
import type { ComponentImage } from '../wasm/component/index.js';

export type Abi = 'wasi-command' | 'exports';

export type CommandJob = { kind: 'command'; stdin: Uint8Array; env: Record<string, string>; args: string[] };
export type ExportJob = { kind: 'export'; name: string; args: number[] };
export type Job = CommandJob | ExportJob;

/**
 * Sent once per thread as workerData: the compiled module is shared, not recompiled. `board` is the
 * thread's shared board (board.ts): which job runs since when, and the output tail so far.
 */
export interface WorkerInit { module: WebAssembly.Module; abi: Abi; limits: Limits; grants?: Grants; component?: ComponentImage; board: SharedArrayBuffer }

/** A batch of jobs, run in order, each on a fresh instance (decision 231). */
export type ToWorker = { type: 'jobs'; jobs: Array<{ id: number; job: Job }> };

export interface JobDone {
  id: number;
  result: GuestRun | ExportCall;
  durationUs: number;
  /** When the job started on the thread (board.ts monoMs). */
  startedAt: number;
}

export type FromWorker =
  | { type: 'ready'; tid?: number }
  /** New results are on the board; `results` holds those too large for it. The last message of a batch has `last`. */
  /** `memories`: Wasm memories the thread has created so far (the pool recycles it after enough). */
  | { type: 'done'; results: JobDone[]; last: boolean; memories: number };
