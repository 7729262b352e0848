import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { SMTPServer } from 'smtp-server';
import { create, type SmtpSource } from '../dist/sources/smtp.js';

/**
 * Mails/s through the SMTP source (commit to the embedded queue before 250; a small mail's MIME is
 * parsed when it is delivered, decision 250, so the e2e bench is where parsing counts), each with one
 * 20-line attachment, sent by nodemailer with a pooled transport over several connections. The
 * client runs on a worker thread so that it does not share the server's event loop. Baseline in the
 * same run: the same client against a bare smtp-server that reads and discards each message.
 */

const require = createRequire(import.meta.url);
const quiet = { notify() {}, log: { info() {}, warn() {}, error() {} } };

// CommonJS worker: nodemailer by absolute path, so no loader is needed in the thread.
const clientSource = `
const { parentPort, workerData } = require('node:worker_threads');
const nodemailer = require(workerData.nodemailer);
const { port, n, connections } = workerData;
const tx = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, pool: true, maxConnections: connections, maxMessages: Infinity });
const attachment = Array.from({ length: 20 }, (_, i) => 'line ' + i + ': the quick brown fox jumps over the lazy dog').join('\\n');
let next = 0, failed = 0;
const t0 = performance.now();
const one = async () => {
  while (next < n) {
    const i = next++;
    try {
      await tx.sendMail({ from: 'bench@featherweight.test', to: 'inbox@featherweight.test', subject: 'bench ' + i, text: 'mail ' + i, attachments: [{ filename: 'lines.txt', content: attachment }] });
    } catch { failed++; }
  }
};
Promise.all(Array.from({ length: connections * 4 }, one)).then(() => {
  const s = (performance.now() - t0) / 1000;
  tx.close();
  parentPort.postMessage({ rate: n / s, failed });
});
`;

interface Result { rate: number; failed: number; serverMsPerMail: number }

/** Also measures the server's own cost: this thread's busy event-loop time per mail. */
export function sendAll(port: number, n: number, connections: number): Promise<Result> {
  const elu0 = performance.eventLoopUtilization();
  return new Promise((resolve, reject) => {
    const w = new Worker(clientSource, { eval: true, workerData: { port, n, connections, nodemailer: require.resolve('nodemailer') } });
    w.once('message', (m: { rate: number; failed: number }) => {
      const elu = performance.eventLoopUtilization(elu0);
      void w.terminate();
      resolve({ ...m, serverMsPerMail: elu.active / n });
    });
    w.once('error', reject);
  });
}

export async function bare(n: number, connections: number) {
  const srv = new SMTPServer({
    logger: false,
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, _s, cb) {
      stream.on('data', () => {});
      stream.on('end', () => cb());
    },
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.server.address() as { port: number }).port;
  try {
    return await sendAll(port, n, connections);
  } finally {
    await new Promise<void>((r) => srv.close(() => r()));
  }
}

async function throughSource(n: number, connections: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-bench-smtp-'));
  const src = create({ listen: '127.0.0.1:0' }, { component: 'bench', dataDir: dir, prefetch: 1 }) as SmtpSource;
  await src.start(quiet);
  try {
    const r = await sendAll(src.address().port, n, connections);
    const lag = (await src.lag()).lag;
    if (lag !== n - r.failed) throw new Error(`queue holds ${lag} events for ${n - r.failed} accepted mails`);
    return r;
  } finally {
    await src.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  const n = Number(process.env.FW_BENCH_MAILS ?? 3000);
  const connections = Number(process.env.FW_BENCH_CONNECTIONS ?? 8);
  await bare(200, connections); // warm-up
  await throughSource(200, connections);
  const base = await bare(n, connections);
  const fw = await throughSource(n, connections);
  const line = (name: string, r: Result, extra = '') =>
    console.log(
      `smtp: ${name.padEnd(44)} ${r.rate.toFixed(0).padStart(6)} mails/s${r.failed ? ` (${r.failed} failed)` : ''}  server thread ${r.serverMsPerMail.toFixed(2)} ms/mail${extra}`,
    );
  line(`bare smtp-server, discard (${connections} connections)`, base, '  baseline');
  line(`smtp source -> embedded queue (${connections} conns)`, fw, `  ${((fw.rate / base.rate) * 100).toFixed(0)}% of baseline, goal >= 1,000/s`);
  console.log(`smtp: ${n} mails, one 20-line attachment each; load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores`);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
