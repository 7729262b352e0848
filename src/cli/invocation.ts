// How to tell a person to run this CLI again, in hints the commands print.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/featherweight.js');

function realpath(p: string): string | null {
  try {
    return fs.realpathSync(p);
  } catch {
    return null;
  }
}

/**
 * `featherweight` when that name on PATH is this CLI (after `npm link` or a global install), else
 * `node <path to this bin>`, relative to the cwd when shorter, so a printed hint works as printed.
 */
export function cliCommand(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  const self = realpath(bin);
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const found = realpath(path.join(dir, 'featherweight'));
    if (found) return found === self ? 'featherweight' : `node ${shortest(cwd)}`;
  }
  return `node ${shortest(cwd)}`;
}

function shortest(cwd: string): string {
  const rel = path.relative(cwd, bin);
  const shown = rel.length < bin.length && !rel.startsWith(`..${path.sep}..`) ? rel : bin;
  return /\s/.test(shown) ? JSON.stringify(shown) : shown;
}
