/**
 * The part of expr-lang (https://expr-lang.org) that a KEDA scalingModifiers.formula can use over
 * trigger values: numbers, strings, nil, true/false, arrays `[a, b]`, ranges `1..3`, indexing
 * `arr[0]` / `arr[-1]` / `arr[1:3]`, `+ - * / % ** ^`, comparisons, `in` / `not in`,
 * `&& || and or not !`, `cond ? a : b`, `a ?? b`, `let x = ...; body`, and the builtins (numbers:
 * abs ceil floor round int float; arrays: len all any none one filter map count sum mean median min
 * max first last reduce find findIndex findLast findLastIndex take reverse sort uniq concat flatten)
 * with closures `{# > 1}` (`#`, `#index`, `#acc`). Operator precedence follows expr-lang's table.
 * No eval(): a small Pratt parser builds an AST that a tree walker evaluates.
 * See docs/decisions/021-scaling-formula-evaluator.md.
 */

type Value = number | boolean | null | string | Value[];
type Node =
  | { k: 'num'; v: number }
  | { k: 'lit'; v: boolean | null | string }
  | { k: 'id'; name: string }
  | { k: 'pointer'; name: '' | 'index' | 'acc' }
  | { k: 'array'; items: Node[] }
  | { k: 'closure'; body: Node }
  | { k: 'un'; op: string; a: Node }
  | { k: 'bin'; op: string; a: Node; b: Node }
  | { k: 'tern'; c: Node; a: Node; b: Node }
  | { k: 'index'; a: Node; i: Node }
  | { k: 'slice'; a: Node; from: Node | null; to: Node | null }
  | { k: 'let'; name: string; v: Node; body: Node }
  | { k: 'call'; fn: string; args: Node[] };

interface Tok {
  t: 'num' | 'id' | 'str' | 'op' | 'ptr' | 'end';
  v: string;
  at: number;
}

// expr-lang's binary operator table (parser/operator): precedence and associativity.
const binary: Record<string, { p: number; right?: boolean }> = {
  or: { p: 10 }, '||': { p: 10 },
  and: { p: 15 }, '&&': { p: 15 },
  '==': { p: 20 }, '!=': { p: 20 }, '<': { p: 20 }, '>': { p: 20 }, '<=': { p: 20 }, '>=': { p: 20 },
  in: { p: 20 }, 'not in': { p: 20 },
  '..': { p: 25 },
  '+': { p: 30 }, '-': { p: 30 },
  '*': { p: 60 }, '/': { p: 60 }, '%': { p: 60 },
  '**': { p: 100, right: true }, '^': { p: 100, right: true },
  '??': { p: 500 },
};
const unaryPrec: Record<string, number> = { not: 50, '!': 50, '-': 90, '+': 90 };

/** Builtins whose second argument is a predicate/closure (a bare expression there is one too). */
const withClosure = new Set(['all', 'any', 'none', 'one', 'filter', 'map', 'count', 'sum', 'find', 'findIndex', 'findLast', 'findLastIndex', 'reduce']);
const functions = [
  'abs', 'ceil', 'floor', 'round', 'int', 'float',
  'len', 'all', 'any', 'none', 'one', 'filter', 'map', 'count', 'sum', 'mean', 'median', 'min', 'max',
  'first', 'last', 'reduce', 'find', 'findIndex', 'findLast', 'findLastIndex', 'take', 'reverse', 'sort', 'uniq', 'concat', 'flatten',
];

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  const ops = ['**', '??', '==', '!=', '<=', '>=', '&&', '||', '..', '+', '-', '*', '/', '%', '^', '<', '>', '!', '?', ':', '(', ')', ',', '[', ']', '{', '}', ';', '='];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) { i++; continue; }
    // a fraction needs a digit after the dot, so `1..3` reads as 1, .., 3
    const num = /^(\d[\d_]*(\.\d+)?([eE][+-]?\d+)?)/.exec(src.slice(i));
    if (num) {
      out.push({ t: 'num', v: num[0].replace(/_/g, ''), at: i });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_$][\w$]*/.exec(src.slice(i));
    if (id) { out.push({ t: 'id', v: id[0], at: i }); i += id[0].length; continue; }
    if (c === '#') {
      const name = /^#(index|acc)?/.exec(src.slice(i))![1] ?? '';
      out.push({ t: 'ptr', v: name, at: i });
      i += 1 + name.length;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let text = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\' && j + 1 < src.length) { text += src[j + 1]; j += 2; continue; }
        text += src[j++];
      }
      if (j >= src.length) throw new Error(`unterminated string starting at ${i + 1}`);
      out.push({ t: 'str', v: text, at: i });
      i = j + 1;
      continue;
    }
    const op = ops.find((o) => src.startsWith(o, i));
    if (!op) throw new Error(`unexpected character ${JSON.stringify(c)} at ${i + 1}`);
    out.push({ t: 'op', v: op, at: i });
    i += op.length;
  }
  out.push({ t: 'end', v: '', at: src.length });
  return out;
}

function parse(src: string): Node {
  const toks = tokenize(src);
  let pos = 0;
  let closureDepth = 0;
  const peek = (n = 0) => toks[pos + n]!;
  const next = () => toks[pos++]!;
  const isOp = (t: Tok, v: string) => t.t === 'op' && t.v === v;
  const found = (t: Tok) => (t.t === 'end' ? 'end of formula' : JSON.stringify(t.v));
  const expect = (v: string) => {
    const t = next();
    if (!isOp(t, v)) throw new Error(`expected ${JSON.stringify(v)} at ${t.at + 1}, found ${found(t)}`);
  };
  /** The binary operator at the cursor (and how many tokens it spans), if any. */
  const opAt = (): { op: string; len: number } | undefined => {
    const t = peek();
    if (t.t === 'op') return binary[t.v] ? { op: t.v, len: 1 } : t.v === '?' ? { op: '?', len: 1 } : undefined;
    if (t.t === 'id' && (t.v === 'and' || t.v === 'or' || t.v === 'in')) return { op: t.v, len: 1 };
    if (t.t === 'id' && t.v === 'not' && peek(1).t === 'id' && peek(1).v === 'in') return { op: 'not in', len: 2 };
    return undefined;
  };

  function closure(): Node {
    closureDepth++;
    try {
      if (isOp(peek(), '{')) {
        next();
        const body = expr(0);
        expect('}');
        return { k: 'closure', body };
      }
      return { k: 'closure', body: expr(0) };
    } finally {
      closureDepth--;
    }
  }

  function call(fn: string, at: number): Node {
    if (!functions.includes(fn)) throw new Error(`unknown function ${fn}() at ${at + 1}; available: ${functions.join(', ')}`);
    next(); // (
    const args: Node[] = [];
    if (!isOp(peek(), ')')) {
      do args.push(args.length === 1 && withClosure.has(fn) ? closure() : expr(0));
      while (isOp(peek(), ',') && next());
    }
    expect(')');
    return { k: 'call', fn, args };
  }

  function primary(): Node {
    const t = next();
    if (t.t === 'num') return { k: 'num', v: Number(t.v) };
    if (t.t === 'str') return { k: 'lit', v: t.v };
    if (t.t === 'ptr') {
      if (closureDepth === 0) throw new Error(`#${t.v} at ${t.at + 1} is only allowed inside a closure, e.g. count(list, {# > 1})`);
      return { k: 'pointer', name: t.v as '' | 'index' | 'acc' };
    }
    if (t.t === 'id') {
      if (t.v === 'nil') return { k: 'lit', v: null };
      if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true' };
      if (t.v === 'not') return { k: 'un', op: 'not', a: expr(unaryPrec.not!) };
      if (t.v === 'let' && peek().t === 'id') {
        const name = next().v;
        expect('=');
        const v = expr(0);
        expect(';');
        return { k: 'let', name, v, body: expr(0) };
      }
      if (isOp(peek(), '(')) return call(t.v, t.at);
      return { k: 'id', name: t.v };
    }
    if (isOp(t, '(')) {
      const e = expr(0);
      expect(')');
      return e;
    }
    if (isOp(t, '[')) {
      const items: Node[] = [];
      if (!isOp(peek(), ']')) {
        do {
          if (isOp(peek(), ']')) break; // trailing comma
          items.push(expr(0));
        } while (isOp(peek(), ',') && next());
      }
      expect(']');
      return { k: 'array', items };
    }
    if (t.t === 'op' && unaryPrec[t.v] !== undefined) return { k: 'un', op: t.v, a: expr(unaryPrec[t.v]!) };
    throw new Error(t.t === 'end' ? 'unexpected end of formula' : `unexpected ${JSON.stringify(t.v)} at ${t.at + 1}`);
  }

  function postfix(n: Node): Node {
    while (isOp(peek(), '[')) {
      next();
      let from: Node | null = null;
      if (!isOp(peek(), ':')) from = expr(0);
      if (isOp(peek(), ':')) {
        next();
        const to = isOp(peek(), ']') ? null : expr(0);
        expect(']');
        n = { k: 'slice', a: n, from, to };
      } else {
        expect(']');
        n = { k: 'index', a: n, i: from! };
      }
    }
    return n;
  }

  function expr(minPrec: number): Node {
    let left = postfix(primary());
    for (;;) {
      const found = opAt();
      if (!found) break;
      if (found.op === '?') {
        if (minPrec !== 0) break;
        next();
        const a = expr(0);
        expect(':');
        const b = expr(0);
        left = { k: 'tern', c: left, a, b };
        continue;
      }
      const info = binary[found.op]!;
      if (info.p < minPrec || (info.p === minPrec && !info.right)) break;
      pos += found.len;
      const right = expr(info.right ? info.p : info.p + 1);
      left = { k: 'bin', op: found.op, a: left, b: right };
    }
    return left;
  }

  const tree = expr(0);
  if (peek().t !== 'end') throw new Error(`unexpected ${JSON.stringify(peek().v)} at ${peek().at + 1}`);
  return tree;
}

function names(n: Node, acc: Set<string>, bound: ReadonlySet<string> = new Set()): Set<string> {
  switch (n.k) {
    case 'id': if (!bound.has(n.name)) acc.add(n.name); break;
    case 'un': names(n.a, acc, bound); break;
    case 'bin': names(n.a, acc, bound); names(n.b, acc, bound); break;
    case 'tern': names(n.c, acc, bound); names(n.a, acc, bound); names(n.b, acc, bound); break;
    case 'call': n.args.forEach((a) => names(a, acc, bound)); break;
    case 'array': n.items.forEach((a) => names(a, acc, bound)); break;
    case 'closure': names(n.body, acc, bound); break;
    case 'index': names(n.a, acc, bound); names(n.i, acc, bound); break;
    case 'slice': names(n.a, acc, bound); if (n.from) names(n.from, acc, bound); if (n.to) names(n.to, acc, bound); break;
    case 'let': names(n.v, acc, bound); names(n.body, acc, new Set([...bound, n.name])); break;
    default: break;
  }
  return acc;
}

function show(v: Value): string {
  if (v === null) return 'nil';
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function asNum(v: Value, what: string): number {
  if (typeof v !== 'number') throw new Error(`${what} needs a number, got ${show(v)}`);
  return v;
}

function asArray(v: Value, what: string): Value[] {
  if (!Array.isArray(v)) throw new Error(`${what} needs an array, got ${show(v)}`);
  return v;
}

function asBool(v: Value, what: string): boolean {
  if (typeof v !== 'boolean') throw new Error(`${what} must return a boolean, got ${show(v)}`);
  return v;
}

function equal(a: Value, b: Value): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i]!));
  return a === b;
}

interface Scope {
  vars: Record<string, Value>;
  /** The closure's current element, index and accumulator. */
  ptr?: { item: Value; index: number; acc?: Value };
}

function evaluate(n: Node, s: Scope): Value {
  switch (n.k) {
    case 'num': return n.v;
    case 'lit': return n.v;
    case 'id': return n.name in s.vars ? s.vars[n.name]! : null;
    case 'pointer': {
      if (!s.ptr) throw new Error('# used outside a closure');
      if (n.name === 'index') return s.ptr.index;
      if (n.name === 'acc') return s.ptr.acc ?? null;
      return s.ptr.item;
    }
    case 'array': return n.items.map((x) => evaluate(x, s));
    case 'closure': throw new Error('a closure {...} is only allowed as a builtin argument');
    case 'let': return evaluate(n.body, { ...s, vars: { ...s.vars, [n.name]: evaluate(n.v, s) } });
    case 'index': {
      const a = evaluate(n.a, s);
      const i = asNum(evaluate(n.i, s), 'an index');
      if (typeof a === 'string' || Array.isArray(a)) {
        const at = i < 0 ? a.length + i : i;
        if (!Number.isInteger(at) || at < 0 || at >= a.length) throw new Error(`index ${i} out of range (length ${a.length})`);
        return a[at]!;
      }
      throw new Error(`cannot index ${show(a)}`);
    }
    case 'slice': {
      const a = evaluate(n.a, s);
      if (typeof a !== 'string' && !Array.isArray(a)) throw new Error(`cannot slice ${show(a)}`);
      const from = n.from ? asNum(evaluate(n.from, s), 'a slice bound') : 0;
      const to = n.to ? asNum(evaluate(n.to, s), 'a slice bound') : a.length;
      return a.slice(from, to) as Value;
    }
    case 'un': {
      const a = evaluate(n.a, s);
      if (n.op === '-') return -asNum(a, 'unary -');
      if (n.op === '+') return asNum(a, 'unary +');
      if (typeof a !== 'boolean') throw new Error(`${n.op} needs a boolean, got ${show(a)}`);
      return !a;
    }
    case 'tern': {
      const c = evaluate(n.c, s);
      if (typeof c !== 'boolean') throw new Error(`the condition of ?: must be a boolean, got ${show(c)}`);
      return c ? evaluate(n.a, s) : evaluate(n.b, s);
    }
    case 'call': return callBuiltin(n.fn, n.args, s);
    case 'bin': return binaryOp(n, s);
  }
}

function binaryOp(n: Extract<Node, { k: 'bin' }>, s: Scope): Value {
  if (n.op === '??') {
    const a = evaluate(n.a, s);
    return a === null ? evaluate(n.b, s) : a;
  }
  if (n.op === '&&' || n.op === 'and' || n.op === '||' || n.op === 'or') {
    const isAnd = n.op === '&&' || n.op === 'and';
    const a = asBool(evaluate(n.a, s), n.op);
    if (isAnd ? !a : a) return a;
    return asBool(evaluate(n.b, s), n.op);
  }
  const a = evaluate(n.a, s);
  const b = evaluate(n.b, s);
  switch (n.op) {
    case '==': return equal(a, b);
    case '!=': return !equal(a, b);
    case 'in': return asArray(b, 'in').some((x) => equal(x, a));
    case 'not in': return !asArray(b, 'not in').some((x) => equal(x, a));
    case '..': {
      const from = asNum(a, '..');
      const to = asNum(b, '..');
      if (!Number.isInteger(from) || !Number.isInteger(to)) throw new Error('.. needs whole numbers');
      const out: number[] = [];
      for (let i = from; i <= to; i++) out.push(i);
      return out;
    }
    case '+':
      if (typeof a === 'string' && typeof b === 'string') return a + b;
      if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
      break;
    case '<': case '>': case '<=': case '>=':
      if (typeof a === 'string' && typeof b === 'string') return n.op === '<' ? a < b : n.op === '>' ? a > b : n.op === '<=' ? a <= b : a >= b;
      break;
    default: break;
  }
  const x = asNum(a, n.op);
  const y = asNum(b, n.op);
  switch (n.op) {
    case '+': return x + y;
    case '-': return x - y;
    case '*': return x * y;
    case '/': return x / y;
    case '%':
      if (!Number.isInteger(x) || !Number.isInteger(y)) throw new Error(`% needs whole numbers, got ${x} % ${y}`);
      if (y === 0) throw new Error('integer divide by zero');
      return x % y;
    case '**': case '^': return x ** y;
    case '<': return x < y;
    case '>': return x > y;
    case '<=': return x <= y;
    default: return x >= y;
  }
}

function callBuiltin(fn: string, argNodes: Node[], s: Scope): Value {
  const arity = (min: number, max = min) => {
    if (argNodes.length < min || argNodes.length > max) throw new Error(`${fn}() takes ${min === max ? min : `${min} to ${max}`} argument${max === 1 ? '' : 's'}, got ${argNodes.length}`);
  };
  const arg = (i: number) => evaluate(argNodes[i]!, s);
  /** Runs the closure argument on every element (`#`, `#index`). */
  const each = (list: Value[], what: string) => {
    const c = argNodes[1]!;
    const body = c.k === 'closure' ? c.body : c;
    return list.map((item, index) => ({ item, value: evaluate(body, { vars: s.vars, ptr: { item, index } }), what }));
  };
  const predicate = (list: Value[]) => each(list, fn).map((r) => asBool(r.value, `the predicate of ${fn}()`));
  const numbers = (list: Value[]) => list.map((v) => asNum(v, `${fn}()`));
  switch (fn) {
    case 'abs': case 'ceil': case 'floor': case 'round': case 'int': case 'float': {
      arity(1);
      const v = arg(0);
      if (fn === 'float' || fn === 'int') {
        if (typeof v === 'string') {
          const parsed = Number(v.trim());
          if (v.trim() === '' || !Number.isFinite(parsed)) throw new Error(`${fn}() cannot parse ${show(v)}`);
          return fn === 'int' ? Math.trunc(parsed) : parsed;
        }
      }
      const x = asNum(v, `${fn}()`);
      if (fn === 'abs') return Math.abs(x);
      if (fn === 'ceil') return Math.ceil(x);
      if (fn === 'floor') return Math.floor(x);
      if (fn === 'round') return Math.sign(x) * Math.round(Math.abs(x)); // Go rounds half away from zero
      if (fn === 'float') return x;
      return Math.trunc(x);
    }
    case 'len': {
      arity(1);
      const v = arg(0);
      if (typeof v === 'string' || Array.isArray(v)) return v.length;
      throw new Error(`len() needs an array or a string, got ${show(v)}`);
    }
    case 'all': arity(2); return predicate(asArray(arg(0), fn)).every(Boolean);
    case 'any': arity(2); return predicate(asArray(arg(0), fn)).some(Boolean);
    case 'none': arity(2); return !predicate(asArray(arg(0), fn)).some(Boolean);
    case 'one': arity(2); return predicate(asArray(arg(0), fn)).filter(Boolean).length === 1;
    case 'count': {
      arity(1, 2);
      const list = asArray(arg(0), fn);
      if (argNodes.length === 1) return list.filter((v) => asBool(v, 'count() without a predicate: an element')).length;
      return predicate(list).filter(Boolean).length;
    }
    case 'filter': {
      arity(2);
      const list = asArray(arg(0), fn);
      const keep = predicate(list);
      return list.filter((_, i) => keep[i]);
    }
    case 'map': arity(2); return each(asArray(arg(0), fn), fn).map((r) => r.value);
    case 'find': case 'findIndex': case 'findLast': case 'findLastIndex': {
      arity(2);
      const list = asArray(arg(0), fn);
      const hits = predicate(list);
      const i = fn.startsWith('findLast') ? hits.lastIndexOf(true) : hits.indexOf(true);
      if (fn.endsWith('Index')) return i;
      return i < 0 ? null : list[i]!;
    }
    case 'sum': {
      arity(1, 2);
      const list = asArray(arg(0), fn);
      const values = argNodes.length === 2 ? each(list, fn).map((r) => r.value) : list;
      return numbers(values).reduce((a, b) => a + b, 0);
    }
    case 'mean': case 'median': {
      arity(1);
      const list = numbers(asArray(arg(0), fn));
      if (list.length === 0) return 0;
      if (fn === 'mean') return list.reduce((a, b) => a + b, 0) / list.length;
      const sorted = [...list].sort((a, b) => a - b);
      const mid = sorted.length >> 1;
      return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    }
    case 'min': case 'max': {
      if (argNodes.length === 0) throw new Error(`${fn}() needs arguments`);
      // numbers and arrays of numbers, as expr-lang's min/max
      const flat = argNodes.map((_, i) => arg(i)).flatMap((v) => (Array.isArray(v) ? v : [v]));
      const list = numbers(flat);
      if (list.length === 0) throw new Error(`${fn}() of an empty array`);
      return fn === 'min' ? Math.min(...list) : Math.max(...list);
    }
    case 'first': case 'last': {
      arity(1);
      const list = asArray(arg(0), fn);
      return list.length === 0 ? null : fn === 'first' ? list[0]! : list[list.length - 1]!;
    }
    case 'take': {
      arity(2);
      return asArray(arg(0), fn).slice(0, Math.max(0, asNum(arg(1), 'take()')));
    }
    case 'reverse': arity(1); return [...asArray(arg(0), fn)].reverse();
    case 'sort': {
      arity(1, 2);
      const list = asArray(arg(0), fn);
      const desc = argNodes.length === 2 && arg(1) === 'desc';
      const cmp = (a: Value, b: Value) => {
        if (typeof a === 'number' && typeof b === 'number') return a - b;
        if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
        throw new Error(`sort() cannot compare ${show(a)} and ${show(b)}`);
      };
      const out = [...list].sort(cmp);
      return desc ? out.reverse() : out;
    }
    case 'uniq': {
      arity(1);
      const out: Value[] = [];
      for (const v of asArray(arg(0), fn)) if (!out.some((x) => equal(x, v))) out.push(v);
      return out;
    }
    case 'concat': return argNodes.flatMap((_, i) => asArray(arg(i), fn));
    case 'flatten': {
      arity(1);
      const flat = (v: Value[]): Value[] => v.flatMap((x) => (Array.isArray(x) ? flat(x) : [x]));
      return flat(asArray(arg(0), fn));
    }
    case 'reduce': {
      arity(2, 3);
      const list = asArray(arg(0), fn);
      const c = argNodes[1]!;
      const body = c.k === 'closure' ? c.body : c;
      let acc: Value;
      let start = 0;
      if (argNodes.length === 3) acc = arg(2);
      else {
        if (list.length === 0) throw new Error('reduce() of an empty array needs an initial value');
        acc = list[0]!;
        start = 1;
      }
      for (let i = start; i < list.length; i++) acc = evaluate(body, { vars: s.vars, ptr: { item: list[i]!, index: i, acc } });
      return acc;
    }
    default:
      throw new Error(`unknown function ${fn}()`);
  }
}

export interface CompiledFormula {
  source: string;
  /** Trigger names the formula reads. */
  names: string[];
  /** The composite value; null when the formula yields nil (e.g. every trigger it reads failed). */
  evaluate(values: Record<string, number | null>): number | null;
}

/** Parses a formula; throws with a one-line message on a syntax error or an unknown name. */
export function compileFormula(source: string, knownNames?: readonly string[]): CompiledFormula {
  const tree = parse(source);
  const used = [...names(tree, new Set())];
  if (knownNames) {
    const unknown = used.filter((n) => !knownNames.includes(n));
    if (unknown.length) {
      throw new Error(`unknown name${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}: a formula may use the trigger names ${knownNames.join(', ') || '(none: give the triggers a name)'}`);
    }
  }
  return {
    source,
    names: used,
    evaluate(values) {
      const v = evaluate(tree, { vars: values });
      // KEDA wraps the formula in float(...), which takes numbers only (nil stays nil for `??`).
      if (v === null) return null;
      if (typeof v !== 'number') throw new Error(`the formula must return a number, not ${Array.isArray(v) ? 'an array' : typeof v === 'boolean' ? 'a boolean' : 'a string'}`);
      return Number.isNaN(v) ? null : v;
    },
  };
}

/**
 * KEDA's webhook check (validateScalingModifiersFormula): compile, then run once with every named
 * trigger at -1; a formula that fails on that run is refused.
 */
export function dryRunFormula(formula: CompiledFormula, triggerNames: readonly string[]): void {
  formula.evaluate(Object.fromEntries(triggerNames.map((n) => [n, -1])));
}
