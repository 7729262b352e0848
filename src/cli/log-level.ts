// `--log-level` on the long-running commands; FEATHERWEIGHT_LOG_LEVEL is the same setting from the
// environment (the flag wins). createLogger reads the variable, so the flag just sets it.
import type { Command } from 'commander';

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function logLevelOption(cmd: Command, fallback = 'info'): Command {
  return cmd
    .option('--log-level <level>', `${logLevels.join(' | ')} (default: $FEATHERWEIGHT_LOG_LEVEL, else ${fallback})`)
    .hook('preAction', (_self, action) => {
      const level = action.opts().logLevel as string | undefined;
      if (level === undefined) return;
      if (!(logLevels as readonly string[]).includes(level)) throw new Error(`--log-level ${JSON.stringify(level)}: use one of ${logLevels.join(', ')}`);
      process.env.FEATHERWEIGHT_LOG_LEVEL = level;
    });
}
