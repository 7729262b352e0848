/** Per-component resource limits and host grants for guests. */

export interface Limits {
  /** Cap on the guest's linear memory; memory.grow returns -1 past it. */
  maxMemoryBytes: number;
  /** Wall-clock budget per event; enforced by the runtime pool (it terminates the thread), not here. */
  timeoutMs: number;
  /** Largest event body accepted as stdin; a larger one is refused before the guest runs. */
  maxStdinBytes: number;
  /** Cap on stdout; the run ends as 'output-limit' when a guest passes it. */
  maxStdoutBytes: number;
  /**
   * Cap on captured stderr (manifest `limits.maxStderr`), apart from stdout's: stderr is a diagnostic
   * tail, not output, so it gets a smaller budget; passing it ends the run as 'output-limit' too.
   * Default 1 MiB (decision 122).
   */
  maxStderrBytes?: number;
  /**
   * Elements of all of an instance's tables together (manifest `limits.maxTableElements`). Table maximums
   * are rewritten at compile time so table.grow returns -1 past it; a module whose tables start larger is
   * refused. Tables count against maxMemoryBytes at TABLE_ELEMENT_BYTES each (decision 120).
   */
  maxTableElements?: number;
  /**
   * WASI fds one instance may hold open at once, stdio and preopens included (manifest
   * `limits.maxOpenFiles`); past it path_open returns MFILE, so one guest cannot exhaust the host's
   * descriptors (decision 100).
   */
  maxOpenFiles?: number;
  /**
   * Records (non-blank stdout lines) one event may write (manifest `limits.maxRecords`); the guest is
   * stopped at the first one past it, as 'record-limit'. No cap unless set: `featherweight run` has
   * none; the app sets defaultMaxRecords (decision 234).
   */
  maxRecords?: number;
}

/**
 * The app's record limit per event when the manifest sets none. 100,000 rows is a 4 MB text file at
 * 40 bytes a line, far above what one mail or message yields, and small enough that parsing and
 * committing them costs the event loop slices of milliseconds, not seconds (decision 130). The guest
 * is stopped at the limit as it writes (wasi/stdio.ts); the app's parse checks it again for output
 * that did not come through that count.
 */
export const defaultMaxRecords = 100_000;

/** What V8 spends per funcref table element, rounded up (measured 28-55 B; decision 120). */
export const TABLE_ELEMENT_BYTES = 64;

/**
 * 64 MiB is plenty for a handler and keeps 2 concurrent replicas per core cheap; 5 s matches a typical
 * queue visibility window; 25 MiB stdin is the common SMTP message size cap; stdout may be larger than
 * stdin because NDJSON rows repeat the file name per line.
 */
export const defaultLimits: Limits = {
  maxMemoryBytes: 64 * 1024 * 1024,
  timeoutMs: 5_000,
  maxStdinBytes: 25 * 1024 * 1024,
  maxStdoutBytes: 50 * 1024 * 1024,
  // Dead letters keep the last 2 KiB, logs a line or two: 1 MiB is room for any real trace.
  maxStderrBytes: 1024 * 1024,
  // wasmtime's pooling allocator default per table; ours covers all tables of an instance (1.25 MiB at most).
  maxTableElements: 20_000,
  // wasmtime has no per-instance cap; 1024 is the common soft RLIMIT_NOFILE a POSIX program expects.
  maxOpenFiles: 1024,
};

/** The stderr cap in force for `limits`. */
export function stderrCap(limits: Partial<Limits>): number {
  return limits.maxStderrBytes ?? defaultLimits.maxStderrBytes!;
}

/** The table element cap in force for `limits`. */
export function tableElementCap(limits: Partial<Limits>): number {
  return limits.maxTableElements ?? defaultLimits.maxTableElements!;
}

/** A host directory mapped into the guest at `guest` (an absolute guest path such as "/data"). */
export interface DirGrant { host: string; guest: string; writable: boolean }

/** What of the host a guest may see. Nothing granted = { env: {}, dirs: [] }. */
export interface Grants {
  env: Record<string, string>;
  dirs: DirGrant[];
  /** Components only: wasi:http/outgoing-handler may reach these, Spin's allowed_outbound_hosts shape (decision 221). */
  outboundHosts?: string[];
}

export const noGrants: Grants = Object.freeze({ env: Object.freeze({}), dirs: Object.freeze([]) }) as unknown as Grants;
