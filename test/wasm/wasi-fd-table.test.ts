// src/wasm/wasi/fd-table.ts and rights.ts on their own: numbering, the limit, dup2-style renumber,
// rights per fd kind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { E, Errno } from '../../src/wasm/wasi/errno.js';
import { FdTable, makeFd } from '../../src/wasm/wasi/fd-table.js';
import { DIR_BASE, DIR_INHERITING, FILE_BASE, fileRights, need, R } from '../../src/wasm/wasi/rights.js';

const errno = (fn: () => unknown): number => {
  try { fn(); } catch (e) { if (e instanceof Errno) return e.code; throw e; }
  return 0;
};
const grant = { hostReal: '/nonexistent', hostGiven: '/nonexistent', writable: false };

test('fds are numbered lowest-free from 3, and the table refuses past its limit', () => {
  const t = new FdTable(6);
  t.addPreopen(grant, '/d');
  assert.equal(t.get(3).preopen, '/d');
  assert.equal(t.add(makeFd('dir', {})), 4);
  assert.equal(t.add(makeFd('dir', {})), 5);
  assert.equal(errno(() => t.add(makeFd('dir', {}))), E.MFILE);
  assert.equal(errno(() => t.reserve()), E.MFILE);
  t.close(4);
  assert.equal(errno(() => t.get(4)), E.BADF);
  assert.equal(t.add(makeFd('dir', {})), 4);
  t.close(0); // stdin may be closed; new fds still start at 3
  assert.equal(errno(() => t.get(0)), E.BADF);
  assert.equal(t.add(makeFd('dir', {})), 6, 'numbers below 3 are never handed out again');
});

test('renumber is dup2: the target closes, the source moves, BADF for a closed end', () => {
  const t = new FdTable(16);
  t.addPreopen(grant, '/d');
  const moved = makeFd('dir', { preopen: '' });
  const n = t.add(moved);
  t.renumber(n, 3);
  assert.equal(t.get(3), moved, 'renumbering over a preopen');
  assert.equal(errno(() => t.get(n)), E.BADF);
  assert.equal(errno(() => t.renumber(3, 99)), E.BADF);
  assert.equal(errno(() => t.renumber(99, 3)), E.BADF);
  t.renumber(3, 3);
  assert.equal(t.get(3), moved, 'onto itself changes nothing');
  t.renumber(1, 2);
  assert.equal(t.get(2).kind, 'stdout');
});

test('rights per kind: directories never carry read/write/seek/set_size in base; files only what they opened with', () => {
  for (const r of [R.FD_READ, R.FD_WRITE, R.FD_SEEK, R.FD_FILESTAT_SET_SIZE]) assert.equal(DIR_BASE & r, 0n);
  assert.equal(DIR_INHERITING & FILE_BASE, FILE_BASE);
  const ro = fileRights(DIR_INHERITING, true, false);
  assert.equal(ro & R.FD_WRITE, 0n);
  assert.equal(ro & R.FD_READ, R.FD_READ);
  const wo = fileRights(DIR_INHERITING, false, true);
  assert.equal(wo & R.FD_READ, 0n);
  assert.equal(wo & R.FD_WRITE, R.FD_WRITE);
  assert.equal(fileRights(DIR_INHERITING & ~R.FD_SEEK, true, true) & R.FD_SEEK, 0n, 'a dropped inheriting right stays dropped');
  assert.equal(errno(() => need(ro, R.FD_WRITE)), E.NOTCAPABLE);
  assert.equal(errno(() => need(ro, R.FD_READ | R.FD_SEEK)), 0);
});
