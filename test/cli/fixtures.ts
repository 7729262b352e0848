// Small apps the CLI tests start.
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/cli.js';

/** A one-component app (embedded queue -> echo guest -> SQLite) in a fresh folder. */
export function tinyApp(dir: string, listen = '127.0.0.1:0'): string {
  const file = path.join(dir, 'featherweight.yaml');
  fs.writeFileSync(file, `apiVersion: featherweight.dev/v1
kind: App
metadata: { name: tiny }
dataDir: ${JSON.stringify(path.join(dir, 'state'))}
server: { listen: "${listen}" }
components:
  - name: echo
    module: ${JSON.stringify(path.join(repoRoot, 'guests/build/echo.wasm'))}
    trigger: { type: embedded }
    sink: { type: sqlite, table: echo }
`);
  return file;
}

