// How a worker thread of ours is started, from source (.ts under tsx) or compiled (dist/runtime/*.js).
// Node 20 does not pass a worker's entry file through loader hooks, and the inherited `--import tsx` does
// not make the worker's imports of .ts files work, so from source the entry is a one-line script that
// registers tsx itself first (decision 010).
const fromSource = import.meta.url.endsWith('.ts');

/** An eval-able script that loads `name` (a sibling of this file, without extension) in a worker. */
export function workerBoot(name: string): string {
  const url = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, import.meta.url);
  return fromSource
    ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`
    : `import(${JSON.stringify(url.href)});`;
}
