// `featherweight call <module> <export> [numbers...]`: the `exports` ABI from the command line.
import type { Command } from 'commander';
import { jsonHelp, printJson } from '../json.js';
import { exitCodeFor, exitCodes, hostFailure, limitOptions, limitsFrom, loadGuest, runOnce, usageErrors, type LimitFlags } from './run.js';

function parseNumber(text: string, i: number): number {
  const n = Number(text);
  if (text.trim() === '' || Number.isNaN(n)) throw new Error(`argument ${i + 1} ${JSON.stringify(text)} is not a number`);
  return n;
}

/** Calls one export and prints its results; also `run --invoke NAME`, as wasmtime spells it. */
export async function callAndPrint(file: string, name: string, numbers: string[], flags: LimitFlags & { json?: boolean }): Promise<void> {
  const limits = limitsFrom(flags);
  const args = numbers.map(parseNumber);
  const module = await loadGuest(file);
  const result = await runOnce(module, 'exports', limits, { kind: 'export', name, args });
  if (result.ok) {
    const results = 'results' in result ? result.results : [];
    if (flags.json) printJson({ module: file, export: name, args, results });
    else if (results.length > 0) console.log(results.join(' '));
    return;
  }
  console.error(`featherweight: ${result.error.kind}: ${result.error.message}`);
  process.exitCode = exitCodeFor(result.error);
}

export function register(program: Command): void {
  usageErrors(limitOptions(
    program
      .command('call')
      .description('call an exported function with numbers and print its results (e.g. `call add.wasm add 1 2` prints 3)')
      .argument('<module>', 'the .wasm (or .wat) file')
      .argument('<export>', 'name of the exported function')
      .argument('[numbers...]', 'arguments (integers for i32/i64, any number for f32/f64; put negative ones after --)')
      .option('--json', `${jsonHelp}: {module, export, args, results}`),
  ))
    .addHelpText('after', `
Exit codes: 0 with the results on stdout (space-separated); ${exitCodes.timeout} timeout, ${exitCodes['invalid-module']} invalid module,
unknown export, wrong arguments or bad flags, ${exitCodes.trap} trap, ${exitCodes['memory-limit']} memory limit.`)
    .action(async (file: string, name: string, numbers: string[], flags: LimitFlags & { json?: boolean }) => {
      try {
        await callAndPrint(file, name, numbers, flags);
      } catch (err) {
        hostFailure(err);
      }
    });
}
