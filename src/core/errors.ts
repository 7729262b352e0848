/** What went wrong with a guest run. Every guest failure is exactly one of these kinds. */
export type GuestErrorKind =
  | 'trap'
  | 'timeout'
  | 'memory-limit'
  | 'exit'
  | 'output-limit'
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
