/** Per-component resource limits and host grants for guests. */

export interface Limits {
  /** Cap on the guest's linear memory; memory.grow returns -1 past it. */
  maxMemoryBytes: number;
  /** Wall-clock budget per event; enforced by the runtime pool (it terminates the thread), not here. */
  timeoutMs: number;
  /** Largest event body accepted as stdin; a larger one is refused before the guest runs. */
  maxStdinBytes: number;
  /** Cap on stdout (and, separately, stderr); the run ends as 'output-limit' when a guest passes it. */
  maxStdoutBytes: number;
}

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
};

/** A host directory mapped into the guest at `guest` (an absolute guest path such as "/data"). */
export interface DirGrant { host: string; guest: string; writable: boolean }

/** What of the host a guest may see. Nothing granted = { env: {}, dirs: [] }. */
export interface Grants { env: Record<string, string>; dirs: DirGrant[] }

export const noGrants: Grants = Object.freeze({ env: Object.freeze({}), dirs: Object.freeze([]) }) as unknown as Grants;
