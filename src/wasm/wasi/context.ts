/** The state of one WASI instance that every call module works on. */
import type { FdTable } from './fd-table.js';
import type { GuestMemory } from './memory.js';

export interface Ctx {
  mem: GuestMemory;
  fds: FdTable;
  argv: Uint8Array[];
  envv: Uint8Array[];
  stdin: Uint8Array;
  stdinPos: number;
  out: { stdout: Uint8Array[]; stderr: Uint8Array[] };
  outLen: { stdout: number; stderr: number };
  /** Cap on stdout and on stderr. */
  maxOut: { stdout: number; stderr: number };
  /** Completed non-blank stdout lines allowed (Infinity: no cap); the counter and the open line's state. */
  maxRecords: number;
  records: number;
  lineHasContent: boolean;
  /** Sees every write to stdout/stderr as it is made (the pool's board), beside the capture. */
  onOutput: ((stream: 'stdout' | 'stderr', bytes: Uint8Array) => void) | null;
  /**
   * Times the guest set, by "dev:ino". Node sets file times through a double of seconds, which cannot
   * hold nanoseconds; the guest reads back exactly what it set as long as the host's time is still the
   * rounded value this instance wrote (anyone else touching the file wins).
   */
  times: Map<string, { atim: bigint; mtim: bigint; hostA: bigint; hostM: bigint }> | null;
}

/** One WASI import: the context first, then the guest's arguments. */
export type Call = (ctx: Ctx, ...args: any[]) => number;
