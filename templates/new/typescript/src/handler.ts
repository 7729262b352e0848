// __NAME__: one event in on stdin, NDJSON records out on stdout (one row each in the sink).
// Here: a record {line, text, length} for every non-blank line of the event body. The imports are
// WASI 0.2 interfaces, typed from wit/world.wit by `npm run build` (types/).
import { getStdin } from 'wasi:cli/stdin@0.2.12';
import { getStdout } from 'wasi:cli/stdout@0.2.12';

const encoder = new TextEncoder();

/** The whole event body: blocking-read returns bytes until the stream reports closed (thrown). */
function readStdin(): Uint8Array {
  const stdin = getStdin();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let chunk: Uint8Array;
    try {
      chunk = stdin.blockingRead(65536n);
    } catch {
      break; // closed: the end of the event body
    }
    parts.push(chunk);
    total += chunk.length;
  }
  const body = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    body.set(p, at);
    at += p.length;
  }
  return body;
}

function write(text: string): void {
  const stdout = getStdout();
  const bytes = encoder.encode(text);
  // blocking-write-and-flush takes at most 4096 bytes at a time.
  for (let at = 0; at < bytes.length; at += 4096) stdout.blockingWriteAndFlush(bytes.subarray(at, at + 4096));
}

export const run = {
  run(): void {
    const lines = new TextDecoder().decode(readStdin()).split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    let out = '';
    lines.forEach((raw, i) => {
      const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (text.trim() === '') return;
      out += `${JSON.stringify({ line: i + 1, text, length: encoder.encode(text).length })}\n`;
    });
    write(out);
  },
};
