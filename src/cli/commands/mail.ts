import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { jsonHelp, printJson } from '../json.js';
import { createSmtpTransport, defaultFrom, defaultTo, parseRange, sendBurst, type SmtpOptions } from '../mail-burst.js';

interface SmtpFlags { server: string; user?: string; pass?: string; starttls?: boolean; insecure?: boolean }

function smtpFlags(cmd: Command): Command {
  return cmd
    .option('--server <host:port>', 'SMTP server (an smtp trigger)', '127.0.0.1:2525')
    .option('--user <user>', 'SMTP AUTH user (with --pass)')
    .option('--pass <password>', 'SMTP AUTH password (with --user)')
    .option('--starttls', 'require STARTTLS')
    .option('--insecure', 'accept a self-signed certificate with --starttls');
}

function smtpOptions(f: SmtpFlags): SmtpOptions {
  return { server: f.server, ...(f.user !== undefined ? { user: f.user } : {}), ...(f.pass !== undefined ? { pass: f.pass } : {}), starttls: !!f.starttls, insecure: !!f.insecure };
}

const collect = (v: string, prev: string[]) => [...prev, v];

function positiveNumber(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number >= 0, got ${JSON.stringify(v)}`);
    return n;
  };
}

const contentTypes: Record<string, string> = { '.txt': 'text/plain', '.log': 'text/plain', '.csv': 'text/csv', '.md': 'text/markdown', '.json': 'application/json' };

export function register(program: Command): void {
  const mail = program.command('mail').description('send mail to an smtp trigger: one message, or a generated burst');

  smtpFlags(mail.command('send')
    .description('send one mail, with optional attachments')
    .requiredOption('--to <address>', 'recipient')
    .option('--from <address>', 'sender', defaultFrom)
    .option('--subject <text>', 'subject', 'Hello from featherweight')
    .option('--text <text>', 'body text', 'You got mail!')
    .option('--attach <file>', 'attach a file (repeat for more)', collect, [] as string[])
    .option('--json', jsonHelp))
    .action(async (o: SmtpFlags & { to: string; from: string; subject: string; text: string; attach: string[]; json?: boolean }) => {
      const attachments = o.attach.map((file) => {
        let content: Buffer;
        try {
          content = readFileSync(file);
        } catch (err) {
          throw new Error(`cannot read attachment ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
        }
        const ext = path.extname(file).toLowerCase();
        return { filename: path.basename(file), content, contentType: contentTypes[ext] ?? 'application/octet-stream', contentTransferEncoding: 'base64' as const };
      });
      const transport = createSmtpTransport(smtpOptions(o));
      try {
        const info = await transport.sendMail({ from: o.from, to: o.to, subject: o.subject, text: o.text, attachments });
        const rejected = info.rejected.length;
        if (o.json) printJson({ server: o.server, messageId: info.messageId, response: info.response, accepted: info.accepted.map(String), rejected: info.rejected.map(String) });
        else console.log(`sent to ${o.server}: ${info.response}${rejected ? ` (${rejected} recipient(s) rejected)` : ''}`);
        if (rejected) process.exitCode = 1;
      } catch (err) {
        throw new Error(`mail refused by ${o.server}: ${(err as Error).message}`);
      } finally {
        transport.close();
      }
    });

  smtpFlags(mail.command('burst')
    .description('send N generated mails with text attachments of varied size and line count')
    .option('--count <n>', 'mails to send', positiveNumber('--count'), 100)
    .option('--rate <r>', 'mails per second (0 = as fast as possible)', positiveNumber('--rate'), 50)
    .option('--to <address>', 'recipient', defaultTo)
    .option('--from <address>', 'sender', defaultFrom)
    .option('--attachments-per-mail <k>', 'text attachments per mail: K or MIN-MAX', '1-3')
    .option('--lines <min-max>', 'lines per text attachment', '1-120')
    .option('--connections <n>', 'parallel SMTP connections', positiveNumber('--connections'), 4)
    .option('--seed <n>', 'seed of the generator (same seed, same mails)', positiveNumber('--seed'), 1)
    .option('--json', `${jsonHelp} (the summary only, no progress lines)`))
    .action(async (o: SmtpFlags & { count: number; rate: number; to: string; from: string; attachmentsPerMail: string; lines: string; connections: number; seed: number; json?: boolean }) => {
      if (!Number.isInteger(o.count)) throw new Error(`--count must be a whole number, got ${o.count}`);
      const attachmentsPerMail = parseRange(o.attachmentsPerMail, '--attachments-per-mail');
      const lines = parseRange(o.lines, '--lines', 1);
      const tty = process.stdout.isTTY;
      let lastPrint = 0;
      const r = await sendBurst(
        { ...smtpOptions(o), count: o.count, rate: o.rate, to: o.to, from: o.from, attachmentsPerMail, lines, connections: Math.max(1, Math.floor(o.connections)), seed: o.seed },
        (p) => {
          if (o.json) return;
          const now = performance.now();
          if (now - lastPrint < (tty ? 100 : 1000) && p.sent + p.failed < o.count) return;
          lastPrint = now;
          const rate = p.elapsedMs > 0 ? (p.sent * 1000) / p.elapsedMs : 0;
          const line = `sent ${p.sent}/${o.count}  failed ${p.failed}  ${rate.toFixed(1)} mails/s  rows expected ${p.expectedRows}`;
          if (tty) process.stdout.write(`\r${line}\x1b[K`);
          else console.log(line);
        },
      );
      if (o.json) {
        const { failures, ...summary } = r;
        printJson({ server: o.server, ...summary, failures: failures.map((f) => ({ mail: f.index + 1, error: f.error })) });
        if (r.failed > 0) process.exitCode = 1;
        return;
      }
      if (tty) process.stdout.write('\n');
      console.log(`done: ${r.sent} sent, ${r.failed} failed in ${(r.elapsedMs / 1000).toFixed(2)} s (${r.sentPerSecond.toFixed(1)} mails/s); the accepted mails should yield ${r.expectedRows} rows`);
      for (const f of r.failures.slice(0, 5)) console.error(`mail ${f.index + 1} refused: ${f.error}`);
      if (r.failures.length > 5) console.error(`... and ${r.failures.length - 5} more refused`);
      if (r.failed > 0) process.exitCode = 1;
    });
}
