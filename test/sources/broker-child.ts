// Child process for the kill -9 tests: node --import tsx broker-child.ts <module> <metadata json> <take> <ack>
// Takes <take> deliveries, acks the first <ack>, prints "READY <acked bodies>" and waits to be killed.
import os from 'node:os';
import type { SourceFactory } from '../../src/core/source.js';

const [mod, mdJson, takeN, ackN] = process.argv.slice(2);
const { create } = (await import(`../../src/sources/${mod}.ts`)) as { create: SourceFactory };
const src = create(JSON.parse(mdJson!) as Record<string, string>, { component: 'fwtest', dataDir: os.tmpdir(), prefetch: 16 });
await src.start({ notify() {}, log: { info() {}, warn() {}, error: (o: object, m?: string) => console.error(m, o) } });
const acked: string[] = [];
for (let i = 0; i < Number(takeN); i++) {
  const d = await src.next(new AbortController().signal);
  if (!d) throw new Error('source closed early');
  if (i < Number(ackN)) {
    await d.ack();
    acked.push(Buffer.from(d.event.body).toString());
  }
}
// let fire-and-forget acks reach the broker before announcing them
await new Promise((r) => setTimeout(r, 500));
process.stdout.write(`READY ${JSON.stringify(acked)}\n`);
setInterval(() => {}, 1000);
