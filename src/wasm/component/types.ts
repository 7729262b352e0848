/**
 * Component-model value types as plain data (structured-clonable, so a linked component can be posted to a
 * worker thread), and their Canonical ABI layout: size, alignment and flattening, following
 * design/mvp/canonical-abi/definitions.py of WebAssembly/component-model (despecialize, alignment,
 * elem_size, flatten_type, join).
 */

export type Prim = 'bool' | 's8' | 'u8' | 's16' | 'u16' | 's32' | 'u32' | 's64' | 'u64' | 'f32' | 'f64' | 'char' | 'string';

export type ValType =
  | { k: Prim }
  | { k: 'list'; t: ValType }
  | { k: 'record'; fields: { name: string; t: ValType }[] }
  | { k: 'tuple'; ts: ValType[] }
  | { k: 'variant'; cases: { name: string; t: ValType | null }[] }
  | { k: 'enum'; names: string[] }
  | { k: 'option'; t: ValType }
  | { k: 'result'; ok: ValType | null; err: ValType | null }
  | { k: 'flags'; names: string[] }
  | { k: 'own' | 'borrow'; res: number };

export interface FuncType { k: 'func'; params: { name: string; t: ValType }[]; result: ValType | null }

/** A resource type: host-defined (imported) or defined by the component (resource.new). */
export interface ResourceInfo {
  /** "wasi:io/streams" (version stripped) for an imported one, else '' */
  iface: string;
  name: string;
  /** Core function (by plan item) to call when a guest-defined resource's own handle is dropped. */
  guestDefined: boolean;
}

export type CoreType = 'i32' | 'i64' | 'f32' | 'f64';

/** The variant form every specialized type reduces to (despecialize). */
export type Case = { name: string; t: ValType | null };

export function casesOf(t: ValType): Case[] | null {
  switch (t.k) {
    case 'variant': return t.cases;
    case 'enum': return t.names.map((name) => ({ name, t: null }));
    case 'option': return [{ name: 'none', t: null }, { name: 'some', t: t.t }];
    case 'result': return [{ name: 'ok', t: t.ok }, { name: 'error', t: t.err }];
    default: return null;
  }
}

export function fieldsOf(t: ValType): ValType[] | null {
  if (t.k === 'record') return t.fields.map((f) => f.t);
  if (t.k === 'tuple') return t.ts;
  return null;
}

export function discriminantSize(n: number): 1 | 2 | 4 {
  return n <= 256 ? 1 : n <= 65536 ? 2 : 4;
}

export function alignment(t: ValType): number {
  switch (t.k) {
    case 'bool': case 's8': case 'u8': return 1;
    case 's16': case 'u16': return 2;
    case 's32': case 'u32': case 'f32': case 'char': case 'own': case 'borrow': return 4;
    case 's64': case 'u64': case 'f64': return 8;
    case 'string': case 'list': return 4;
    case 'flags': return t.names.length <= 8 ? 1 : t.names.length <= 16 ? 2 : 4;
    default: {
      const fs = fieldsOf(t);
      if (fs) return fs.reduce((a, f) => Math.max(a, alignment(f)), 1);
      const cs = casesOf(t)!;
      return Math.max(discriminantSize(cs.length), maxCaseAlignment(cs));
    }
  }
}

function maxCaseAlignment(cs: Case[]): number {
  return cs.reduce((a, c) => (c.t ? Math.max(a, alignment(c.t)) : a), 1);
}

export function alignTo(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

export function elemSize(t: ValType): number {
  switch (t.k) {
    case 'bool': case 's8': case 'u8': return 1;
    case 's16': case 'u16': return 2;
    case 's32': case 'u32': case 'f32': case 'char': case 'own': case 'borrow': return 4;
    case 's64': case 'u64': case 'f64': return 8;
    case 'string': case 'list': return 8;
    case 'flags': return t.names.length <= 8 ? 1 : t.names.length <= 16 ? 2 : 4;
    default: {
      const fs = fieldsOf(t);
      if (fs) {
        let s = 0;
        for (const f of fs) s = alignTo(s, alignment(f)) + elemSize(f);
        return alignTo(s, alignment(t));
      }
      const cs = casesOf(t)!;
      let s = alignTo(discriminantSize(cs.length), maxCaseAlignment(cs));
      s += cs.reduce((m, c) => (c.t ? Math.max(m, elemSize(c.t)) : m), 0);
      return alignTo(s, alignment(t));
    }
  }
}

/** Offset of the payload after a variant's discriminant. */
export function payloadOffset(cs: Case[]): number {
  return alignTo(discriminantSize(cs.length), maxCaseAlignment(cs));
}

function join(a: CoreType, b: CoreType): CoreType {
  if (a === b) return a;
  if ((a === 'i32' && b === 'f32') || (a === 'f32' && b === 'i32')) return 'i32';
  return 'i64';
}

export function flatten(t: ValType): CoreType[] {
  switch (t.k) {
    case 'bool': case 's8': case 'u8': case 's16': case 'u16': case 's32': case 'u32': case 'char':
    case 'own': case 'borrow': case 'flags': return ['i32'];
    case 's64': case 'u64': return ['i64'];
    case 'f32': return ['f32'];
    case 'f64': return ['f64'];
    case 'string': case 'list': return ['i32', 'i32'];
    default: {
      const fs = fieldsOf(t);
      if (fs) return fs.flatMap(flatten);
      return flattenVariant(casesOf(t)!);
    }
  }
}

export function flattenVariant(cs: Case[]): CoreType[] {
  const flat: CoreType[] = [];
  for (const c of cs) {
    if (!c.t) continue;
    flatten(c.t).forEach((ft, i) => {
      flat[i] = i < flat.length ? join(flat[i]!, ft) : ft;
    });
  }
  return ['i32', ...flat];
}

export const MAX_FLAT_PARAMS = 16;
export const MAX_FLAT_RESULTS = 1;

export function tupleOf(ts: ValType[]): ValType {
  return { k: 'tuple', ts };
}
