import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { SMTPServer } from 'smtp-server';
import { create, type SmtpSource } from '../dist/sources/smtp.js';

/**
 * Peak and idle RSS of this process while 24 clients send one ~25.8 MB mail each at once (an 18 MiB
 * text attachment, the size the issue reported at 1.95 GB peak and 529 MB held idle). The clients run
 * in a child process, so only the server's memory is measured. Baseline in the same run: a bare
 * smtp-server that reads and discards each message (what any SMTP server costs for the same traffic).
 */

const require = createRequire(import.meta.url);
const quiet = { notify() {}, log: { info() {}, warn() {}, error() {} } };
const parallel = 24;

const clientSource = `
const nodemailer = require(process.env.NODEMAILER);
const port = Number(process.env.PORT), n = Number(process.env.N);
const line = 'the quick brown fox jumps over the lazy dog, 0123456789 ABCDEFGHIJ\\n';
const content = Buffer.from(line.repeat(Math.ceil(18 * 1024 * 1024 / line.length)));
const one = async (i) => {
  const tx = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  try { await tx.sendMail({ from: 'bench@featherweight.test', to: 'inbox@featherweight.test', subject: 'big ' + i, attachments: [{ filename: 'big.txt', content }] }); return 0; }
  catch (e) { return 1; } finally { tx.close(); }
};
Promise.all(Array.from({ length: n }, (_, i) => one(i))).then((r) => process.send({ failed: r.reduce((a, b) => a + b, 0) }));
`;

async function send(port: number): Promise<number> {
  const file = path.join(os.tmpdir(), `fw-bench-smtp-client-${process.pid}.cjs`);
  fs.writeFileSync(file, clientSource);
  try {
    return await new Promise((resolve, reject) => {
      const child = fork(file, [], { env: { ...process.env, NODEMAILER: require.resolve('nodemailer'), PORT: String(port), N: String(parallel) }, stdio: 'ignore' });
      child.once('message', (m: { failed: number }) => {
        child.kill();
        resolve(m.failed);
      });
      child.once('error', reject);
    });
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** Runs `f` while sampling RSS every 10 ms; returns the peak and the RSS 2 s after it ended (GC'd when exposed). */
async function measure(f: () => Promise<number>): Promise<{ peakMiB: number; idleMiB: number; failed: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const failed = await f();
  clearInterval(timer);
  await new Promise((r) => setTimeout(r, 2000));
  (globalThis as { gc?: () => void }).gc?.();
  return { peakMiB: peak / 2 ** 20, idleMiB: process.memoryUsage().rss / 2 ** 20, failed };
}

export async function run(): Promise<void> {
  const before = process.memoryUsage().rss / 2 ** 20;
  const bareServer = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    size: 25 * 1024 * 1024,
    onData(stream, _s, cb) {
      stream.on('data', () => undefined);
      stream.on('end', () => cb(null));
    },
  });
  await new Promise<void>((r) => bareServer.listen(0, '127.0.0.1', () => r()));
  const barePort = (bareServer.server.address() as { port: number }).port;
  const bare = await measure(() => send(barePort));
  await new Promise<void>((r) => bareServer.close(() => r()));

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-bench-smtp-mem-'));
  const src = create({ listen: '127.0.0.1:0' }, { component: 'bench', dataDir: dir, prefetch: 1000, maxEventBytes: 25 * 1024 * 1024 }) as SmtpSource;
  await src.start(quiet);
  const ours = await measure(() => send(src.address().port));
  const lag = (await src.lag()).lag;
  await src.close();
  fs.rmSync(dir, { recursive: true, force: true });

  console.log(`${parallel} parallel mails of ~25.8 MB (18 MiB text attachment, ~25.2 MB event body); RSS of the server process, ${before.toFixed(0)} MiB before`);
  console.log(`  bare smtp-server (discards): peak ${bare.peakMiB.toFixed(0)} MiB, idle ${bare.idleMiB.toFixed(0)} MiB, failed ${bare.failed}`);
  console.log(`  featherweight smtp source:   peak ${ours.peakMiB.toFixed(0)} MiB, idle ${ours.idleMiB.toFixed(0)} MiB, failed ${ours.failed}, queued ${lag}`);
  console.log(`  peak ratio (ours / bare): ${(ours.peakMiB / bare.peakMiB).toFixed(2)}x; peak above the bare server: ${(ours.peakMiB - bare.peakMiB).toFixed(0)} MiB`);
}
