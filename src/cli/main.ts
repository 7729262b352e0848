import type { Command } from 'commander';
import { commands } from './commands/index.js';

export const VERSION = '0.1.0';

async function baseProgram(): Promise<Command> {
  const { Command } = await import('commander');
  return new Command('featherweight')
    .description('Event-driven WebAssembly workers that scale like KEDA, in microseconds')
    .version(VERSION)
    .showHelpAfterError();
}

/**
 * The program with the named commands registered (all of them when `only` is absent). One command's
 * file is all a run of that command imports; help, completion and unknown names load them all.
 */
export async function buildProgram(only?: string[]): Promise<Command> {
  const program = await baseProgram();
  const wanted = only ? commands.filter(([name]) => only.includes(name)) : commands;
  const modules = await Promise.all(wanted.map(([, load]) => load()));
  for (const m of modules) m.register(program);
  return program;
}

const known = new Set(commands.map(([name]) => name));

/** Which commands this argv needs: one for `<cmd> ...` and `help <cmd>`, none for --version, else all. */
export function commandsFor(args: string[]): string[] | undefined {
  const first = args[0];
  if (first === undefined) return undefined;
  if (known.has(first)) return [first];
  if (first === 'help' && args[1] !== undefined && known.has(args[1])) return [args[1]];
  if ((first === '--version' || first === '-V') && args.length === 1) return [];
  return undefined;
}

/** `featherweight x.wasm ...` means `featherweight run x.wasm ...`, as `wasmtime x.wasm` does. */
export function withImplicitRun(args: string[]): string[] {
  const first = args[0];
  return first !== undefined && !known.has(first) && /\.(wasm|wat)$/i.test(first) ? ['run', ...args] : args;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  const args = withImplicitRun(argv.slice(2));
  // The two commands a person types most often, started without waiting for commander (decision 140).
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  if (args[0] === 'run' && !args.includes('--invoke') && !args.includes('--help') && !args.includes('-h')) (await import('./run-thread.js')).runThread();
  try {
    const program = await buildProgram(commandsFor(args));
    await program.parseAsync([...argv.slice(0, 2), ...args]);
  } catch (err) {
    console.error(`featherweight: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}
