import type { GuestErrorInfo } from '../core/errors.js';

/** The outcome of one wasi-command run; stdout/stderr hold what the guest wrote before it ended, either way. */
export type GuestRun =
  | { ok: true; exitCode: 0; stdout: Uint8Array; stderr: Uint8Array }
  | { ok: false; error: GuestErrorInfo; stdout: Uint8Array; stderr: Uint8Array };

/** "64 MiB", "1.5 KiB", "12 B" for messages. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${+(n / (1024 * 1024)).toFixed(1)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}
