import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { jsonHelp, printJson } from '../json.js';
import { envAuth, parseRef, pull, push, type OciAuth } from '../../oci/oci.js';

interface AuthFlags { insecure?: boolean; username?: string; passwordStdin?: boolean }

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Passwords come from stdin (never argv, which other users can read in ps) or the environment. */
async function authFrom(flags: AuthFlags): Promise<OciAuth | undefined> {
  if (flags.passwordStdin && !flags.username) throw new Error('--password-stdin needs --username');
  if (flags.username) {
    const password = flags.passwordStdin ? await readStdin() : process.env.FEATHERWEIGHT_OCI_PASSWORD;
    if (password === undefined) throw new Error(`no password for ${flags.username}: pipe it into --password-stdin or set FEATHERWEIGHT_OCI_PASSWORD`);
    return { username: flags.username, password };
  }
  return envAuth();
}

function authOptions(cmd: Command): Command {
  return cmd
    .option('--insecure', 'allow plain http to a registry that is not on loopback')
    .option('-u, --username <user>', 'registry user (password from --password-stdin or FEATHERWEIGHT_OCI_PASSWORD)')
    .option('--password-stdin', 'read the registry password or token from stdin');
}

export function register(program: Command): void {
  const oci = program.command('oci').description('push and pull wasm modules as OCI artifacts (application/wasm)');

  authOptions(oci.command('push')
    .description('push a .wasm module to <registry>/<repo>:<tag>')
    .argument('<module>', 'the .wasm file')
    .argument('<ref>', 'e.g. 127.0.0.1:5000/mail-lines:v1')
    .option('--json', jsonHelp))
    .action(async (file: string, refText: string, flags: AuthFlags & { json?: boolean }) => {
      parseRef(refText);
      const auth = await authFrom(flags);
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(file);
      } catch (err) {
        throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      const r = await push(bytes, refText, { auth, insecure: flags.insecure });
      const pinned = `${r.ref.replace(/:[^/:]+$/, '')}@${r.digest}`;
      if (flags.json) {
        printJson({ ref: r.ref, digest: r.digest, totalBytes: r.totalBytes, layer: r.layer, config: r.config, manifest: r.manifest, module: `oci://${pinned}` });
        return;
      }
      console.log(`pushed ${r.ref}\ndigest ${r.digest}\nsize   ${r.totalBytes} bytes (layer ${r.layer.size}, config ${r.config.size}, manifest ${r.manifest.size})\nuse    module: oci://${pinned}`);
    });

  authOptions(oci.command('pull')
    .description('pull a wasm module; every byte is checked against its digest')
    .argument('<ref>', 'e.g. 127.0.0.1:5000/mail-lines:v1 or ...@sha256:<hex>')
    .option('-o, --output <file>', 'where to write the module ("-" for stdout; default <repo name>.wasm)')
    .option('--json', jsonHelp))
    .action(async (refText: string, flags: AuthFlags & { output?: string; json?: boolean }) => {
      const ref = parseRef(refText);
      if (flags.json && flags.output === '-') throw new Error('--json and -o - both want stdout: write the module to a file with -o FILE');
      const auth = await authFrom(flags);
      const r = await pull(refText, { auth, insecure: flags.insecure });
      const out = flags.output ?? `${path.basename(ref.repository)}.wasm`;
      if (out === '-') {
        process.stdout.write(r.bytes);
        return;
      }
      fs.writeFileSync(out, r.bytes);
      if (flags.json) {
        printJson({ ref: refText, digest: r.digest, manifestDigest: r.manifestDigest, output: path.resolve(out), bytes: r.bytes.length });
        return;
      }
      console.log(`pulled ${refText}\ndigest ${r.digest} (manifest ${r.manifestDigest})\nwrote  ${out} (${r.bytes.length} bytes)`);
    });
}
