import nodemailer from 'nodemailer';
import { buildEventBody } from './dist/sources/smtp-mime.js';
const tx = nodemailer.createTransport({ streamTransport: true, buffer: true });
const attachment = Array.from({ length: 20 }, (_, i) => 'line ' + i + ': the quick brown fox jumps over the lazy dog').join('\n');
const { message } = await tx.sendMail({ from: 'bench@featherweight.test', to: 'inbox@featherweight.test', subject: 'bench 1', text: 'mail 1', attachments: [{ filename: 'lines.txt', content: attachment }] });
const env = { mailFrom: 'bench@featherweight.test', rcptTo: ['inbox@featherweight.test'] };
const N = Number(process.env.N ?? 3000);
for (let round = 0; round < 5; round++) {
  const t0 = performance.now();
  // 8 at a time, as the thread interleaves them
  for (let i = 0; i < N; i += 8) await Promise.all(Array.from({ length: 8 }, () => buildEventBody({ length: message.length, chunks: [message] }, env, Infinity)));
  console.log(`round ${round}: ${((performance.now() - t0) * 1000 / N).toFixed(1)} µs/mail`);
}
const b = await buildEventBody({ length: message.length, chunks: [message] }, env, Infinity);
console.log(message.length, Buffer.concat(b.chunks).toString().slice(0, 300));
