// Runs every benchmark: each bench/<name>.ts exports run(). `npm run bench [name...]` runs a subset.
// Files are found by listing this folder, so adding a bench needs no edit here.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));
const names = fs.readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'index.ts').map((f) => f.slice(0, -3)).sort();
const only = process.argv.slice(2);
for (const name of names) {
  if (only.length && !only.includes(name)) continue;
  const mod = (await import(pathToFileURL(path.join(dir, `${name}.ts`)).href)) as { run?: () => Promise<void> };
  if (typeof mod.run !== 'function') continue;
  console.log(`\n== ${name} ==`);
  await mod.run();
}
