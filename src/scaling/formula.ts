/**
 * The subset of expr-lang (https://expr-lang.org) that KEDA's scalingModifiers.formula uses:
 * numbers, trigger names, nil, true/false, + - * / % ** ^, comparisons, && || and or not !,
 * `cond ? a : b`, `a ?? b`, parentheses and the functions min max abs ceil floor round float int.
 * Operator precedence follows expr-lang's table. No eval(): a small Pratt parser builds an AST.
 * See docs/decisions/021-scaling-formula-evaluator.md.
 */

type Value = number | boolean | null;
type Node =
  | { k: 'num'; v: number }
  | { k: 'lit'; v: boolean | null }
  | { k: 'id'; name: string }
  | { k: 'un'; op: string; a: Node }
  | { k: 'bin'; op: string; a: Node; b: Node }
  | { k: 'tern'; c: Node; a: Node; b: Node }
  | { k: 'call'; fn: string; args: Node[] };

interface Tok {
  t: 'num' | 'id' | 'op' | 'end';
  v: string;
  at: number;
}

const binary: Record<string, { p: number; right?: boolean }> = {
  or: { p: 10 }, '||': { p: 10 },
  and: { p: 15 }, '&&': { p: 15 },
  '==': { p: 20 }, '!=': { p: 20 }, '<': { p: 20 }, '>': { p: 20 }, '<=': { p: 20 }, '>=': { p: 20 },
  '+': { p: 30 }, '-': { p: 30 },
  '*': { p: 60 }, '/': { p: 60 }, '%': { p: 60 },
  '**': { p: 100, right: true }, '^': { p: 100, right: true },
  '??': { p: 500 },
};
const unaryPrec: Record<string, number> = { not: 50, '!': 50, '-': 90, '+': 90 };
const functions = ['min', 'max', 'abs', 'ceil', 'floor', 'round', 'float', 'int'];

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  const ops = ['**', '??', '==', '!=', '<=', '>=', '&&', '||', '+', '-', '*', '/', '%', '^', '<', '>', '!', '?', ':', '(', ')', ','];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) { i++; continue; }
    const num = /^(\d[\d_]*(\.\d+)?([eE][+-]?\d+)?|\.\d+)/.exec(src.slice(i));
    if (num) { out.push({ t: 'num', v: num[0].replace(/_/g, ''), at: i }); i += num[0].length; continue; }
    const id = /^[A-Za-z_$][\w$]*/.exec(src.slice(i));
    if (id) { out.push({ t: 'id', v: id[0], at: i }); i += id[0].length; continue; }
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
  const peek = () => toks[pos]!;
  const next = () => toks[pos++]!;
  const expect = (v: string) => {
    const t = next();
    if (t.v !== v || t.t === 'num') throw new Error(`expected ${JSON.stringify(v)} at ${t.at + 1}, found ${t.t === 'end' ? 'end of formula' : JSON.stringify(t.v)}`);
  };
  const opOf = (t: Tok) => (t.t === 'op' || (t.t === 'id' && (t.v === 'and' || t.v === 'or')) ? t.v : undefined);

  function primary(): Node {
    const t = next();
    if (t.t === 'num') return { k: 'num', v: Number(t.v) };
    if (t.t === 'id') {
      if (t.v === 'nil') return { k: 'lit', v: null };
      if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true' };
      if (t.v === 'not') return { k: 'un', op: 'not', a: expr(unaryPrec.not!) };
      if (peek().v === '(' && peek().t === 'op') {
        if (!functions.includes(t.v)) throw new Error(`unknown function ${t.v}(); available: ${functions.join(', ')}`);
        next();
        const args: Node[] = [];
        if (peek().v !== ')') {
          do args.push(expr(0));
          while (peek().v === ',' && next());
        }
        expect(')');
        return { k: 'call', fn: t.v, args };
      }
      return { k: 'id', name: t.v };
    }
    if (t.t === 'op' && t.v === '(') {
      const e = expr(0);
      expect(')');
      return e;
    }
    if (t.t === 'op' && unaryPrec[t.v] !== undefined) return { k: 'un', op: t.v, a: expr(unaryPrec[t.v]!) };
    throw new Error(t.t === 'end' ? 'unexpected end of formula' : `unexpected ${JSON.stringify(t.v)} at ${t.at + 1}`);
  }

  function expr(minPrec: number): Node {
    let left = primary();
    for (;;) {
      const t = peek();
      const op = opOf(t);
      if (op === '?' && minPrec === 0) {
        next();
        const a = expr(0);
        expect(':');
        const b = expr(0);
        left = { k: 'tern', c: left, a, b };
        continue;
      }
      const info = op !== undefined ? binary[op] : undefined;
      if (!info || info.p < minPrec || (info.p === minPrec && !info.right)) break;
      next();
      const right = expr(info.right ? info.p : info.p + 1);
      left = { k: 'bin', op: op!, a: left, b: right };
    }
    return left;
  }

  const tree = expr(0);
  if (peek().t !== 'end') throw new Error(`unexpected ${JSON.stringify(peek().v)} at ${peek().at + 1}`);
  return tree;
}

function names(n: Node, acc: Set<string>): Set<string> {
  switch (n.k) {
    case 'id': acc.add(n.name); break;
    case 'un': names(n.a, acc); break;
    case 'bin': names(n.a, acc); names(n.b, acc); break;
    case 'tern': names(n.c, acc); names(n.a, acc); names(n.b, acc); break;
    case 'call': n.args.forEach((a) => names(a, acc)); break;
    default: break;
  }
  return acc;
}

function asNum(v: Value, what: string): number {
  if (typeof v !== 'number') throw new Error(`${what} needs a number, got ${v === null ? 'nil' : String(v)}`);
  return v;
}

function evaluate(n: Node, env: Record<string, number | null>): Value {
  switch (n.k) {
    case 'num': return n.v;
    case 'lit': return n.v;
    case 'id': return env[n.name] ?? null;
    case 'un': {
      const a = evaluate(n.a, env);
      if (n.op === '-') return -asNum(a, 'unary -');
      if (n.op === '+') return asNum(a, 'unary +');
      if (typeof a !== 'boolean') throw new Error(`${n.op} needs a boolean`);
      return !a;
    }
    case 'tern': {
      const c = evaluate(n.c, env);
      if (typeof c !== 'boolean') throw new Error('the condition of ?: must be a boolean');
      return c ? evaluate(n.a, env) : evaluate(n.b, env);
    }
    case 'call': {
      const args = n.args.map((a) => asNum(evaluate(a, env), `${n.fn}()`));
      if ((n.fn === 'min' || n.fn === 'max') && args.length === 0) throw new Error(`${n.fn}() needs arguments`);
      if (n.fn !== 'min' && n.fn !== 'max' && args.length !== 1) throw new Error(`${n.fn}() takes one argument`);
      const x = args[0]!;
      switch (n.fn) {
        case 'min': return Math.min(...args);
        case 'max': return Math.max(...args);
        case 'abs': return Math.abs(x);
        case 'ceil': return Math.ceil(x);
        case 'floor': return Math.floor(x);
        case 'round': return Math.sign(x) * Math.round(Math.abs(x)); // Go rounds half away from zero
        case 'float': return x;
        default: return Math.trunc(x);
      }
    }
    case 'bin': {
      if (n.op === '??') {
        const a = evaluate(n.a, env);
        return a === null ? evaluate(n.b, env) : a;
      }
      if (n.op === '&&' || n.op === 'and' || n.op === '||' || n.op === 'or') {
        const a = evaluate(n.a, env);
        if (typeof a !== 'boolean') throw new Error(`${n.op} needs booleans`);
        const isAnd = n.op === '&&' || n.op === 'and';
        if (isAnd ? !a : a) return a;
        const b = evaluate(n.b, env);
        if (typeof b !== 'boolean') throw new Error(`${n.op} needs booleans`);
        return b;
      }
      const a = evaluate(n.a, env);
      const b = evaluate(n.b, env);
      if (n.op === '==') return a === b;
      if (n.op === '!=') return a !== b;
      const x = asNum(a, n.op);
      const y = asNum(b, n.op);
      switch (n.op) {
        case '+': return x + y;
        case '-': return x - y;
        case '*': return x * y;
        case '/': return x / y;
        case '%': return x % y;
        case '**': case '^': return x ** y;
        case '<': return x < y;
        case '>': return x > y;
        case '<=': return x <= y;
        default: return x >= y;
      }
    }
  }
}

export interface CompiledFormula {
  source: string;
  /** Trigger names the formula reads. */
  names: string[];
  /** The composite value; null when the formula yields nil (every trigger it reads failed). */
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
      const v = evaluate(tree, values);
      if (typeof v === 'boolean') throw new Error('the formula must return a number, not a boolean');
      return v === null || Number.isNaN(v) ? null : v;
    },
  };
}
