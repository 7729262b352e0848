/**
 * The Canonical ABI between core code and JS values: load/store in linear memory and lift/lower of flat
 * core values, compiled once per type into closures (cached per type object) so a call does no type
 * dispatch. Follows design/mvp/canonical-abi/definitions.py (load, store, lift_flat, lower_flat,
 * lift_flat_values, lower_flat_values) for the synchronous, utf8, 32-bit-memory subset that WASI 0.2
 * components use.
 *
 * JS values: bool, number (8–32-bit ints, floats), bigint (64-bit ints), string (string, char),
 * Uint8Array (list<u8>), arrays (other lists, tuples), objects keyed by field name (records),
 * { tag, val } (variants and results: tag 'ok' | 'err'), the case name (enums), null or the value
 * (option), a bitmask number (flags), the host object (own/borrow of a host resource).
 */
import { alignment, alignTo, casesOf, discriminantSize, elemSize, flatten, flattenVariant, payloadOffset, type CoreType, type ValType } from './types.js';

/** A canonical ABI violation by the guest: a trap. */
export function trap(message: string): WebAssembly.RuntimeError {
  return new WebAssembly.RuntimeError(message);
}

interface HandleEntry { res: number; rep: unknown; own: boolean }

/** The handle table of one component instance (index 0 is never a valid handle). */
export class Handles {
  private entries: (HandleEntry | undefined)[] = [undefined];
  private free: number[] = [];
  add(res: number, rep: unknown, own = true): number {
    const e = { res, rep, own };
    const i = this.free.pop();
    if (i !== undefined) {
      this.entries[i] = e;
      return i;
    }
    this.entries.push(e);
    return this.entries.length - 1;
  }
  get(h: number, res: number): HandleEntry {
    const e = this.entries[h];
    if (!e || e.res !== res) throw trap(`unknown handle ${h} for this resource type`);
    return e;
  }
  remove(h: number, res: number): HandleEntry {
    const e = this.get(h, res);
    this.entries[h] = undefined;
    this.free.push(h);
    return e;
  }
  /** Every live entry, for disposing what the guest never dropped. */
  live(): HandleEntry[] {
    return this.entries.filter((e): e is HandleEntry => e !== undefined);
  }
}

/** Linear memory, realloc and handle table of one call. Views are refreshed when the memory grew. */
export class Mem {
  private buf: ArrayBuffer | null = null;
  private dv_: DataView = new DataView(new ArrayBuffer(0));
  private u8_: Uint8Array = new Uint8Array(0);
  constructor(
    readonly memory: WebAssembly.Memory | null,
    readonly realloc: ((a: number, b: number, c: number, d: number) => number) | null,
    readonly handles: Handles,
  ) {}
  private refresh(): void {
    if (!this.memory) throw trap('the function needs a memory but its canonical options give none');
    const b = this.memory.buffer as ArrayBuffer;
    if (b !== this.buf) {
      this.buf = b;
      this.dv_ = new DataView(b);
      this.u8_ = new Uint8Array(b);
    }
  }
  get dv(): DataView { this.refresh(); return this.dv_; }
  get u8(): Uint8Array { this.refresh(); return this.u8_; }
  range(ptr: number, len: number): Uint8Array {
    const u8 = this.u8;
    if (ptr + len > u8.length) throw trap(`out-of-bounds memory range ${ptr}+${len}`);
    return u8.subarray(ptr, ptr + len);
  }
  alloc(align: number, size: number): number {
    if (!this.realloc) throw trap('the function returns data in memory but its canonical options give no realloc');
    const p = this.realloc(0, 0, align, size) >>> 0;
    if (p % align !== 0) throw trap('realloc returned a misaligned pointer');
    if (p + size > this.u8.length) throw trap('realloc returned an out-of-bounds pointer');
    return p;
  }
}

type Load = (m: Mem, ptr: number) => unknown;
type Store = (m: Mem, v: any, ptr: number) => void;
/** Reads flat values starting at it.i (advancing it). */
type LiftFlat = (m: Mem, vals: any[], it: { i: number }) => unknown;
type LowerFlat = (m: Mem, v: any, out: any[]) => void;

export interface Codec { load: Load; store: Store; lift: LiftFlat; lower: LowerFlat; size: number; align: number }

const cache = new WeakMap<ValType, Codec>();
const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** Host-side hooks for handles: how an own/borrow of a resource is turned into a value and back. */
export interface ResourceHooks {
  /** A host rep for a borrowed handle (guest-defined resources: the i32 rep). */
  borrow(m: Mem, h: number, res: number): unknown;
  take(m: Mem, h: number, res: number): unknown;
  give(m: Mem, rep: unknown, res: number): number;
}

export const defaultHooks: ResourceHooks = {
  borrow: (m, h, res) => m.handles.get(h, res).rep,
  take: (m, h, res) => m.handles.remove(h, res).rep,
  give: (m, rep, res) => m.handles.add(res, rep),
};

function str(m: Mem, ptr: number, len: number): string {
  try {
    return dec.decode(m.range(ptr, len));
  } catch (err) {
    if (err instanceof WebAssembly.RuntimeError) throw err;
    throw trap('a string from the guest is not valid UTF-8');
  }
}

function putStr(m: Mem, s: string): [number, number] {
  const b = enc.encode(s);
  if (b.length === 0) return [1, 0];
  const p = m.alloc(1, b.length);
  m.u8.set(b, p);
  return [p, b.length];
}

function char(cp: number): string {
  if (cp >= 0x110000 || (cp >= 0xd800 && cp < 0xe000)) throw trap(`invalid char code point ${cp}`);
  return String.fromCodePoint(cp);
}

function caseIndex(names: string[], tag: string): number {
  const i = names.indexOf(tag);
  if (i < 0) throw new TypeError(`host value has case "${tag}", not one of ${names.join(', ')}`);
  return i;
}

export function codec(t: ValType, hooks: ResourceHooks = defaultHooks): Codec {
  const hit = hooks === defaultHooks ? cache.get(t) : undefined;
  if (hit) return hit;
  const c = build(t, hooks);
  if (hooks === defaultHooks) cache.set(t, c);
  return c;
}

function int(size: number, signed: boolean, bits: number): Pick<Codec, 'load' | 'store' | 'lift' | 'lower'> {
  const norm = (x: number) => (signed ? (bits === 32 ? x | 0 : (x << (32 - bits)) >> (32 - bits)) : bits === 32 ? x >>> 0 : x & ((1 << bits) - 1));
  const load: Load = size === 1 ? (signed ? (m, p) => m.dv.getInt8(p) : (m, p) => m.dv.getUint8(p))
    : size === 2 ? (signed ? (m, p) => m.dv.getInt16(p, true) : (m, p) => m.dv.getUint16(p, true))
      : signed ? (m, p) => m.dv.getInt32(p, true) : (m, p) => m.dv.getUint32(p, true);
  const store: Store = size === 1 ? (m, v, p) => m.dv.setUint8(p, v) : size === 2 ? (m, v, p) => m.dv.setUint16(p, v, true) : (m, v, p) => m.dv.setUint32(p, v >>> 0, true);
  return { load, store, lift: (_m, vals, it) => norm(vals[it.i++] as number), lower: (_m, v, out) => { out.push(Number(v) | 0); } };
}

function build(t: ValType, hooks: ResourceHooks): Codec {
  const size = elemSize(t);
  const align = alignment(t);
  const mk = (p: Pick<Codec, 'load' | 'store' | 'lift' | 'lower'>): Codec => ({ ...p, size, align });
  switch (t.k) {
    case 'bool': return mk({
      load: (m, p) => m.dv.getUint8(p) !== 0,
      store: (m, v, p) => m.dv.setUint8(p, v ? 1 : 0),
      lift: (_m, vals, it) => vals[it.i++] !== 0,
      lower: (_m, v, out) => { out.push(v ? 1 : 0); },
    });
    case 's8': return mk(int(1, true, 8));
    case 'u8': return mk(int(1, false, 8));
    case 's16': return mk(int(2, true, 16));
    case 'u16': return mk(int(2, false, 16));
    case 's32': return mk(int(4, true, 32));
    case 'u32': return mk(int(4, false, 32));
    case 's64': case 'u64': {
      const signed = t.k === 's64';
      return mk({
        load: signed ? (m, p) => m.dv.getBigInt64(p, true) : (m, p) => m.dv.getBigUint64(p, true),
        store: (m, v, p) => m.dv.setBigUint64(p, BigInt.asUintN(64, BigInt(v)), true),
        lift: signed ? (_m, vals, it) => BigInt.asIntN(64, vals[it.i++]) : (_m, vals, it) => BigInt.asUintN(64, vals[it.i++]),
        lower: (_m, v, out) => { out.push(BigInt.asIntN(64, BigInt(v))); },
      });
    }
    case 'f32': return mk({
      load: (m, p) => m.dv.getFloat32(p, true), store: (m, v, p) => m.dv.setFloat32(p, v, true),
      lift: (_m, vals, it) => vals[it.i++], lower: (_m, v, out) => { out.push(v); },
    });
    case 'f64': return mk({
      load: (m, p) => m.dv.getFloat64(p, true), store: (m, v, p) => m.dv.setFloat64(p, v, true),
      lift: (_m, vals, it) => vals[it.i++], lower: (_m, v, out) => { out.push(v); },
    });
    case 'char': return mk({
      load: (m, p) => char(m.dv.getUint32(p, true)), store: (m, v, p) => m.dv.setUint32(p, (v as string).codePointAt(0)!, true),
      lift: (_m, vals, it) => char(vals[it.i++] >>> 0), lower: (_m, v, out) => { out.push((v as string).codePointAt(0)!); },
    });
    case 'string': return mk({
      load: (m, p) => str(m, m.dv.getUint32(p, true), m.dv.getUint32(p + 4, true)),
      store: (m, v, p) => {
        const [sp, sl] = putStr(m, v);
        m.dv.setUint32(p, sp, true);
        m.dv.setUint32(p + 4, sl, true);
      },
      lift: (m, vals, it) => str(m, vals[it.i++] >>> 0, vals[it.i++] >>> 0),
      lower: (m, v, out) => { out.push(...putStr(m, v)); },
    });
    case 'list': {
      const e = t.t;
      const bytes = e.k === 'u8';
      const ec = bytes ? null : codec(e, hooks);
      const loadList = (m: Mem, ptr: number, len: number): unknown => {
        if (bytes) return m.range(ptr, len).slice();
        const out: unknown[] = [];
        m.range(ptr, len * ec!.size);
        for (let i = 0; i < len; i++) out.push(ec!.load(m, ptr + i * ec!.size));
        return out;
      };
      const storeList = (m: Mem, v: any): [number, number] => {
        if (bytes) {
          const b = v as Uint8Array;
          if (b.length === 0) return [1, 0];
          const p = m.alloc(1, b.length);
          m.u8.set(b, p);
          return [p, b.length];
        }
        const arr = v as unknown[];
        if (arr.length === 0) return [ec!.align, 0];
        const p = m.alloc(ec!.align, arr.length * ec!.size);
        arr.forEach((x, i) => ec!.store(m, x, p + i * ec!.size));
        return [p, arr.length];
      };
      return mk({
        load: (m, p) => loadList(m, m.dv.getUint32(p, true), m.dv.getUint32(p + 4, true)),
        store: (m, v, p) => {
          const [lp, ll] = storeList(m, v);
          m.dv.setUint32(p, lp, true);
          m.dv.setUint32(p + 4, ll, true);
        },
        lift: (m, vals, it) => loadList(m, vals[it.i++] >>> 0, vals[it.i++] >>> 0),
        lower: (m, v, out) => { out.push(...storeList(m, v)); },
      });
    }
    case 'record': case 'tuple': {
      const names = t.k === 'record' ? t.fields.map((f) => f.name) : null;
      const cs = (t.k === 'record' ? t.fields.map((f) => f.t) : t.ts).map((x) => codec(x, hooks));
      const offsets: number[] = [];
      let o = 0;
      for (const c of cs) {
        o = alignTo(o, c.align);
        offsets.push(o);
        o += c.size;
      }
      const key = (i: number): string | number => (names ? names[i]! : i);
      return mk({
        load: (m, p) => {
          const v: any = names ? {} : [];
          cs.forEach((c, i) => { v[key(i)] = c.load(m, p + offsets[i]!); });
          return v;
        },
        store: (m, v, p) => cs.forEach((c, i) => c.store(m, v[key(i)], p + offsets[i]!)),
        lift: (m, vals, it) => {
          const v: any = names ? {} : [];
          cs.forEach((c, i) => { v[key(i)] = c.lift(m, vals, it); });
          return v;
        },
        lower: (m, v, out) => cs.forEach((c, i) => c.lower(m, v[key(i)], out)),
      });
    }
    case 'flags': {
      const n = size;
      return mk({
        load: (m, p) => (n === 1 ? m.dv.getUint8(p) : n === 2 ? m.dv.getUint16(p, true) : m.dv.getUint32(p, true)),
        store: (m, v, p) => (n === 1 ? m.dv.setUint8(p, v) : n === 2 ? m.dv.setUint16(p, v, true) : m.dv.setUint32(p, v >>> 0, true)),
        lift: (_m, vals, it) => vals[it.i++] >>> 0,
        lower: (_m, v, out) => { out.push(v | 0); },
      });
    }
    case 'own': case 'borrow': {
      const res = t.res;
      const fromGuest = t.k === 'own' ? hooks.take : hooks.borrow;
      return mk({
        load: (m, p) => fromGuest(m, m.dv.getUint32(p, true), res),
        store: (m, v, p) => m.dv.setUint32(p, hooks.give(m, v, res), true),
        lift: (m, vals, it) => fromGuest(m, vals[it.i++] >>> 0, res),
        lower: (m, v, out) => { out.push(hooks.give(m, v, res)); },
      });
    }
    default: return mk(variant(t, hooks));
  }
}

function variant(t: ValType, hooks: ResourceHooks): Pick<Codec, 'load' | 'store' | 'lift' | 'lower'> {
  const cases = casesOf(t)!;
  const names = cases.map((c) => c.name);
  const cs = cases.map((c) => (c.t ? codec(c.t, hooks) : null));
  const dsize = discriminantSize(cases.length);
  const off = payloadOffset(cases);
  const flat = flattenVariant(cases).slice(1);
  const caseFlat = cases.map((c) => (c.t ? flatten(c.t) : []));
  // JS shape per specialization.
  const toJs = (i: number, v: unknown): unknown => {
    if (t.k === 'enum') return names[i];
    if (t.k === 'option') return i === 0 ? null : v;
    if (t.k === 'result') return { tag: i === 0 ? 'ok' : 'err', val: v };
    return { tag: names[i], val: v };
  };
  const fromJs = (v: any): [number, unknown] => {
    if (t.k === 'enum') return [caseIndex(names, v), undefined];
    if (t.k === 'option') return v === null || v === undefined ? [0, undefined] : [1, v];
    if (t.k === 'result') return [v.tag === 'ok' ? 0 : v.tag === 'err' ? 1 : caseIndex(['ok', 'err'], v.tag), v.val];
    return [caseIndex(names, v.tag), v.val];
  };
  const loadDisc = dsize === 1 ? (m: Mem, p: number) => m.dv.getUint8(p) : dsize === 2 ? (m: Mem, p: number) => m.dv.getUint16(p, true) : (m: Mem, p: number) => m.dv.getUint32(p, true);
  return {
    load: (m, p) => {
      const i = loadDisc(m, p);
      if (i >= cases.length) throw trap(`invalid variant discriminant ${i}`);
      const c = cs[i];
      return toJs(i, c ? c.load(m, p + off) : undefined);
    },
    store: (m, v, p) => {
      const [i, val] = fromJs(v);
      if (dsize === 1) m.dv.setUint8(p, i);
      else if (dsize === 2) m.dv.setUint16(p, i, true);
      else m.dv.setUint32(p, i, true);
      const c = cs[i];
      if (c) c.store(m, val, p + off);
    },
    lift: (m, vals, it) => {
      const i = vals[it.i++] >>> 0;
      if (i >= cases.length) throw trap(`invalid variant discriminant ${i}`);
      const c = cs[i];
      let val: unknown;
      if (c) {
        // Coerce the joined flat slots back to this case's own types.
        const have = flat;
        const want = caseFlat[i]!;
        const sub: any[] = [];
        for (let k = 0; k < want.length; k++) sub.push(coerceIn(vals[it.i + k], have[k]!, want[k]!));
        val = c.lift(m, sub, { i: 0 });
      }
      it.i += flat.length;
      return toJs(i, val);
    },
    lower: (m, v, out) => {
      const [i, val] = fromJs(v);
      out.push(i);
      const c = cs[i];
      const payload: any[] = [];
      if (c) c.lower(m, val, payload);
      const want = caseFlat[i]!;
      for (let k = 0; k < flat.length; k++) {
        out.push(k < payload.length ? coerceOut(payload[k], want[k]!, flat[k]!) : flat[k] === 'i64' ? 0n : 0);
      }
    },
  };
}

const f32 = new DataView(new ArrayBuffer(8));

function coerceIn(x: any, have: CoreType, want: CoreType): unknown {
  if (have === want) return x;
  if (have === 'i32' && want === 'f32') { f32.setInt32(0, x, true); return f32.getFloat32(0, true); }
  if (have === 'i64' && want === 'i32') return Number(BigInt.asIntN(32, x));
  if (have === 'i64' && want === 'f32') { f32.setInt32(0, Number(BigInt.asIntN(32, x)), true); return f32.getFloat32(0, true); }
  if (have === 'i64' && want === 'f64') { f32.setBigInt64(0, x, true); return f32.getFloat64(0, true); }
  return x;
}

function coerceOut(x: any, have: CoreType, want: CoreType): unknown {
  if (have === want) return x;
  if (have === 'f32' && want === 'i32') { f32.setFloat32(0, x, true); return f32.getInt32(0, true); }
  if (have === 'i32' && want === 'i64') return BigInt(x);
  if (have === 'f32' && want === 'i64') { f32.setFloat32(0, x, true); return BigInt(f32.getInt32(0, true)); }
  if (have === 'f64' && want === 'i64') { f32.setFloat64(0, x, true); return f32.getBigInt64(0, true); }
  return x;
}
