/**
 * Reads a component binary and links it once, symbolically: every nested component is instantiated at
 * link time (its arguments are static), so what is left is a flat plan — the core modules, the core
 * instantiations in order with where each import comes from, and the trampolines (canon lower,
 * resource.new/drop/rep) that stand between core code and the host. Running an event then only
 * instantiates core modules (run.ts). Binary format: design/mvp/Binary.md of WebAssembly/component-model.
 * See docs/decisions/170-component-model-host.md.
 */
import type { FuncType, ResourceInfo, ValType } from './types.js';

/** Where a core import comes from. */
export type CoreItem =
  | { src: 'export'; inst: number; name: string }
  | { src: 'tramp'; id: number };

export type CoreArg = { real: number } | { items: Record<string, CoreItem> };

export interface CoreInstantiation { module: number; args: Record<string, CoreArg> }

export interface CanonOpts {
  memory: CoreItem | null;
  realloc: CoreItem | null;
  postReturn: CoreItem | null;
  encoding: 'utf8' | 'utf16' | 'latin1+utf16';
}

export type CompFunc =
  | { kind: 'host'; iface: string; name: string; type: FuncType }
  | { kind: 'lift'; core: CoreItem; opts: CanonOpts; type: FuncType };

export type Tramp =
  | { kind: 'lower'; func: CompFunc; opts: CanonOpts }
  | { kind: 'resource.drop' | 'resource.new' | 'resource.rep'; res: number };

type InstanceType = { k: 'instance'; exports: Record<string, Extern> };
type ComponentType = { k: 'component'; imports: Record<string, Extern>; exports: Record<string, Extern> };
type ResourceEntry = { k: 'resource'; res: number };
export type TypeEntry = ValType | FuncType | InstanceType | ComponentType | ResourceEntry | { k: 'core' };

type Extern =
  | { sort: 'func'; t: FuncType }
  | { sort: 'type'; t: TypeEntry }
  | { sort: 'instance'; t: InstanceType }
  | { sort: 'component'; t: ComponentType }
  | { sort: 'module' }
  | { sort: 'value' };

export type CompExport =
  | { sort: 'func'; f: CompFunc }
  | { sort: 'instance'; i: CompInst }
  | { sort: 'type'; t: TypeEntry }
  | { sort: 'component'; c: ComponentDef }
  | { sort: 'module'; m: number };

export type CompInst = { kind: 'exports'; exports: Record<string, CompExport> };

interface ComponentDef { bytes: Uint8Array; start: number; end: number; scope: Scope }

type CoreInst = { real: number } | { items: Record<string, CoreItem> };

interface Scope {
  parent: Scope | null;
  /** Component scopes have everything; instance/component type scopes only types. */
  types: TypeEntry[];
  coreTypes: unknown[];
  coreFuncs: CoreItem[];
  coreTables: CoreItem[];
  coreMems: CoreItem[];
  coreGlobals: CoreItem[];
  coreTags: CoreItem[];
  coreModules: number[];
  coreInstances: CoreInst[];
  funcs: CompFunc[];
  instances: CompInst[];
  components: ComponentDef[];
  exports: Record<string, CompExport>;
  /** Nested component being instantiated: its imports come from here. */
  args: Record<string, CompExport> | null;
}

export interface Plan {
  modules: Uint8Array[];
  instances: CoreInstantiation[];
  trampolines: Tramp[];
  resources: ResourceInfo[];
  exports: Record<string, CompExport>;
  /** Host interfaces and functions the component imports, "wasi:io/streams#[method]input-stream.read". */
  imports: string[];
}

export class LinkError extends Error {}

/** "wasi:io/streams@0.2.12" -> "wasi:io/streams" */
export function unversioned(name: string): string {
  const at = name.indexOf('@');
  return at < 0 ? name : name.slice(0, at);
}

class Reader {
  pos: number;
  constructor(readonly b: Uint8Array, pos: number, readonly end: number) { this.pos = pos; }
  byte(): number {
    if (this.pos >= this.end) throw new LinkError('unexpected end of a section');
    return this.b[this.pos++]!;
  }
  peek(): number {
    if (this.pos >= this.end) throw new LinkError('unexpected end of a section');
    return this.b[this.pos]!;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const x = this.byte();
      result += (x & 0x7f) * 2 ** shift;
      if ((x & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new LinkError('LEB128 number too long');
    }
  }
  /** Skips a signed LEB128 of any width. */
  sleb(): void {
    while (this.byte() & 0x80) { /* continue */ }
  }
  name(): string {
    const n = this.u32();
    if (this.pos + n > this.end) throw new LinkError('name past the end of a section');
    const s = new TextDecoder().decode(this.b.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
  vec<T>(f: () => T): T[] {
    const n = this.u32();
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(f());
    return out;
  }
}

const prims: Record<number, ValType['k']> = {
  0x7f: 'bool', 0x7e: 's8', 0x7d: 'u8', 0x7c: 's16', 0x7b: 'u16', 0x7a: 's32', 0x79: 'u32', 0x78: 's64',
  0x77: 'u64', 0x76: 'f32', 0x75: 'f64', 0x74: 'char', 0x73: 'string',
};

function newScope(parent: Scope | null, args: Record<string, CompExport> | null = null): Scope {
  return {
    parent, types: [], coreTypes: [], coreFuncs: [], coreTables: [], coreMems: [], coreGlobals: [], coreTags: [],
    coreModules: [], coreInstances: [], funcs: [], instances: [], components: [], exports: {}, args,
  };
}

/** Links a component binary (the whole file, preamble included). Throws LinkError for what it cannot link. */
export function linkComponent(bytes: Uint8Array): Plan {
  if (!isComponent(bytes)) throw new LinkError('not a WebAssembly component (its header is not \\0asm 0d 00 01 00); a core module (wasm32-wasi) runs with abi: wasi-command');
  const plan: Plan = { modules: [], instances: [], trampolines: [], resources: [], exports: {}, imports: [] };
  const top = newScope(null);
  linkScope(plan, top, bytes, 8, bytes.length, true);
  plan.exports = top.exports;
  return plan;
}

/** A component's preamble: \0asm, version 0x0d 0x00, layer 0x01 0x00 (a core module has layer 0). */
export function isComponent(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d && bytes[6] === 1 && bytes[7] === 0;
}

function linkScope(plan: Plan, scope: Scope, bytes: Uint8Array, start: number, end: number, isTop: boolean): void {
  const r = new Reader(bytes, start, end);
  while (r.pos < end) {
    const id = r.byte();
    const size = r.u32();
    const s = new Reader(bytes, r.pos, r.pos + size);
    r.pos += size;
    if (r.pos > end) throw new LinkError('section past the end of the component');
    switch (id) {
      case 0: break; // custom
      case 1: {
        plan.modules.push(bytes.slice(s.pos, s.end));
        scope.coreModules.push(plan.modules.length - 1);
        break;
      }
      case 2: s.vec(() => coreInstance(plan, scope, s)); break;
      case 3: s.vec(() => scope.coreTypes.push(coreType(s))); break;
      case 4: {
        // The nested component's preamble is part of its bytes.
        scope.components.push({ bytes, start: s.pos + 8, end: s.end, scope });
        break;
      }
      case 5: s.vec(() => scope.instances.push(instance(plan, scope, s))); break;
      case 6: s.vec(() => alias(scope, s)); break;
      case 7: s.vec(() => scope.types.push(defType(plan, scope, s))); break;
      case 8: s.vec(() => canon(plan, scope, s)); break;
      case 10: s.vec(() => importDef(plan, scope, s, isTop)); break;
      case 11: s.vec(() => exportDef(scope, s)); break;
      case 9: throw new LinkError('the component has a start function (value definitions), which featherweight does not support');
      case 12: throw new LinkError('the component has value definitions, which featherweight does not support');
      default: throw new LinkError(`unknown component section id ${id}`);
    }
  }
}

function coreSortItem(scope: Scope, sort: number, idx: number): CoreItem {
  const space = sort === 0 ? scope.coreFuncs : sort === 1 ? scope.coreTables : sort === 2 ? scope.coreMems : sort === 3 ? scope.coreGlobals : sort === 4 ? scope.coreTags : null;
  if (!space) throw new LinkError(`core sort ${sort} cannot be exported from a core instance`);
  const item = space[idx];
  if (!item) throw new LinkError(`core index ${idx} of sort ${sort} is out of range`);
  return item;
}

function coreInstance(plan: Plan, scope: Scope, r: Reader): void {
  const tag = r.byte();
  if (tag === 0x00) {
    const m = scope.coreModules[r.u32()];
    if (m === undefined) throw new LinkError('core instance of an unknown module');
    const args: Record<string, CoreArg> = {};
    for (const [name, inst] of r.vec(() => {
      const n = r.name();
      if (r.byte() !== 0x12) throw new LinkError('core instantiate argument is not an instance');
      return [n, r.u32()] as const;
    })) {
      const ci = scope.coreInstances[inst];
      if (!ci) throw new LinkError('core instantiate argument names an unknown instance');
      args[name] = ci;
    }
    plan.instances.push({ module: m, args });
    scope.coreInstances.push({ real: plan.instances.length - 1 });
  } else if (tag === 0x01) {
    const items: Record<string, CoreItem> = {};
    for (const [name, sort, idx] of r.vec(() => [r.name(), r.byte(), r.u32()] as const)) items[name] = coreSortItem(scope, sort, idx);
    scope.coreInstances.push({ items });
  } else throw new LinkError(`unknown core instance form 0x${tag.toString(16)}`);
}

// ---- core types: parsed only to be skipped ----

function coreValType(r: Reader): void {
  const b = r.byte();
  if (b === 0x63 || b === 0x64) r.sleb(); // (ref null? ht)
}

function coreExternType(r: Reader): void {
  const kind = r.byte();
  if (kind === 0x00) r.u32();
  else if (kind === 0x01) { coreValType(r); limits(r); }
  else if (kind === 0x02) limits(r);
  else if (kind === 0x03) { coreValType(r); r.byte(); }
  else if (kind === 0x04) { r.byte(); r.u32(); }
  else throw new LinkError(`unknown core extern type 0x${kind.toString(16)}`);
}

function limits(r: Reader): void {
  const flags = r.byte();
  r.u32();
  if (flags & 1) r.u32();
}

function coreType(r: Reader): unknown {
  const b = r.byte();
  if (b === 0x60) {
    r.vec(() => coreValType(r));
    r.vec(() => coreValType(r));
  } else if (b === 0x50) {
    r.vec(() => {
      const d = r.byte();
      if (d === 0x00) { r.name(); r.name(); coreExternType(r); }
      else if (d === 0x01) coreType(r);
      else if (d === 0x02) { r.byte(); r.byte(); r.u32(); r.u32(); }
      else if (d === 0x03) { r.name(); coreExternType(r); }
      else throw new LinkError(`unknown core module type declaration 0x${d.toString(16)}`);
    });
  } else throw new LinkError(`core type form 0x${b.toString(16)} (GC types) is not supported`);
  return { k: 'core' };
}

// ---- component types ----

function typeAt(scope: Scope, idx: number): TypeEntry {
  const t = scope.types[idx];
  if (!t) throw new LinkError(`type index ${idx} is out of range`);
  return t;
}

function valType(scope: Scope, r: Reader): ValType {
  const b = r.peek();
  const prim = prims[b];
  if (prim) {
    r.byte();
    return { k: prim } as ValType;
  }
  if (b === 0x64) throw new LinkError('error-context values are not supported');
  const t = typeAt(scope, r.u32());
  if (!isValType(t)) throw new LinkError(`a value type refers to a ${t.k} type`);
  return t;
}

function isValType(t: TypeEntry): t is ValType {
  return !['func', 'instance', 'component', 'resource', 'core'].includes(t.k);
}

function resourceOf(scope: Scope, idx: number): number {
  const t = typeAt(scope, idx);
  if (t.k !== 'resource') throw new LinkError('own/borrow of a type that is not a resource');
  return t.res;
}

function optVal(scope: Scope, r: Reader): ValType | null {
  const b = r.byte();
  if (b === 0x00) return null;
  if (b !== 0x01) throw new LinkError('bad optional value type');
  return valType(scope, r);
}

function defValType(scope: Scope, r: Reader): ValType {
  const b = r.peek();
  if (prims[b] || b === 0x64) return valType(scope, r);
  r.byte();
  switch (b) {
    case 0x72: return { k: 'record', fields: r.vec(() => ({ name: r.name(), t: valType(scope, r) })) };
    case 0x71: return {
      k: 'variant', cases: r.vec(() => {
        const name = r.name();
        const t = optVal(scope, r);
        if (r.byte() !== 0x00) throw new LinkError('variant case refinements are not supported');
        return { name, t };
      }),
    };
    case 0x70: return { k: 'list', t: valType(scope, r) };
    case 0x6f: return { k: 'tuple', ts: r.vec(() => valType(scope, r)) };
    case 0x6e: return { k: 'flags', names: r.vec(() => r.name()) };
    case 0x6d: return { k: 'enum', names: r.vec(() => r.name()) };
    case 0x6b: return { k: 'option', t: valType(scope, r) };
    case 0x6a: {
      const ok = optVal(scope, r);
      const err = optVal(scope, r);
      return { k: 'result', ok, err };
    }
    case 0x69: return { k: 'own', res: resourceOf(scope, r.u32()) };
    case 0x68: return { k: 'borrow', res: resourceOf(scope, r.u32()) };
    case 0x67: throw new LinkError('fixed-size lists are not supported');
    case 0x66: case 0x65: throw new LinkError('the component uses async streams/futures (WASI 0.3), which featherweight does not support');
    default: throw new LinkError(`unknown value type 0x${b.toString(16)}`);
  }
}

function funcType(scope: Scope, r: Reader): FuncType {
  const params = r.vec(() => ({ name: r.name(), t: valType(scope, r) }));
  const rb = r.byte();
  let result: ValType | null = null;
  if (rb === 0x00) result = valType(scope, r);
  else if (rb === 0x01) {
    if (r.byte() !== 0x00) throw new LinkError('named results are not supported');
  } else throw new LinkError('bad function result list');
  return { k: 'func', params, result };
}

function newResource(plan: Plan, name: string, guestDefined: boolean): ResourceEntry {
  plan.resources.push({ iface: '', name, guestDefined });
  return { k: 'resource', res: plan.resources.length - 1 };
}

function externType(plan: Plan, scope: Scope, r: Reader, name: string): Extern {
  const kind = r.byte();
  switch (kind) {
    case 0x00: r.byte(); r.u32(); return { sort: 'module' };
    case 0x01: {
      const t = typeAt(scope, r.u32());
      if (t.k !== 'func') throw new LinkError(`${name}: func extern of a non-func type`);
      return { sort: 'func', t };
    }
    case 0x02: throw new LinkError('value imports/exports are not supported');
    case 0x03: {
      const b = r.byte();
      if (b === 0x00) return { sort: 'type', t: typeAt(scope, r.u32()) };
      if (b === 0x01) return { sort: 'type', t: newResource(plan, name, false) };
      throw new LinkError('bad type bound');
    }
    case 0x04: {
      const t = typeAt(scope, r.u32());
      if (t.k !== 'component') throw new LinkError(`${name}: component extern of a non-component type`);
      return { sort: 'component', t };
    }
    case 0x05: {
      const t = typeAt(scope, r.u32());
      if (t.k !== 'instance') throw new LinkError(`${name}: instance extern of a non-instance type`);
      return { sort: 'instance', t };
    }
    default: throw new LinkError(`unknown extern type 0x${kind.toString(16)}`);
  }
}

function externName(r: Reader): string {
  const tag = r.byte();
  const name = r.name();
  if (tag === 0x02) {
    r.vec(() => {
      const a = r.byte();
      if (a === 0x00 || a === 0x01) r.name();
      else if (a === 0x02) r.name();
      else throw new LinkError('unknown name attribute');
    });
  } else if (tag !== 0x00 && tag !== 0x01) throw new LinkError('unknown extern name form');
  return name;
}

/** Declarations of an instance or component type, in their own type scope. */
function typeDecls(plan: Plan, parent: Scope, r: Reader, component: boolean): InstanceType | ComponentType {
  const scope = newScope(parent);
  const exports: Record<string, Extern> = {};
  const imports: Record<string, Extern> = {};
  r.vec(() => {
    const d = r.byte();
    if (d === 0x00) scope.coreTypes.push(coreType(r));
    else if (d === 0x01) scope.types.push(defType(plan, scope, r));
    else if (d === 0x02) alias(scope, r);
    else if (d === 0x04 || (component && d === 0x03)) {
      const name = externName(r);
      const e = externType(plan, scope, r, name);
      (d === 0x04 ? exports : imports)[name] = e;
      // Only type exports add to the type index space (functions and instances have their own).
      if (e.sort === 'type') scope.types.push(e.t);
    } else throw new LinkError(`unknown type declaration 0x${d.toString(16)}`);
  });
  return component ? { k: 'component', imports, exports } : { k: 'instance', exports };
}

function defType(plan: Plan, scope: Scope, r: Reader): TypeEntry {
  const b = r.peek();
  if (b === 0x40) { r.byte(); return funcType(scope, r); }
  if (b === 0x43) throw new LinkError('async functions are not supported');
  if (b === 0x41) { r.byte(); return typeDecls(plan, scope, r, true); }
  if (b === 0x42) { r.byte(); return typeDecls(plan, scope, r, false); }
  if (b === 0x3f) {
    r.byte();
    if (r.byte() !== 0x7f) throw new LinkError('resource representation must be i32');
    const hasDtor = r.byte();
    if (hasDtor === 0x01) r.u32(); // destructor: guests here run to completion, handles die with the instance
    return newResource(plan, '', true);
  }
  return defValType(scope, r);
}

// ---- aliases ----

function outer(scope: Scope, ct: number): Scope {
  let s: Scope | null = scope;
  for (let i = 0; i < ct && s; i++) s = s.parent;
  if (!s) throw new LinkError('outer alias past the outermost component');
  return s;
}

function instExport(inst: CompInst | undefined, name: string): CompExport {
  if (!inst) throw new LinkError(`alias of "${name}" from an unknown instance`);
  const e = inst.exports[name];
  if (!e) throw new LinkError(`instance has no export "${name}"`);
  return e;
}

function pushExport(scope: Scope, e: CompExport): void {
  if (e.sort === 'func') scope.funcs.push(e.f);
  else if (e.sort === 'instance') scope.instances.push(e.i);
  else if (e.sort === 'type') scope.types.push(e.t);
  else if (e.sort === 'component') scope.components.push(e.c);
  else scope.coreModules.push(e.m);
}

function alias(scope: Scope, r: Reader): void {
  const sort = r.byte();
  const coreSort = sort === 0x00 ? r.byte() : -1;
  const tag = r.byte();
  if (tag === 0x00) {
    const e = instExport(scope.instances[r.u32()], r.name());
    pushExport(scope, e);
  } else if (tag === 0x01) {
    const ci = scope.coreInstances[r.u32()];
    const name = r.name();
    if (!ci) throw new LinkError(`core alias of "${name}" from an unknown instance`);
    let item: CoreItem;
    if ('real' in ci) item = { src: 'export', inst: ci.real, name };
    else {
      const it = ci.items[name];
      if (!it) throw new LinkError(`core instance has no export "${name}"`);
      item = it;
    }
    const space = coreSort === 0 ? scope.coreFuncs : coreSort === 1 ? scope.coreTables : coreSort === 2 ? scope.coreMems : coreSort === 3 ? scope.coreGlobals : scope.coreTags;
    space.push(item);
  } else if (tag === 0x02) {
    const target = outer(scope, r.u32());
    const idx = r.u32();
    if (sort === 0x03) scope.types.push(typeAt(target, idx));
    else if (sort === 0x00 && coreSort === 0x10) scope.coreTypes.push(target.coreTypes[idx]);
    else if (sort === 0x00 && coreSort === 0x11) scope.coreModules.push(target.coreModules[idx]!);
    else if (sort === 0x04) scope.components.push(target.components[idx]!);
    else throw new LinkError('unsupported outer alias sort');
  } else throw new LinkError(`unknown alias form 0x${tag.toString(16)}`);
}

// ---- canon ----

function opts(scope: Scope, r: Reader): CanonOpts {
  const o: CanonOpts = { memory: null, realloc: null, postReturn: null, encoding: 'utf8' };
  r.vec(() => {
    const b = r.byte();
    if (b === 0x00) o.encoding = 'utf8';
    else if (b === 0x01) o.encoding = 'utf16';
    else if (b === 0x02) o.encoding = 'latin1+utf16';
    else if (b === 0x03) o.memory = coreSortItem(scope, 2, r.u32());
    else if (b === 0x04) o.realloc = coreSortItem(scope, 0, r.u32());
    else if (b === 0x05) o.postReturn = coreSortItem(scope, 0, r.u32());
    else throw new LinkError('the component uses async canonical options, which featherweight does not support');
  });
  if (o.encoding !== 'utf8') throw new LinkError(`string encoding ${o.encoding} is not supported (only utf8)`);
  return o;
}

function canon(plan: Plan, scope: Scope, r: Reader): void {
  const b = r.byte();
  const tramp = (t: Tramp) => {
    plan.trampolines.push(t);
    scope.coreFuncs.push({ src: 'tramp', id: plan.trampolines.length - 1 });
  };
  if (b === 0x00) {
    if (r.byte() !== 0x00) throw new LinkError('bad canon lift');
    const core = coreSortItem(scope, 0, r.u32());
    const o = opts(scope, r);
    const t = typeAt(scope, r.u32());
    if (t.k !== 'func') throw new LinkError('canon lift of a non-func type');
    scope.funcs.push({ kind: 'lift', core, opts: o, type: t });
  } else if (b === 0x01) {
    if (r.byte() !== 0x00) throw new LinkError('bad canon lower');
    const func = scope.funcs[r.u32()];
    if (!func) throw new LinkError('canon lower of an unknown function');
    tramp({ kind: 'lower', func, opts: opts(scope, r) });
  } else if (b === 0x02 || b === 0x03 || b === 0x04) {
    const res = resourceOf(scope, r.u32());
    tramp({ kind: b === 0x02 ? 'resource.new' : b === 0x03 ? 'resource.drop' : 'resource.rep', res });
  } else if (b === 0x07) {
    // resource.drop async (0x07 in older encodings) is async-only.
    throw new LinkError('the component uses async canonical built-ins, which featherweight does not support');
  } else throw new LinkError(`the component uses canonical built-in 0x${b.toString(16)} (async / threads), which featherweight does not support`);
}

// ---- instances, imports, exports ----

function sortIdx(scope: Scope, r: Reader): CompExport {
  const sort = r.byte();
  if (sort === 0x00) {
    const cs = r.byte();
    const idx = r.u32();
    if (cs === 0x11) return { sort: 'module', m: scope.coreModules[idx]! };
    throw new LinkError('only core modules can be passed as core sorts');
  }
  const idx = r.u32();
  if (sort === 0x01) {
    const f = scope.funcs[idx];
    if (!f) throw new LinkError(`function index ${idx} is out of range`);
    return { sort: 'func', f };
  }
  if (sort === 0x03) return { sort: 'type', t: typeAt(scope, idx) };
  if (sort === 0x04) {
    const c = scope.components[idx];
    if (!c) throw new LinkError(`component index ${idx} is out of range`);
    return { sort: 'component', c };
  }
  if (sort === 0x05) {
    const i = scope.instances[idx];
    if (!i) throw new LinkError(`instance index ${idx} is out of range`);
    return { sort: 'instance', i };
  }
  throw new LinkError('value sorts are not supported');
}

function instance(plan: Plan, scope: Scope, r: Reader): CompInst {
  const tag = r.byte();
  if (tag === 0x00) {
    const def = scope.components[r.u32()];
    if (!def) throw new LinkError('instantiation of an unknown component');
    const args: Record<string, CompExport> = {};
    r.vec(() => {
      const name = r.name();
      args[name] = sortIdx(scope, r);
    });
    const inner = newScope(def.scope, args);
    linkScope(plan, inner, def.bytes, def.start, def.end, false);
    return { kind: 'exports', exports: inner.exports };
  }
  if (tag === 0x01) {
    const exports: Record<string, CompExport> = {};
    r.vec(() => {
      const name = externName(r);
      exports[name] = sortIdx(scope, r);
    });
    return { kind: 'exports', exports };
  }
  throw new LinkError(`unknown instance form 0x${tag.toString(16)}`);
}

/** A host instance from an imported instance type: functions become host functions, resources get their names. */
function hostInstance(plan: Plan, name: string, t: InstanceType): CompInst {
  const iface = unversioned(name);
  const exports: Record<string, CompExport> = {};
  for (const [n, e] of Object.entries(t.exports)) {
    if (e.sort === 'func') {
      exports[n] = { sort: 'func', f: { kind: 'host', iface, name: n, type: e.t } };
      plan.imports.push(`${iface}#${n}`);
    } else if (e.sort === 'type') {
      if (e.t.k === 'resource') {
        const info = plan.resources[e.t.res]!;
        if (!info.iface) { info.iface = iface; info.name = n; }
      }
      exports[n] = { sort: 'type', t: e.t };
    } else if (e.sort === 'instance') exports[n] = { sort: 'instance', i: hostInstance(plan, `${iface}/${n}`, e.t) };
    else throw new LinkError(`import ${name} exports a ${e.sort}, which featherweight cannot provide`);
  }
  return { kind: 'exports', exports };
}

function importDef(plan: Plan, scope: Scope, r: Reader, isTop: boolean): void {
  const name = externName(r);
  const e = externType(plan, scope, r, name);
  if (!isTop) {
    const arg = scope.args?.[name];
    if (!arg) throw new LinkError(`nested component import "${name}" was not supplied`);
    pushExport(scope, arg);
    return;
  }
  if (e.sort === 'instance') scope.instances.push(hostInstance(plan, name, e.t));
  else if (e.sort === 'func') {
    scope.funcs.push({ kind: 'host', iface: '', name, type: e.t });
    plan.imports.push(`#${name}`);
  } else if (e.sort === 'type') {
    if (e.t.k === 'resource') {
      const info = plan.resources[e.t.res]!;
      info.name = name;
    }
    scope.types.push(e.t);
  } else throw new LinkError(`the component imports a ${e.sort} "${name}", which featherweight cannot provide`);
}

function exportDef(scope: Scope, r: Reader): void {
  const name = externName(r);
  const e = sortIdx(scope, r);
  if (r.byte() === 0x01) {
    // An ascribed type: skip it (kind byte + its immediate(s)).
    const kind = r.byte();
    if (kind === 0x00) { r.byte(); r.u32(); }
    else if (kind === 0x03) { if (r.byte() === 0x00) r.u32(); }
    else r.u32();
  }
  scope.exports[name] = e;
  pushExport(scope, e);
}
