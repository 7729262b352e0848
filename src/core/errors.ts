/** What went wrong with a guest run. Every guest failure is exactly one of these kinds. */
export type GuestErrorKind =
  | 'trap'
  | 'timeout'
  | 'memory-limit'
  | 'exit'
  | 'output-limit'
  | 'record-limit'
  | 'invalid-module';

export interface GuestErrorInfo {
  kind: GuestErrorKind;
  /** One line a person can act on, e.g. "guest trapped: unreachable". */
  message: string;
  /** Exit code for kind 'exit'. */
  exitCode?: number;
}

export class GuestError extends Error implements GuestErrorInfo {
  readonly kind: GuestErrorKind;
  readonly exitCode?: number;
  constructor(info: GuestErrorInfo) {
    super(info.message);
    this.name = 'GuestError';
    this.kind = info.kind;
    if (info.exitCode !== undefined) this.exitCode = info.exitCode;
  }
  toJSON(): GuestErrorInfo {
    return { kind: this.kind, message: this.message, ...(this.exitCode !== undefined ? { exitCode: this.exitCode } : {}) };
  }
}

/**
 * Failures around a guest run that are ours rather than the guest's: `input-limit` (the event body
 * is above the component's maxStdin, checked before any thread sees it), `input` (the event as stored
 * cannot become the event its handler sees, e.g. a mail that is not MIME), `output` (output the sink
 * cannot store: not NDJSON, a key that is not an identifier, a table past its column cap), `sink`
 * (the sink failed to commit), `host`. (`record-limit`, more records than maxRecords, is a guest
 * failure: the guest is stopped as it writes the first record past the limit.)
 */
export type HostFailureKind = 'input-limit' | 'input' | 'output' | 'sink' | 'host';

/** Why an event did not complete: a guest failure, or a failure of ours around it. */
export type FailureInfo = GuestErrorInfo | { kind: HostFailureKind; message: string };

/**
 * Failures that are a function of the event, the module and the limits alone: running the same
 * event again can only fail the same way, so the dispatcher dead-letters them on the first attempt
 * (decision 131). Traps, exits, timeouts and memory limits stay retryable: a guest may depend on
 * granted files, env or the clock, and a timeout may come from a loaded host.
 */
const permanentKinds: ReadonlySet<string> = new Set(['invalid-module', 'output-limit', 'input-limit', 'input', 'record-limit', 'output']);

export function isPermanent(failure: { kind: string }): boolean {
  return permanentKinds.has(failure.kind);
}

/**
 * Thrown by a sink for records it can never store whatever the retry (a key that is not a SQL
 * identifier, a reserved key, a table past its column cap); the dispatcher reports it as `output`.
 */
export class RecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordError';
  }
}

/**
 * Thrown by a source's prepare() for an event that can never become the one its handler sees (a
 * stored mail that is not MIME, or whose event is above maxStdin): the dispatcher dead-letters the
 * event as stored, on its first attempt. Any other error from prepare() is the host's: redelivered.
 */
export class PreparationError extends Error {
  readonly failure: { kind: 'input' | 'input-limit'; message: string };
  constructor(kind: 'input' | 'input-limit', message: string) {
    super(message);
    this.name = 'PreparationError';
    this.failure = { kind, message };
  }
}
