import type { z } from 'zod';

/** `components[0].limits.timeout` from a zod path. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || '(root)';
}

/** One line per problem, each naming the field and what is allowed. */
export function formatZodIssues(error: z.ZodError, prefix = '', schema?: z.ZodType): string[] {
  return error.issues.map((issue) => {
    const where = formatPath([...(prefix ? [prefix] : []), ...issue.path]);
    if (issue.code === 'unrecognized_keys') {
      return `${where}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}${allowedHint(schema, issue.path)}`;
    }
    return `${where}: ${issue.message}`;
  });
}

/** The keys an object schema at `path` accepts, walking through wrappers (best effort). */
function allowedHint(schema: z.ZodType | undefined, path: ReadonlyArray<PropertyKey>): string {
  let node: unknown = schema;
  const unwrap = () => {
    for (let i = 0; i < 8; i++) {
      const def = (node as { def?: Record<string, unknown> } | undefined)?.def;
      const inner = def?.innerType ?? def?.in ?? (def?.type === 'lazy' ? (def.getter as () => unknown)() : undefined);
      if (!inner) return;
      node = inner;
    }
  };
  for (const key of path) {
    unwrap();
    const def = (node as { def?: Record<string, unknown> } | undefined)?.def;
    if (!def) return '';
    if (def.type === 'object') node = (def.shape as Record<string, unknown>)[String(key)];
    else if (def.type === 'array') node = def.element;
    else if (def.type === 'record') node = def.valueType;
    else return '';
  }
  unwrap();
  const def = (node as { def?: Record<string, unknown> } | undefined)?.def;
  if (def?.type !== 'object') return '';
  return ` (allowed: ${Object.keys(def.shape as object).join(', ')})`;
}

/** Thrown by every validating boundary: message is the whole list, one problem per line. */
export class ValidationError extends Error {
  readonly problems: string[];
  constructor(what: string, problems: string[]) {
    super(`${what} is invalid:\n  ${problems.join('\n  ')}`);
    this.name = 'ValidationError';
    this.problems = problems;
  }
}

/** Parses with a schema or throws a ValidationError naming every bad field. */
export function parseOrThrow<T extends z.ZodType>(schema: T, input: unknown, what: string, prefix = ''): z.infer<T> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ValidationError(what, formatZodIssues(result.error, prefix, schema));
  return result.data;
}
