#!/usr/bin/env node
// Runs the official WASI preview1 test suite (github.com/WebAssembly/wasi-testsuite, branch
// prod/testsuite-base) through featherweight's WASI shim and prints pass/fail counts.
// The suite is not on npm and CI has no other network, so this is a dev script, not a test:
//   node scripts/wasi-testsuite.mjs <suite>     <suite> = a checkout of that branch, or a git dir
//                                               (bare mirror) that has it; or set WASI_TESTSUITE
//   node scripts/wasi-testsuite.mjs <suite> -v  also prints why each failing test failed
//   ... --only=NAME                              runs only the tests whose name contains NAME
// A git dir is unpacked once into $TMPDIR/featherweight-wasi-testsuite/<commit>.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { register } from 'tsx/esm/api';

register(); // the runner and the shim are TypeScript

const args = process.argv.slice(2);
const verbose = args.includes('-v');
const only = args.find((a) => a.startsWith('--only='))?.slice(7);
const given = args.find((a) => !a.startsWith('-')) ?? process.env.WASI_TESTSUITE;
if (!given) {
  console.error('usage: node scripts/wasi-testsuite.mjs <path to a wasi-testsuite checkout or git dir> [-v]\n' +
    '(clone https://github.com/WebAssembly/wasi-testsuite and check out prod/testsuite-base)');
  process.exit(2);
}

function suiteTree(p) {
  if (fs.existsSync(path.join(p, 'tests'))) return p;
  const git = (...a) => execFileSync('git', ['--git-dir', p, ...a], { encoding: 'utf8' }).trim();
  const commit = git('rev-parse', 'prod/testsuite-base');
  const dest = path.join(os.tmpdir(), 'featherweight-wasi-testsuite', commit);
  if (!fs.existsSync(path.join(dest, 'tests'))) {
    fs.mkdirSync(dest, { recursive: true });
    execFileSync('sh', ['-c', `git --git-dir "$0" archive prod/testsuite-base tests | tar -x -C "$1"`, p, dest]);
  }
  return dest;
}

const root = suiteTree(path.resolve(given));
const here = path.dirname(fileURLToPath(import.meta.url));
const { listCases, runCase } = await import(pathToFileURL(path.join(here, '../test/wasm/fixtures/wasi-suite-case.ts')).href);
const cases = listCases(root).filter((c) => !only || c.name.includes(only));
let pass = 0;
const failed = [];
for (const c of cases) {
  const r = await runCase(c);
  if (r.pass) pass++;
  else failed.push(r);
  if (verbose) console.log(`${r.pass ? 'PASS' : 'FAIL'} ${r.name}${r.pass ? '' : `: ${r.reason}`}`);
}
if (!verbose) for (const f of failed) console.log(`FAIL ${f.name}`);
console.log(`wasi-testsuite (${root}): ${pass}/${cases.length} passed, ${failed.length} failed`);
process.exit(failed.length ? 1 : 0);
