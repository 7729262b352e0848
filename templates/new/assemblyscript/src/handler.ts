// __NAME__: one event in on stdin, NDJSON records out on stdout (one row each in the sink).
// Here: a record {line, text, length} for every non-blank line of the event body.
import { exit, readAll, writeString } from "./wasi";

function jsonString(s: string): string {
  let out = "\"";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += "\\\"";
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x09) out += "\\t";
    else if (c < 0x20) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += String.fromCharCode(c);
  }
  return out + "\"";
}

const input = readAll(0);
if (input === null) {
  writeString(2, "__NAME__: cannot read the event body\n");
  exit(1);
} else {
  const body = String.UTF8.decodeUnsafe(input!.dataStart, input!.length);
  const lines = body.split("\n");
  let out = "";
  let n = 0;
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (line.endsWith("\r")) line = line.slice(0, line.length - 1);
    n++;
    if (line.trim().length == 0) continue;
    out += "{\"line\":" + n.toString() + ",\"text\":" + jsonString(line) +
      ",\"length\":" + String.UTF8.byteLength(line).toString() + "}\n";
  }
  if (!writeString(1, out)) exit(1);
}
