// Counting the whole process's descriptors races with everything else the process opens and closes
// (the test runner, the module loader, sockets closing late), so a test that wants to know whether
// the host holds a file counts only the descriptors that point inside its own directory.
import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';

/** How many of this process's open descriptors point at `dir` or below it (Linux /proc). */
export function fdsUnder(dir: string): number {
  const real = realpathSync(dir);
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try { target = readlinkSync(`/proc/self/fd/${fd}`); } catch { continue; } // closed between the two calls
    if (target === real || target.startsWith(real + path.sep)) n++;
  }
  return n;
}
