import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { openQueue, type QueueStats } from '../../sources/embedded/index.js';
import type { AppManifest } from '../../app/manifest.js';
import { triggerPlugin } from '../../sources/index.js';
import { existingStateFile, resolveState, stateOptionHelp, type StateFlags } from '../state.js';
import { jsonHelp, printJson } from '../json.js';

/** The queues in queue.db a manifest's components read (queue-backed triggers): each one's metadata.queue, else its name. */
function manifestQueues(manifest: AppManifest | null): string[] {
  return (manifest?.components ?? []).filter((c) => triggerPlugin(c.trigger.type)?.queued).map((c) => c.trigger.metadata.queue ?? c.name);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `K=V` pairs -> headers; a pair without = is a mistake worth naming. */
export function parseHeaders(pairs: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new Error(`--header ${JSON.stringify(p)}: use NAME=VALUE`);
    headers[p.slice(0, i)] = p.slice(i + 1);
  }
  return headers;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export function formatAge(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 1000) return `${ms}ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)}m`;
  return `${(ms / 3_600_000).toFixed(1)}h`;
}

export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export function register(program: Command): void {
  const queue = program.command('queue').description('the embedded queue (<data-dir>/queue.db)');

  queue
    .command('send')
    .description('put one event on an embedded queue and print its id (body from --body, --file or stdin)')
    .option('--data-dir <dir>', stateOptionHelp.dataDir)
    .option('-f, --manifest <file>', stateOptionHelp.file)
    .option('-q, --queue <name>', "queue name (default: the only queue in the data dir, or the manifest's only embedded component)")
    .option('-H, --header <name=value>', 'event header (repeatable)', collect, [] as string[])
    .option('--file <path>', 'read the body from a file')
    .option('--body <string>', 'the body as a string')
    .option('--id <id>', 'event id (default: a new unique id)')
    .option('--json', jsonHelp)
    .action(async (o: { dataDir?: string; manifest?: string; queue?: string; header: string[]; file?: string; body?: string; id?: string; json?: boolean }) => {
      const { dataDir, manifest } = resolveState({ ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}), ...(o.manifest !== undefined ? { file: o.manifest } : {}) });
      if (o.file !== undefined && o.body !== undefined) throw new Error('give the body with --file or --body, not both');
      const headers = parseHeaders(o.header);
      let body: Buffer;
      if (o.body !== undefined) body = Buffer.from(o.body);
      else if (o.file !== undefined) {
        try {
          body = readFileSync(o.file);
        } catch (err) {
          throw new Error(`cannot read --file ${o.file}: ${(err as Error).message}`);
        }
      } else if (!process.stdin.isTTY) body = await readStdin();
      else throw new Error('no body: give --body STRING, --file PATH, or pipe it on stdin');
      let name = o.queue;
      if (name === undefined) {
        const inStore = existingStateFile(dataDir, 'queue.db') ? openQueue(dataDir) : null;
        let known: string[];
        try {
          known = [...new Set([...(inStore?.queues() ?? []), ...manifestQueues(manifest)])];
        } finally {
          inStore?.close();
        }
        if (known.length !== 1) {
          throw new Error(
            known.length === 0
              ? `no queue in ${dataDir} yet: name one with --queue (an embedded component's queue is its name)`
              : `several queues in ${dataDir} (${known.join(', ')}): pick one with --queue`,
          );
        }
        name = known[0]!;
      }
      const q = openQueue(dataDir);
      try {
        const id = q.send(name, { body, headers, ...(o.id !== undefined ? { id: o.id } : {}) });
        if (o.json) printJson({ id, queue: name, dataDir: path.resolve(dataDir), bytes: body.byteLength });
        else console.log(id);
      } finally {
        q.close();
      }
    });

  queue
    .command('stats')
    .description('per queue: ready, delayed (nacked, waiting to retry), in flight (leased), age of the oldest event')
    .option('--data-dir <dir>', stateOptionHelp.dataDir)
    .option('-f, --file <manifest>', stateOptionHelp.file)
    .option('--json', `${jsonHelp} (an array, one entry per queue)`)
    .action((o: StateFlags & { json?: boolean }) => {
      const { dataDir } = resolveState(o);
      let stats: QueueStats[] = [];
      if (existingStateFile(dataDir, 'queue.db')) {
        const q = openQueue(dataDir);
        try {
          stats = q.stats();
        } finally {
          q.close();
        }
      }
      if (o.json) {
        printJson(stats);
        return;
      }
      if (stats.length === 0) {
        console.log(`no queues in ${dataDir}`);
        return;
      }
      console.log(
        formatTable(
          ['QUEUE', 'READY', 'DELAYED', 'IN-FLIGHT', 'OLDEST'],
          stats.map((s) => [s.queue, String(s.ready), String(s.delayed), String(s.inFlight), formatAge(s.oldestAgeMs)]),
        ),
      );
    });
}
