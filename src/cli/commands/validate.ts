import type { Command } from 'commander';
import { loadManifest } from '../../app/manifest.js';

export function register(program: Command): void {
  program
    .command('validate')
    .description('check an app manifest: every problem is reported with the path of the field and what is allowed')
    .argument('[file]', 'app manifest', 'featherweight.yaml')
    .option('--json', 'print the app, its data dir and its components as JSON')
    .action((file: string, o: { json?: boolean }) => {
      const app = loadManifest(file);
      if (o.json) {
        const components = app.components.map((c) => ({ name: c.name, abi: c.abi, module: c.module ?? null, trigger: c.trigger.type, sink: c.sink.type }));
        console.log(JSON.stringify({ file, valid: true, app: app.name, dataDir: app.dataDir, components }, null, 2));
        return;
      }
      console.log(`${file}: valid (app ${app.name}, ${app.components.length} component${app.components.length === 1 ? '' : 's'}: ${app.components.map((c) => `${c.name} <- ${c.trigger.type} -> ${c.sink.type}`).join(', ')})`);
    });
}
