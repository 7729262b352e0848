// `--json` on the commands that print data: one JSON document on stdout, nothing else there; errors
// stay one `featherweight: ...` line on stderr with the command's usual exit code (decision 211).

export const jsonHelp = 'print the result as one JSON document on stdout';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
