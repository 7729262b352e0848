import type { Command } from 'commander';
import { loadManifest } from '../../app/manifest.js';

export function register(program: Command): void {
  program
    .command('validate')
    .description('check an app manifest: every problem is reported with the path of the field and what is allowed')
    .argument('[file]', 'app manifest', 'featherweight.yaml')
    .action((file: string) => {
      const app = loadManifest(file);
      console.log(`${file}: valid (app ${app.name}, ${app.components.length} component${app.components.length === 1 ? '' : 's'}: ${app.components.map((c) => `${c.name} <- ${c.trigger.type} -> ${c.sink.type}`).join(', ')})`);
    });
}
