// Guest threads run below the main thread's CPU priority, so the host's own work (API, dispatcher, sinks,
// SMTP) wins the CPU over any number of busy guests (decision 122). On Linux a thread's nice value is its
// own (setpriority on its TID); elsewhere this does nothing.
import { readlinkSync } from 'node:fs';
import os from 'node:os';

/** nice +10 (PRIORITY_BELOW_NORMAL): lowering needs no privilege; a thread never raises it back. */
export const GUEST_THREAD_NICE = os.constants.priority.PRIORITY_BELOW_NORMAL;

/** A job still running after this long is demoted to RUNAWAY_NICE until it ends (decision 122). */
export const DEMOTE_AFTER_MS = 20;
/** nice +19: a runaway gets the CPU only when the short jobs of other components do not want it. */
export const RUNAWAY_NICE = os.constants.priority.PRIORITY_LOW;

/** Lowers the calling thread's priority; returns its thread id (for setThreadNice), or undefined. */
export function lowerThreadPriority(nice = GUEST_THREAD_NICE): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return undefined;
    if (os.getPriority(tid) < nice) os.setPriority(tid, nice);
    return tid;
  } catch {
    return undefined; // no /proc (a container without it): the budget still bounds concurrency
  }
}

/**
 * Sets another thread's nice value from the main thread. Lowering needs no privilege; going back up
 * to GUEST_THREAD_NICE does (CAP_SYS_NICE) unless RLIMIT_NICE allows it, so a failure is ignored and the
 * thread simply stays low until it is recycled.
 */
export function setThreadNice(tid: number | undefined, nice: number): boolean {
  if (tid === undefined) return false;
  try {
    os.setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}
