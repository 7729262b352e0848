import { Command } from 'commander';
import { commands } from './commands/index.js';

/** Builds the `featherweight` program; exported so tests can drive it in-process. */
export function buildProgram(): Command {
  const program = new Command('featherweight')
    .description('Event-driven WebAssembly workers that scale like KEDA, in microseconds')
    .version('0.1.0')
    .showHelpAfterError();
  for (const register of commands) register(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    console.error(`featherweight: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}
