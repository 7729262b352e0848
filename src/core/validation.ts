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
      const allowed = allowedKeys(schema, issue.path);
      const hints = issue.keys.flatMap((k) => {
        const near = closest(k, allowed ?? []);
        return near ? [`did you mean ${JSON.stringify(near)} for ${JSON.stringify(k)}?`] : [];
      });
      return `${where}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}${allowed ? ` (allowed: ${allowed.join(', ')})` : ''}${hints.length ? `; ${hints.join(' ')}` : ''}`;
    }
    if (issue.code === 'invalid_type') return `${where}: ${wrongType(issue.expected, issue.message, schemaAt(schema, issue.path))}`;
    return `${where}: ${issue.message}`;
  });
}

/** What a field of each type wants, said for a person editing YAML, with an example. */
const wanted: Record<string, string> = {
  number: 'a number, e.g. 1.5',
  int: 'a whole number, e.g. 8',
  string: 'text, e.g. "hello" (quote it when it looks like a number or true/false)',
  boolean: 'true or false',
  array: 'a list, e.g. [a, b] or one "- item" per line',
  object: 'a mapping of "key: value" lines, or { key: value }',
};

/** "want a whole number, e.g. 8; got text" rather than zod's "expected number, received string". */
function wrongType(expected: string, message: string, node: unknown): string {
  const kind = expected === 'number' && isInt(node) ? 'int' : expected;
  const received = /received (\w+)/.exec(message)?.[1];
  const said: Record<string, string> = { string: 'text', undefined: 'nothing', array: 'a list', object: 'a mapping', boolean: 'true/false', number: 'a number', null: 'null (an empty value)' };
  const got = received === undefined ? undefined : (said[received] ?? received);
  const want = wanted[kind];
  return want ? `want ${want}${got ? `; got ${got}` : ''}` : message;
}

function isInt(node: unknown): boolean {
  const n = node as { format?: string | null; isInt?: boolean; def?: { checks?: Array<{ _zod?: { def?: { format?: string } } }> } } | undefined;
  if (!n) return false;
  if (n.isInt === true || n.format === 'safeint' || n.format === 'int32') return true;
  return (n.def?.checks ?? []).some((c) => /int/.test(c._zod?.def?.format ?? ''));
}

/** Walks a schema through wrappers (optional, default, pipe, lazy) as far as they go. */
function unwrapped(node: unknown): unknown {
  for (let i = 0; i < 8; i++) {
    const def = (node as { def?: Record<string, unknown> } | undefined)?.def;
    const inner = def?.innerType ?? def?.in ?? (def?.type === 'lazy' ? (def.getter as () => unknown)() : undefined);
    if (!inner) return node;
    node = inner;
  }
  return node;
}

/** The schema of the field at `path` (best effort: undefined where unions or the like hide it). */
function schemaAt(schema: z.ZodType | undefined, path: ReadonlyArray<PropertyKey>): unknown {
  let node: unknown = schema;
  for (const key of path) {
    const def = (unwrapped(node) as { def?: Record<string, unknown> } | undefined)?.def;
    if (!def) return undefined;
    if (def.type === 'object') node = (def.shape as Record<string, unknown>)[String(key)];
    else if (def.type === 'array') node = def.element;
    else if (def.type === 'record') node = def.valueType;
    else return undefined;
  }
  return unwrapped(node);
}

/** Levenshtein distance (insert, delete, substitute), for "did you mean". */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** The candidate a misspelled key most likely meant: at most a third of its letters off (case aside). */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}

/** The keys an object schema at `path` accepts, walking through wrappers (best effort). */
function allowedKeys(schema: z.ZodType | undefined, path: ReadonlyArray<PropertyKey>): string[] | undefined {
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
    if (!def) return undefined;
    if (def.type === 'object') node = (def.shape as Record<string, unknown>)[String(key)];
    else if (def.type === 'array') node = def.element;
    else if (def.type === 'record') node = def.valueType;
    else return undefined;
  }
  unwrap();
  const def = (node as { def?: Record<string, unknown> } | undefined)?.def;
  if (def?.type !== 'object') return undefined;
  return Object.keys(def.shape as object);
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

/**
 * The outcome of a pure parse of a trigger's (or sink's) metadata: the config its open step uses, or
 * every problem as "key: what to do" (relative to the metadata, so each caller adds its own path).
 * `files` names paths the config reads at open (TLS keys): the validation stage checks they exist,
 * so parse itself stays free of I/O.
 */
export type Parsed<T> = { ok: true; config: T; files: Array<{ key: string; path: string }> } | { ok: false; problems: string[] };

export interface ParseContext {
  /** Reports a problem of `key`; parsing goes on so that every problem is reported at once. */
  problem(key: string, message: string): void;
  /** A file the config reads when the trigger opens. */
  file(key: string, path: string): void;
}

/** Checks `input` against `schema`, then runs `refine` (pure) on the result, collecting every problem. */
export function parseWith<S extends z.ZodType, T>(schema: S, input: unknown, refine: (m: z.infer<S>, ctx: ParseContext) => T): Parsed<T> {
  const r = schema.safeParse(input);
  if (!r.success) return { ok: false, problems: formatZodIssues(r.error, '', schema) };
  const problems: string[] = [];
  const files: Array<{ key: string; path: string }> = [];
  const config = refine(r.data, { problem: (key, message) => problems.push(`${key}: ${message}`), file: (key, path) => files.push({ key, path }) });
  return problems.length ? { ok: false, problems } : { ok: true, config, files };
}

/** The config of a Parsed, or a ValidationError listing its problems under `metadata.`. */
export function configOrThrow<T>(what: string, parsed: Parsed<T>): T {
  if (!parsed.ok) throw new ValidationError(what, parsed.problems.map((p) => under('metadata', p)));
  return parsed.config;
}

/** A parse problem ("key: ..." or "(root): ...") placed under `prefix`, e.g. components[0].trigger.metadata. */
export function under(prefix: string, problem: string): string {
  return problem.startsWith('(root): ') ? `${prefix}: ${problem.slice(8)}` : `${prefix}.${problem}`;
}
