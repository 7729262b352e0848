// Every shell block in README.md and docs/*.md runs as printed, and every full manifest (a yaml block
// with `kind: App`) validates. A block that cannot run here (a cluster, docker, a registry, a
// long-running process) says so right above it: <!-- not-run: why -->.
//
// The blocks run in order, README first, with bash -e in a sandbox folder that links the checkout's
// files (outputs such as `> mail.yaml` land in the sandbox), against the built CLI (dist/) as a
// user runs it. `npm link` runs for real, into a private npm prefix whose bin/ is on PATH, so the
// README's one extra step is what puts `featherweight` on PATH for every later block.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers/cli.js';

export interface DocBlock { file: string; line: number; lang: string; text: string; notRun: string | null }

const fence = /^```(\w*)\n([\s\S]*?)^```/gm;
const notRunMarker = /<!--\s*not-run:\s*(.*?)\s*-->\s*$/;

/** The fenced blocks of a markdown text, with the not-run reason written on the line above, if any. */
export function docBlocks(file: string, text: string): DocBlock[] {
  const out: DocBlock[] = [];
  for (const m of text.matchAll(fence)) {
    const head = text.slice(0, m.index);
    const above = head.trimEnd().split('\n');
    const marker = notRunMarker.exec(above[above.length - 1] ?? '');
    out.push({ file, line: head.split('\n').length, lang: m[1]!, text: m[2]!, notRun: marker ? marker[1]! : null });
  }
  return out;
}

const docFiles = ['README.md', ...fs.readdirSync(path.join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const all = docFiles.flatMap((f) => docBlocks(f, fs.readFileSync(path.join(repoRoot, f), 'utf8')));
const shell = all.filter((b) => ['sh', 'bash', 'shell'].includes(b.lang));
const manifests = all.filter((b) => b.lang === 'yaml' && /^kind: App\b/m.test(b.text));

test('docBlocks reads fences and the not-run marker above one', () => {
  const md = 'text\n\n<!-- not-run: needs a cluster -->\n```sh\nkubectl get pods\n```\n\n```yaml\nkind: App\n```\n';
  assert.deepEqual(docBlocks('x.md', md), [
    { file: 'x.md', line: 4, lang: 'sh', text: 'kubectl get pods\n', notRun: 'needs a cluster' },
    { file: 'x.md', line: 8, lang: 'yaml', text: 'kind: App\n', notRun: null },
  ]);
});

test('every shell block is marked not-run only with a reason, and a cluster tool only in a marked one', () => {
  assert.ok(shell.length >= 10, `found ${shell.length} shell blocks`);
  for (const b of shell) {
    if (b.notRun !== null) assert.ok(b.notRun.length > 3, `${b.file}:${b.line}: give the reason`);
    else assert.doesNotMatch(b.text, /^\s*(kubectl|kind|k3d|helm|docker)\b/m, `${b.file}:${b.line} needs a cluster: mark it <!-- not-run: ... -->`);
  }
});

/** A folder that looks like the checkout: its entries linked, examples/ copied so outputs there stay here. */
function sandbox(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-docs-'));
  for (const name of fs.readdirSync(repoRoot)) {
    if (name === '.git' || name === '.featherweight') continue;
    if (name === 'examples') fs.cpSync(path.join(repoRoot, name), path.join(dir, name), { recursive: true, filter: (p) => !p.includes(`${path.sep}node_modules`) });
    else fs.symlinkSync(path.join(repoRoot, name), path.join(dir, name));
  }
  return dir;
}

const built = fs.existsSync(path.join(repoRoot, 'dist/cli/bin.js'));

test('every shell block in README.md and docs/ runs as printed', { timeout: 900_000 }, async (t) => {
  if (!built) {
    if (process.env.CI) throw new Error('dist/ is not built (CI is set, so this fails instead of skipping)');
    t.skip('dist/ is not built: npm run build');
    return;
  }
  const dir = sandbox();
  const prefix = path.join(dir, '.npm-prefix');
  // Under `npm test`, npm exports its own config as npm_config_* (npm_config_prefix=/usr among them),
  // which beats NPM_CONFIG_PREFIX: left in, `npm link` would link into the machine's global prefix.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_config_')));
  const env = {
    ...inherited,
    PATH: `${path.join(prefix, 'bin')}${path.delimiter}${process.env.PATH}`,
    NPM_CONFIG_PREFIX: prefix,
    // `npm link` would run prepare (a full rebuild of the shared dist/); the build is done already.
    NPM_CONFIG_IGNORE_SCRIPTS: 'true',
    NPM_CONFIG_AUDIT: 'false',
    NPM_CONFIG_FUND: 'false',
  };
  try {
    const ran: string[] = [];
    for (const b of shell) {
      if (b.notRun !== null) continue;
      const r = spawnSync('bash', ['-eo', 'pipefail', '-c', b.text], { cwd: dir, env, encoding: 'utf8', timeout: 300_000 });
      assert.equal(r.status, 0, `${b.file}:${b.line} failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ''}):\n${b.text}\n--- stderr:\n${r.stderr}\n--- stdout:\n${r.stdout.slice(0, 2000)}`);
      ran.push(`${b.file}:${b.line}`);
    }
    assert.ok(ran.some((r) => r.startsWith('docs/kubernetes.md')), `ran: ${ran.join(', ')}`);
    // What they printed to files is what the docs say it is.
    assert.match(fs.readFileSync(path.join(dir, 'mail.yaml'), 'utf8'), /kind: ScaledObject/);
    assert.match(fs.readFileSync(path.join(dir, 'wasm.yaml'), 'utf8'), /kind: RuntimeClass[\s\S]*runtimeClassName: wasmtime/);
    assert.equal(fs.realpathSync(path.join(prefix, 'bin/featherweight')), fs.realpathSync(path.join(repoRoot, 'bin/featherweight.js')));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('every full manifest in README.md and docs/ validates', { timeout: 600_000 }, async (t) => {
  if (!built) {
    if (process.env.CI) throw new Error('dist/ is not built (CI is set, so this fails instead of skipping)');
    t.skip('dist/ is not built: npm run build');
    return;
  }
  assert.ok(manifests.length >= 2, `found ${manifests.length} manifests`);
  const dir = sandbox();
  try {
    for (const b of manifests) {
      if (b.notRun !== null) continue;
      const file = path.join(dir, 'featherweight.yaml');
      fs.writeFileSync(file, b.text);
      // Host variables a manifest passes through (grants.env) are set, as on a machine that runs it.
      const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin/featherweight.js'), 'validate'], {
        cwd: dir,
        env: { ...process.env, LANG: process.env.LANG ?? 'C.UTF-8' },
        encoding: 'utf8',
        timeout: 120_000,
      });
      assert.equal(r.status, 0, `${b.file}:${b.line} does not validate:\n${r.stderr}`);
      assert.match(r.stdout, /valid \(app /);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
