// Guest threads run below the main thread's CPU priority, so the host's own work (API, dispatcher, sinks,
// SMTP) wins the CPU over any number of busy guests (decision 122). On Linux a thread's nice value is its
// own (setpriority on its TID); elsewhere this does nothing.
import { readlinkSync } from 'node:fs';
import os from 'node:os';

/** nice +10 (PRIORITY_BELOW_NORMAL): lowering needs no privilege; a thread never raises it back. */
export const GUEST_THREAD_NICE = os.constants.priority.PRIORITY_BELOW_NORMAL;

/** Lowers the calling thread's priority; returns whether it could. */
export function lowerThreadPriority(nice = GUEST_THREAD_NICE): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return false;
    if (os.getPriority(tid) < nice) os.setPriority(tid, nice);
    return true;
  } catch {
    return false; // no /proc (a container without it): the budget still bounds concurrency
  }
}
