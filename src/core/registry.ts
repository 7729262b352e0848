/** A registry of plugins by their `type` (triggers, scalers, sinks): built once from the list, frozen. */
export function registry<P extends { readonly type: string }>(plugins: readonly P[]): Readonly<Record<string, P>> {
  const out: Record<string, P> = {};
  for (const p of plugins) {
    if (Object.hasOwn(out, p.type)) throw new Error(`two plugins register type ${JSON.stringify(p.type)}`);
    out[p.type] = p;
  }
  return Object.freeze(out);
}

/** The plugin of `type`; own keys only, so a type such as "constructor" is unknown rather than Object.prototype's. */
export function lookup<P>(reg: Readonly<Record<string, P>>, type: string): P | undefined {
  return Object.hasOwn(reg, type) ? reg[type] : undefined;
}
