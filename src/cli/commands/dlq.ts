import type { Command } from 'commander';
import { openDeadLetters, type DeadLetter } from '../../sources/dead-letters.js';
import { openQueue } from '../../sources/embedded/index.js';
import { embeddedQueueTypes, sources } from '../../sources/index.js';
import type { AppManifest } from '../../app/manifest.js';
import { publicDeadLetter } from '../../server/http-util.js';
import { existingStateFile, resolveState, stateOptionHelp, type StateFlags } from '../state.js';
import { formatAge, formatTable } from './queue.js';
import { jsonHelp, printJson } from '../json.js';

const quietCtx = { notify() {}, log: { info() {}, warn() {}, error() {} } };

const STORE = 'dead-letters.db';

function stateOptions(cmd: Command): Command {
  return cmd.option('--data-dir <dir>', stateOptionHelp.dataDir).option('-f, --file <manifest>', stateOptionHelp.file);
}

/**
 * Puts a dead letter's event back on its component's source as a fresh event (attempt 1, same id).
 * With the manifest, any source type works (its publish() reaches the broker); without one, the
 * embedded-queue-backed types still can, since their queue lives in the data dir.
 */
async function retry(entry: DeadLetter, dataDir: string, manifest: AppManifest | null): Promise<{ text: string; via: string; to: string }> {
  const { attempt: _a, enqueuedAt: _e, ...event } = entry.event;
  const spec = manifest?.components.find((c) => c.name === entry.component);
  if (spec) {
    const src = sources[spec.trigger.type]?.create(spec.trigger.metadata, { component: spec.name, dataDir, prefetch: 1 });
    if (!src) throw new Error(`component ${spec.name} has trigger type ${spec.trigger.type}, which this build does not know`);
    await src.start(quietCtx);
    try {
      await src.publish(event);
    } finally {
      await src.close();
    }
    return { text: `${spec.trigger.type} source of ${spec.name}`, via: spec.trigger.type, to: spec.name };
  }
  if (!(embeddedQueueTypes as readonly string[]).includes(event.source)) {
    throw new Error(
      `dead letter ${entry.id} came from a ${event.source} source: retrying it needs the app manifest (-f featherweight.yaml) naming component ${entry.component}`,
    );
  }
  // embedded, http and cron events carry their queue name as subject; an smtp event's subject is its
  // recipient, and its queue is the component's name unless the manifest said otherwise.
  const queue = event.source === 'smtp' ? entry.component : event.subject;
  const q = openQueue(dataDir);
  try {
    q.send(queue, { ...event, attempt: 1 });
  } finally {
    q.close();
  }
  return { text: `embedded queue ${queue}`, via: 'embedded', to: queue };
}

export function register(program: Command): void {
  const dlq = program.command('dlq').description('the dead-letter store (<data-dir>/dead-letters.db)');

  stateOptions(dlq
    .command('list')
    .description('events that failed maxAttempts times, newest first, with the reason')
    .option('-c, --component <name>', 'only this component')
    .option('--limit <n>', 'at most n entries', '100')
    .option('--json', `${jsonHelp} (an array; bodies base64)`))
    .action((o: StateFlags & { component?: string; limit: string; json?: boolean }) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new Error(`--limit ${o.limit}: use a positive whole number`);
      const { dataDir } = resolveState(o);
      let entries: DeadLetter[] = [];
      if (existingStateFile(dataDir, STORE)) {
        const store = openDeadLetters(dataDir);
        try {
          entries = store.list({ ...(o.component !== undefined ? { component: o.component } : {}), limit });
        } finally {
          store.close();
        }
      }
      if (o.json) {
        printJson(entries.map(publicDeadLetter));
        return;
      }
      if (entries.length === 0) {
        console.log(`no dead letters in ${dataDir}`);
        return;
      }
      const now = Date.now();
      console.log(
        formatTable(
          ['ID', 'COMPONENT', 'EVENT', 'ATTEMPTS', 'AGE', 'REASON'],
          entries.map((d) => [d.id, d.component, d.event.id, String(d.event.attempt), formatAge(now - d.createdAt), d.reason.replace(/\s+/g, ' ').slice(0, 100)]),
        ),
      );
    });

  stateOptions(dlq
    .command('retry')
    .description("put a dead letter's event back on its component's source (fresh attempts, same id) and remove it")
    .argument('<id>', 'dead letter id (see dlq list)')
    .option('--json', jsonHelp))
    .action(async (id: string, o: StateFlags & { json?: boolean }) => {
      const { dataDir, manifest } = resolveState(o);
      if (!existingStateFile(dataDir, STORE)) throw new Error(`no dead letter with id ${id} in ${dataDir} (no ${STORE} there)`);
      const store = openDeadLetters(dataDir);
      try {
        const entry = store.get(id);
        if (!entry) throw new Error(`no dead letter with id ${id} in ${dataDir} (see featherweight dlq list)`);
        const where = await retry(entry, dataDir, manifest);
        store.remove(id);
        if (o.json) printJson({ id, retried: true, component: entry.component, event: entry.event.id, to: where.to, via: where.via });
        else console.log(`retried ${id}: event ${entry.event.id} is back on the ${where.text}`);
      } finally {
        store.close();
      }
    });

  stateOptions(dlq
    .command('drop')
    .description('delete a dead letter for good')
    .argument('<id>', 'dead letter id (see dlq list)')
    .option('--json', jsonHelp))
    .action((id: string, o: StateFlags & { json?: boolean }) => {
      const { dataDir } = resolveState(o);
      if (!existingStateFile(dataDir, STORE)) throw new Error(`no dead letter with id ${id} in ${dataDir} (no ${STORE} there)`);
      const store = openDeadLetters(dataDir);
      try {
        if (!store.remove(id)) throw new Error(`no dead letter with id ${id} in ${dataDir} (see featherweight dlq list)`);
        if (o.json) printJson({ id, dropped: true });
        else console.log(`dropped ${id}`);
      } finally {
        store.close();
      }
    });
}
