import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, runCli, spawnCli } from '../helpers/cli.js';

const guest = (name: string) => path.join(repoRoot, 'guests/build', `${name}.wasm`);

test('run: stdin from a pipe reaches the guest, its stdout is printed, exit 0', async () => {
  const r = await runCli(['run', guest('echo'), '--stdin', '-'], { input: 'hello\nworld\n' });
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, 'hello\nworld\n');
  assert.equal(r.code, 0);
});

test('run: --stdin FILE, --env and args after -- reach the guest; host env does not', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-run-'));
  try {
    fs.writeFileSync(path.join(dir, 'in.txt'), 'from a file\n');
    const r = await runCli(['run', guest('echo'), '--stdin', path.join(dir, 'in.txt'), '--env', 'GREETING=hi', '--env', 'FROM_HOST', '--', '--args', '--env'],
      { env: { ...process.env, FROM_HOST: 'inherited', SECRET_HOST_VAR: 'nope' } });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.ok(lines.includes('arg1=--args') && lines.includes('arg2=--env'), r.stdout);
    assert.ok(lines.includes('GREETING=hi'), r.stdout);
    assert.ok(lines.includes('FROM_HOST=inherited'), r.stdout);
    assert.ok(!r.stdout.includes('SECRET_HOST_VAR'), r.stdout);
    assert.ok(r.stdout.endsWith('from a file\n'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('run: --dir grants read-only access, --dir-rw lets the guest write', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-run-'));
  try {
    fs.writeFileSync(path.join(dir, 'note.txt'), 'granted content\n');
    const read = await runCli(['run', guest('openfile'), '--dir', `${dir}::/data`, '--', 'read', 'note.txt']);
    assert.equal(read.code, 0, read.stderr);
    assert.match(read.stdout, /granted content/);
    const roWrite = await runCli(['run', guest('openfile'), '--dir', `${dir}::/data`, '--', 'write', 'out.txt']);
    assert.notEqual(roWrite.code, 0);
    assert.equal(fs.existsSync(path.join(dir, 'out.txt')), false);
    const rwWrite = await runCli(['run', guest('openfile'), '--dir-rw', `${dir}::/data`, '--', 'write', 'out.txt']);
    assert.equal(rwWrite.code, 0, rwWrite.stderr);
    assert.equal(fs.existsSync(path.join(dir, 'out.txt')), true);
    const missing = await runCli(['run', guest('openfile'), '--dir', path.join(dir, 'missing')]);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /^featherweight: --dir .*missing: no such directory\n$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// Each typed failure: its exit code and exactly one line of ours on stderr.
const failures: { name: string; args: string[]; code: number; line: RegExp }[] = [
  { name: 'loop', args: ['--timeout', '500ms'], code: 124, line: /^featherweight: timeout: guest ran past 500ms$/ },
  { name: 'membomb', args: ['--max-memory', '8MiB'], code: 137, line: /^featherweight: memory-limit: guest hit the memory limit of 8 MiB/ },
  { name: 'trap', args: [], code: 134, line: /^featherweight: trap: guest trapped: unreachable$/ },
  { name: 'bigout', args: ['--max-output', '1MiB'], code: 141, line: /^featherweight: output-limit: guest wrote more than 1 MiB to stdout/ },
  { name: 'badimport', args: [], code: 125, line: /^featherweight: invalid-module: module imports env\.nope \(function\) which the host does not provide$/ },
];
for (const f of failures) {
  test(`run: ${f.name} exits ${f.code} with one line saying why`, async () => {
    const r = await runCli(['run', guest(f.name), ...f.args]);
    assert.equal(r.code, f.code, r.stderr);
    const ours = r.stderr.split('\n').filter((l) => l.startsWith('featherweight:'));
    assert.equal(ours.length, 1, r.stderr);
    assert.match(ours[0]!, f.line);
  });
}

test('run: the trap guest\'s own stderr is printed before our line', async () => {
  const r = await runCli(['run', guest('trap')]);
  assert.equal(r.stderr, 'about to trap\nfeatherweight: trap: guest trapped: unreachable\n');
});

test('run: a guest exit code passes through, with its own stderr and nothing of ours', async () => {
  const r = await runCli(['run', guest('fail')]);
  assert.equal(r.code, 3);
  assert.equal(r.stderr, 'fail: refusing this event\n');
});

test('run: a missing module, a non-Wasm file and bad flags exit 125 with one line', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-run-'));
  try {
    const text = path.join(dir, 'x.wasm');
    fs.writeFileSync(text, '(module)');
    const cases: [string[], RegExp][] = [
      [['run', path.join(dir, 'nope.wasm')], /^featherweight: invalid-module: cannot read module .*nope\.wasm: no such file\n$/],
      [['run', text], /^featherweight: invalid-module: not a WebAssembly module: .*WAT text.*\n$/],
      [['run', guest('noop'), '--timeout', 'soon'], /^featherweight: invalid duration "soon"/],
      [['run', guest('noop'), '--max-memory', 'lots'], /^featherweight: invalid size "lots"/],
      [['run', guest('noop'), '--env', '1X=y'], /^featherweight: invalid --env "1X=y"/],
      [['run', guest('noop'), '--stdin', path.join(dir, 'absent')], /^featherweight: --stdin .*absent: cannot read it \(ENOENT\)\n$/],
    ];
    for (const [args, re] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 125, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('call: add 1 2 prints 3; negatives, i64 and void work', async () => {
  const r = await runCli(['call', guest('add'), 'add', '1', '2']);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, '3\n', '']);
  const neg = await runCli(['call', guest('add'), 'add', '--', '-5', '2']);
  assert.deepEqual([neg.code, neg.stdout], [0, '-3\n']);
  const big = await runCli(['call', guest('add'), 'add64', '9007199254740990', '1']);
  assert.deepEqual([big.code, big.stdout], [0, '9007199254740991\n']);
});

test('call: trap, unknown export, wrong arguments and a runaway export end in their codes', async () => {
  const trap = await runCli(['call', guest('add'), 'divide', '1', '0']);
  assert.equal(trap.code, 134);
  assert.match(trap.stderr, /^featherweight: trap: guest trapped: divide by zero\n$/);
  const unknown = await runCli(['call', guest('add'), 'nope']);
  assert.equal(unknown.code, 125);
  assert.match(unknown.stderr, /^featherweight: invalid-module: module has no exported function "nope" \(exported functions: add, add64, divide\)\n$/);
  const arity = await runCli(['call', guest('add'), 'add', '1']);
  assert.equal(arity.code, 125);
  assert.match(arity.stderr, /takes 2 argument\(s\), got 1/);
  const nan = await runCli(['call', guest('add'), 'add', 'one', '2']);
  assert.equal(nan.code, 125);
  assert.match(nan.stderr, /^featherweight: argument 1 "one" is not a number\n$/);
  const loop = await runCli(['call', guest('loop'), '_start', '--timeout', '300ms']);
  assert.equal(loop.code, 124);
  assert.match(loop.stderr, /^featherweight: timeout: guest ran past 300ms\n$/);
});

// A guest that writes one line to stdout and one to stderr, then spins until the watchdog ends it.
const chattyLoopWat = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "started\\n")
  (data (i32.const 32) "on stderr\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 8))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 0) (i32.const 32)) (i32.store (i32.const 4) (i32.const 10))
    (drop (call $w (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
    (loop (br 0))))`;

function tmpWat(text: string, name = 'guest.wat'): { dir: string; file: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-run-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return { dir, file };
}

test('run: output is streamed while the guest runs, and kept when the timeout ends it', async () => {
  const { dir, file } = tmpWat(chattyLoopWat);
  try {
    // Live: the line arrives while the process is still running (the timeout is far away).
    const child = spawnCli(['run', file, '--timeout', '120s']);
    child.stdin!.end();
    const exited = new Promise((r) => child.once('exit', r));
    const seen = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('started\n')) resolve(out);
      });
      child.once('exit', () => reject(new Error(`exited before printing: ${out}`)));
    });
    assert.equal(seen, 'started\n');
    assert.equal(child.exitCode, null, 'the guest is still running when its output arrives');
    child.kill('SIGKILL');
    await exited;
    // Timed out: what it wrote comes first, then our one line.
    const r = await runCli(['run', file, '--timeout', '500ms']);
    assert.equal(r.code, 124);
    assert.equal(r.stdout, 'started\n');
    assert.equal(r.stderr, 'on stderr\nfeatherweight: timeout: guest ran past 500ms\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('run: stdin is inherited by default; argv[0] is the module file name, or --argv0', async () => {
  const r = await runCli(['run', guest('echo'), '--', '--args'], { input: 'piped in\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'arg0=echo.wasm\narg1=--args\npiped in\n');
  const named = await runCli(['run', guest('echo'), '--argv0', 'mytool', '--stdin', '/dev/null', '--', '--args'], { input: 'not read\n' });
  assert.equal(named.stdout, 'arg0=mytool\narg1=--args\n');
});

test('run: .wat files, `featherweight x.wasm` as run, --invoke as call', async () => {
  const { dir, file } = tmpWat(`(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
    (memory (export "memory") 1) (func (export "_start")))`, 'add.wat');
  try {
    assert.deepEqual(await runCli(['run', file]).then((r) => [r.code, r.stderr]), [0, '']);
    const invoked = await runCli(['run', '--invoke', 'add', file, '2', '40']);
    assert.deepEqual([invoked.code, invoked.stdout, invoked.stderr], [0, '42\n', '']);
    const bare = await runCli([guest('trap')]);
    assert.equal(bare.code, 134);
    assert.equal(bare.stderr, 'about to trap\nfeatherweight: trap: guest trapped: unreachable\n');
    fs.writeFileSync(file, '(module (func (export "_start") (call $nope)))');
    const bad = await runCli(['run', file]);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /^featherweight: add\.wat:1:39: error: undefined function variable "\$nope"\n.*\(call \$nope\).*\n\s+\^+\n$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('run, call: a bad flag or a missing argument exits 125 with one line', async () => {
  for (const args of [['run', '--bogus', guest('noop')], ['run'], ['call', guest('add'), 'add', '--nope']]) {
    const r = await runCli(args);
    assert.equal(r.code, 125, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
    assert.match(r.stderr, /^featherweight: (unknown option|missing required argument) .*\(see featherweight (run|call) --help\)\n$/);
  }
  const help = await runCli(['run', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Exit codes:/);
});
