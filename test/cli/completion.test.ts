import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';

/** What bash completes for the words typed so far (the last one being completed). */
function complete(script: string, words: string[]): string[] {
  const r = spawnSync('bash', ['-c', `source ${JSON.stringify(script)}; COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(' ')}); COMP_CWORD=${words.length - 1}; _featherweight; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

test('completion bash knows commands, subcommands and each one\'s flags; zsh wraps it; others are refused', { timeout: 300_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-comp-'));
  try {
    const bash = await runCli(['completion', 'bash']);
    assert.equal(bash.code, 0, bash.stderr);
    const script = path.join(dir, 'fw.bash');
    fs.writeFileSync(script, bash.stdout);
    assert.deepEqual(complete(script, ['featherweight', 'd']), ['demo', 'dlq']);
    assert.deepEqual(complete(script, ['featherweight', 'queue', 'st']), ['stats']);
    assert.deepEqual(complete(script, ['featherweight', 'run', '--ti']), ['--timeout']);
    assert.ok(complete(script, ['featherweight', 'up', '--']).includes('--log-level'));
    const zsh = await runCli(['completion', 'zsh']);
    assert.match(zsh.stdout, /^#compdef featherweight\n[\s\S]*bashcompinit[\s\S]*complete -o filenames -F _featherweight featherweight/);
    const fish = await runCli(['completion', 'fish']);
    assert.equal(fish.code, 1);
    assert.match(fish.stderr, /use bash or zsh/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
