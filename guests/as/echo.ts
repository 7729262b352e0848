// echo: copies stdin to stdout. With argument --args it first prints each argument on its own line,
// with --env each environment entry (K=V), so tests can see exactly what the host passes in.
import { args, environ, readAll, writeBytes, writeString, exit } from "./wasi";

const argv = args();
for (let i = 1; i < argv.length; i++) {
  if (argv[i] == "--args") {
    for (let j = 0; j < argv.length; j++) writeString(1, "arg" + j.toString() + "=" + argv[j] + "\n");
  } else if (argv[i] == "--env") {
    const env = environ();
    for (let j = 0; j < env.length; j++) writeString(1, env[j] + "\n");
  }
}
const input = readAll(0);
if (input === null) {
  writeString(2, "echo: cannot read stdin\n");
  exit(1);
} else {
  const data = input!;
  if (!writeBytes(1, data.dataStart, data.length)) exit(1);
}
