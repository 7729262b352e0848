import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { createLogger, loadManifest, startApp, startServer, type ComponentSpec, type ComponentState, type RunningApp, type RunningServer } from '../../index.js';
import type { SmtpSource } from '../../sources/smtp.js';
import { sendBurst, defaultTo, type BurstProgress } from '../mail-burst.js';
import { waitForSignal } from './up.js';
import { cliCommand } from '../invocation.js';
import { logLevelOption } from '../log-level.js';
import { printJson } from '../json.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Same depth from src/cli/commands and dist/cli/commands. */
export const demoManifest = path.resolve(here, '../../../examples/you-got-mail/featherweight.yaml');

interface DemoOptions { json?: boolean; once?: boolean; count: string; rate: string; listen?: string; smtp?: string; keep?: boolean; seed: string; dataDir?: string }

export function register(program: Command): void {
  logLevelOption(program
    .command('demo')
    .description('"You got Mail!": start the mail app, send a burst of mails over SMTP, watch replicas rise from zero and fall back')
    .option('--once', 'exit after the summary (non-zero if any mail was lost or dead-lettered)')
    .option('--count <n>', 'mails in the burst', '474')
    .option('--rate <r>', 'mails per second (0 = as fast as SMTP takes them)', '0')
    .option('--seed <n>', 'seed of the generated mails', '1')
    .option('--listen <host:port>', 'dashboard and API address', undefined)
    .option('--smtp <host:port>', 'SMTP trigger address', undefined)
    .option('--data-dir <dir>', 'state directory (default: .featherweight/you-got-mail)')
    .option('--keep', 'keep the rows of earlier runs (default: start from an empty data dir)')
    .option('--json', 'print the summary as one JSON document on stdout (the progress and hints go to stderr)'), 'warn')
    .action(async (o: DemoOptions) => {
      process.exitCode = await runDemo(o);
    });
}

async function runDemo(o: DemoOptions): Promise<number> {
  const count = wholeNumber(o.count, '--count');
  const rate = Number(o.rate);
  if (!(rate >= 0)) throw new Error(`--rate must be a number >= 0, got ${JSON.stringify(o.rate)}`);
  const manifest = loadManifest(demoManifest);
  const spec = manifest.components[0]!;
  if (o.smtp) spec.trigger.metadata.listen = o.smtp;
  if (o.dataDir) manifest.dataDir = path.resolve(o.dataDir);
  if (!o.keep) rmSync(manifest.dataDir, { recursive: true, force: true });

  // Logs go to a file-less quiet logger: the terminal shows the progress bar and the summary.
  const log = createLogger({ level: process.env.FEATHERWEIGHT_LOG_LEVEL ?? 'warn', pretty: false, destination: process.stderr });
  const app = await startApp(manifest, { log });
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    server = await startServer(app, { listen: o.listen ?? manifest.server.listen, log });
    return await demoRun(app, server, spec, count, rate, o);
  } finally {
    await server?.close();
    await app.close();
  }
}

async function demoRun(app: RunningApp, server: RunningServer, spec: ComponentSpec, count: number, rate: number, o: DemoOptions): Promise<number> {
  const component = app.components.get(spec.name)!;
  const bound = (component.source as Partial<SmtpSource>).address?.();
  const smtpAddress = bound ? `${bound.host}:${bound.port}` : (spec.trigger.metadata.listen ?? '127.0.0.1:2525');
  // With --json stdout carries only the summary document.
  const out = o.json ? process.stderr : process.stdout;
  out.write(`\n  You got Mail!  dashboard: ${server.url}/\n`);
  out.write(`  sending ${count} mails to ${defaultTo} over SMTP at ${smtpAddress}${rate > 0 ? ` (${rate}/s)` : ''}\n\n`);

  // Every timing in the summary counts from this one instant, the start of the burst.
  const started = Date.now();
  const progress = createProgress(out, count, started);
  let burst: BurstProgress = { sent: 0, failed: 0, expectedRows: 0, elapsedMs: 0 };
  const timer = setInterval(() => progress.draw(burst, component.state()), 100);
  timer.unref();
  const seed = wholeNumber(o.seed, '--seed');
  const shape = { connections: 8, lines: { min: 20, max: 600 } };
  const result = await sendBurst({ count, rate, server: smtpAddress, to: defaultTo, seed, ...shape }, (p) => {
    burst = p;
  });
  const sentAt = Date.now();
  burst = result;

  // Done when every accepted mail is settled (committed or dead-lettered) and replicas are back at 0.
  const cooldownMs = (component.scaling.cooldownPeriod + 30) * 1000;
  const deadline = Date.now() + 120_000 + cooldownMs;
  let settledAt: number | undefined;
  for (;;) {
    const s = component.state();
    const settled = s.counters.processed + s.counters.deadLettered >= result.sent && s.inFlight === 0;
    if (settled && settledAt === undefined) settledAt = Date.now();
    if ((settled && s.replicas.current === 0) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  clearInterval(timer);
  const final = component.state();
  progress.draw(burst, final);
  progress.end();

  const rowsInSink = (await component.sink.rows!({ limit: 1, offset: 0 })).total;
  const summary = {
    mails: `${result.sent} accepted${result.failed ? `, ${result.failed} refused` : ''} of ${count}`,
    rows: `${rowsInSink} in SQLite (expected ${result.expectedRows})`,
    'latency p50 / p99': `${fmtMs(final.latencyMs.p50)} / ${fmtMs(final.latencyMs.p99)} (mail accepted -> rows committed)`,
    'peak replicas': `${final.counters.peakReplicas} of ${component.scaling.maxReplicaCount}`,
    'thread waits': String(final.counters.coldStarts),
    'timings from': 'the start of the burst',
    'first row after': final.counters.firstRowAt ? fmtMs(Math.max(0, final.counters.firstRowAt - started)) : 'n/a',
    'burst sent after': `${fmtMs(sentAt - started)} (${result.sentPerSecond.toFixed(0)} mails/s)`,
    'all rows after': settledAt ? fmtMs(settledAt - started) : 'not all settled',
    'back to 0 replicas': final.replicas.current === 0 ? 'yes' : `no (${final.replicas.current})`,
    'dead letters': String(final.counters.deadLettered),
  };
  const lost = rowsInSink !== result.expectedRows || result.failed > 0 || final.counters.deadLettered > 0;
  if (o.json) {
    printJson({
      mails: { count, accepted: result.sent, refused: result.failed },
      rows: { inSink: rowsInSink, expected: result.expectedRows },
      latencyMs: { p50: final.latencyMs.p50, p99: final.latencyMs.p99 },
      replicas: { peak: final.counters.peakReplicas, max: component.scaling.maxReplicaCount, backToZero: final.replicas.current === 0 },
      threadWaits: final.counters.coldStarts,
      // every timing counts from the start of the burst
      firstRowAfterMs: final.counters.firstRowAt ? Math.max(0, final.counters.firstRowAt - started) : null,
      burstSentAfterMs: sentAt - started,
      mailsPerSecond: result.sentPerSecond,
      allRowsAfterMs: settledAt ? settledAt - started : null,
      deadLetters: final.counters.deadLettered,
      lost,
      dashboard: `${server.url}/`,
    });
  } else printTable(out, summary);
  if (lost) out.write(`\n  Some mails were refused, lost or dead-lettered: see \`${cliCommand()} dlq list\` and the log.\n`);

  if (!o.once) {
    // the same burst again (fresh mails from the next seed), so the replicas rise as they just did
    const again = `${cliCommand()} mail burst --server ${smtpAddress} --count ${count} --rate ${rate} --connections ${shape.connections} --lines ${shape.lines.min}-${shape.lines.max} --seed ${seed + 1}`;
    out.write(`\n  Dashboard: ${server.url}/  (Ctrl-C to stop)\n  Send the burst again: ${again}\n`);
    await waitForSignal();
  }
  return lost ? 1 : 0;
}

function wholeNumber(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number >= 0, got ${JSON.stringify(v)}`);
  return n;
}

function fmtMs(ms: number): string {
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/**
 * A one-line progress bar toward the mails of the burst (settled = committed or dead-lettered), with
 * a percentage and an ETA from the rate so far; a line per second when not on a terminal (CI logs).
 */
function createProgress(out: NodeJS.WriteStream, count: number, started: number) {
  const tty = Boolean(out.isTTY);
  let lastPrint = 0;
  let lastLine = '';
  return {
    draw(b: BurstProgress, s: ComponentState) {
      // refused mails never reach the handler: they leave the target
      const target = Math.max(1, count - b.failed);
      const done = s.counters.processed + s.counters.deadLettered;
      const fraction = Math.min(1, done / target);
      const width = 24;
      const filled = Math.round(fraction * width);
      const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
      const elapsed = Date.now() - started;
      const eta = fraction >= 1 ? 'done' : done > 0 ? `ETA ${fmtMs(((target - done) * elapsed) / done)}` : 'ETA –';
      const pct = `${Math.floor(fraction * 100)}%`.padStart(4);
      const line = `  ${bar} ${pct}  ${eta}  sent ${b.sent}/${count}  processed ${done}  rows ${s.counters.records}  lag ${s.lag}  replicas ${s.replicas.current}/${s.replicas.desired}`;
      if (tty) out.write(`\r\x1b[2K${line}`);
      else if (Date.now() - lastPrint >= 1000 && line !== lastLine) {
        out.write(`${line}\n`);
        lastPrint = Date.now();
        lastLine = line;
      }
    },
    end() {
      if (tty) out.write('\n');
    },
  };
}

function printTable(out: NodeJS.WriteStream, rows: Record<string, string>) {
  const w = Math.max(...Object.keys(rows).map((k) => k.length));
  out.write('\n');
  for (const [k, v] of Object.entries(rows)) out.write(`  ${k.padEnd(w)}  ${v}\n`);
}

