/**
 * Compile cache (one WebAssembly.Module per sha256 of the bytes, per process) and the rewrite that makes
 * the memory limit enforceable.
 *
 * A memory the module defines itself cannot be capped from JS once compiled. So before compiling, a
 * module-defined memory is turned into an import (`featherweight.memory`) with the same limits; the host
 * then supplies a WebAssembly.Memory whose maximum is min(declared, limit) at each instantiation, and
 * memory.grow returns -1 at the cap. One compile serves every limit. The declared limits and the export
 * signatures travel inside the module as a custom section, so a Module posted to a worker thread still
 * carries them (a WeakMap keyed by the module would not survive structured cloning).
 * See docs/decisions/002-memory-limit-by-import-rewrite.md.
 *
 * Tables get the same treatment in the bytes: each defined table's maximum is lowered so that all tables
 * of an instance hold at most `maxTableElements` together (table.grow returns -1 past it), and a module
 * whose tables start above that is refused. A table's maximum cannot be supplied per instantiation without
 * importing the table, so the cap is part of the compile (cached per digest and cap; one cap in practice).
 * See docs/decisions/120-table-limits.md.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { GuestError } from '../core/errors.js';
import { TABLE_ELEMENT_BYTES, tableElementCap, type Limits } from './limits.js';

export const META_SECTION = 'featherweight.meta';
export const MEMORY_IMPORT = { module: 'featherweight', name: 'memory' } as const;
export const PAGE = 65536;

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';

export interface MemoryMeta {
  /** Where the host must put the memory in the import object. */
  module: string;
  name: string;
  /** Pages. */
  initial: number;
  maximum: number | null;
  shared: boolean;
}

export interface TableMeta {
  element: 'funcref' | 'externref';
  initial: number;
  /** After the rewrite: never above the cap. */
  maximum: number;
  /** What the module declared (null = unbounded). */
  declaredMaximum: number | null;
}

export interface ModuleMeta {
  /** false when the bytes used something this parser does not know; then memory is not capped by import. */
  parsed: boolean;
  memory: MemoryMeta | null;
  /** Tables the module defines, with their rewritten maximums (absent in metas of older builds). */
  tables?: TableMeta[];
  /** The maxTableElements the tables were capped at. */
  tableCap?: number;
  exports: Record<string, { params: ValType[]; results: ValType[] }>;
  /**
   * Whether the module has a start section, i.e. runs guest code as it is instantiated (absent in metas
   * of older builds: unknown). Only a module known to have none may be instantiated before its event.
   */
  start?: boolean;
}

const cache = new Map<string, { module: WebAssembly.Module; digest: string }>();
const metaCache = new WeakMap<WebAssembly.Module, ModuleMeta>();

function invalid(message: string): GuestError {
  return new GuestError({ kind: 'invalid-module', message });
}

export interface CompileOptions {
  /** Table elements per instance, all tables together (default defaultLimits.maxTableElements). */
  maxTableElements?: number;
}

/**
 * Compiles once per process per content digest and table cap. Throws GuestError 'invalid-module' for bytes
 * that are not a core Wasm module, or whose tables start above the table cap.
 */
export function compileModule(bytes: Uint8Array, opts: CompileOptions = {}): { module: WebAssembly.Module; digest: string } {
  const cap = tableElementCap(opts);
  if (!Number.isInteger(cap) || cap < 0) throw new Error(`maxTableElements must be an integer >= 0, got ${cap}`);
  const digest = createHash('sha256').update(bytes).digest('hex');
  const key = `${digest}/${cap}`;
  const hit = cache.get(key);
  if (hit) return hit;
  checkHeader(bytes);
  let rewritten: { bytes: Uint8Array; meta: ModuleMeta } | null = null;
  try {
    rewritten = rewrite(bytes, cap);
  } catch (err) {
    if (err instanceof GuestError) throw err;
    rewritten = null; // malformed or unknown encoding: let V8 name the problem below
  }
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module((rewritten ? rewritten.bytes : bytes) as Uint8Array<ArrayBuffer>);
  } catch (err) {
    if (!rewritten) throw invalid(`not a valid WebAssembly module: ${(err as Error).message}`);
    // The rewrite should never break a valid module; if it does, fall back to the original (uncapped by import).
    try {
      module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    } catch (err2) {
      throw invalid(`not a valid WebAssembly module: ${(err2 as Error).message}`);
    }
    rewritten = null;
  }
  // Uncapped tables have no after-the-run check the way memory has: refuse them instead.
  if (!rewritten && definesTables(bytes)) {
    throw invalid('module defines tables in an encoding featherweight cannot check against limits.maxTableElements, so it is not run');
  }
  if (rewritten) metaCache.set(module, rewritten.meta);
  const entry = { module, digest };
  cache.set(key, entry);
  return entry;
}

/**
 * Drops the compiled module of `digest` from the cache (every table cap), e.g. once `up --watch`
 * swapped it out, so a long watch session does not keep every version it built. Holders of the
 * module keep it; a later compile of the same bytes compiles again.
 */
export function forgetCompiled(digest: string): void {
  for (const key of [...cache.keys()]) if (key.startsWith(`${digest}/`)) cache.delete(key);
}

/** Bytes reserved for the module's tables at their (capped) maximum; they count against maxMemoryBytes. */
export function tableReserveBytes(meta: ModuleMeta): number {
  return (meta.tables ?? []).reduce((n, t) => n + t.maximum * TABLE_ELEMENT_BYTES, 0);
}

/**
 * The limits a guest's instance runs under: its memory may grow to maxMemoryBytes less what its tables
 * reserve, in whole pages. Null when even the initial memory plus the tables do not fit (with the reason).
 */
export function instanceLimits(meta: ModuleMeta, limits: Limits): { limits: Limits; problem: string | null } {
  const reserve = tableReserveBytes(meta);
  if (reserve === 0) return { limits, problem: null };
  const reservePages = Math.ceil(reserve / PAGE);
  const memoryBytes = Math.max(0, limits.maxMemoryBytes - reservePages * PAGE);
  const initial = (meta.memory?.initial ?? 0) * PAGE;
  if (initial > memoryBytes) {
    const elements = (meta.tables ?? []).reduce((n, t) => n + t.maximum, 0);
    return {
      limits,
      problem: `guest needs ${fmt(initial)} of memory at start plus ${fmt(reservePages * PAGE)} for its tables ` +
        `(${elements} elements at most, ${TABLE_ELEMENT_BYTES} B each), above the memory limit of ${fmt(limits.maxMemoryBytes)} ` +
        '(raise limits.maxMemory, or lower limits.maxTableElements if the tables need not grow that far)',
    };
  }
  return { limits: { ...limits, maxMemoryBytes: memoryBytes }, problem: null };
}

function fmt(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** Reads and compiles a .wasm file. Throws GuestError 'invalid-module' when it cannot be read or is not Wasm. */
export function loadModule(path: string, opts: CompileOptions = {}): { module: WebAssembly.Module; digest: string; bytes: Uint8Array } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'it is a directory' : e.message;
    throw invalid(`cannot read module ${path}: ${why}`);
  }
  return { ...compileModule(bytes, opts), bytes };
}

function checkHeader(bytes: Uint8Array): void {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    const text = new TextDecoder().decode(bytes.subarray(0, 64));
    const hint = /^\s*\(module/.test(text) ? ' (this looks like WAT text: compile it with wat2wasm first)' : '';
    throw invalid(`not a WebAssembly module: the bytes do not start with \\0asm${hint}`);
  }
  if (bytes[4] !== 1 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) {
    const component = bytes[6] === 1 && bytes[7] === 0;
    throw invalid(
      component
        ? 'this is a WebAssembly component (WASI 0.2); featherweight runs core modules (wasm32-wasi / wasip1)'
        : `unsupported WebAssembly binary version ${bytes[4]}.${bytes[5]}.${bytes[6]}.${bytes[7]}`,
    );
  }
}

/** The meta of a module compiled by compileModule, in this thread or another. */
export function moduleMeta(module: WebAssembly.Module): ModuleMeta {
  let meta = metaCache.get(module);
  if (meta) return meta;
  const sections = WebAssembly.Module.customSections(module, META_SECTION);
  meta = { parsed: false, memory: null, exports: {} };
  if (sections.length > 0) {
    try {
      // Ours is appended last; an earlier section of the same name came with the guest's bytes.
      meta = JSON.parse(new TextDecoder().decode(sections[sections.length - 1])) as ModuleMeta;
    } catch {
      /* a guest-supplied section with our name but garbage: treat as unknown */
      meta = { parsed: false, memory: null, exports: {} };
    }
  }
  metaCache.set(module, meta);
  return meta;
}

// ---- binary reading / writing (only what the rewrite needs) ----

class Reader {
  pos: number;
  constructor(readonly b: Uint8Array, pos = 0) { this.pos = pos; }
  byte(): number {
    if (this.pos >= this.b.length) throw new Error('eof');
    return this.b[this.pos++]!;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const x = this.byte();
      result += (x & 0x7f) * 2 ** shift;
      if ((x & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new Error('leb too long');
    }
  }
  name(): string {
    const n = this.u32();
    const s = new TextDecoder().decode(this.b.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
}

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function encName(s: string): number[] {
  const b = new TextEncoder().encode(s);
  return [...leb(b.length), ...b];
}

const valTypes: Record<number, ValType> = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128', 0x70: 'funcref', 0x6f: 'externref' };

function valType(r: Reader): ValType {
  const t = valTypes[r.byte()];
  if (!t) throw new Error('unknown valtype');
  return t;
}

interface Limits32 { flags: number; initial: number; maximum: number | null }

function limits(r: Reader): Limits32 {
  const flags = r.byte();
  if (flags > 3) throw new Error('memory64 or unknown limits');
  const initial = r.u32();
  const maximum = flags & 1 ? r.u32() : null;
  return { flags, initial, maximum };
}

interface Section { id: number; start: number; end: number; contentStart: number }

function sectionsOf(bytes: Uint8Array): Section[] {
  const r = new Reader(bytes, 8);
  const sections: Section[] = [];
  while (r.pos < bytes.length) {
    const start = r.pos;
    const id = r.byte();
    const size = r.u32();
    const contentStart = r.pos;
    r.pos += size;
    if (r.pos > bytes.length) throw new Error('section past end');
    sections.push({ id, start, end: r.pos, contentStart });
  }
  return sections;
}

/** True when the module has a table section, or when its sections cannot even be listed. */
function definesTables(bytes: Uint8Array): boolean {
  try {
    return sectionsOf(bytes).some((s) => s.id === 4);
  } catch {
    return true;
  }
}

const refTypes: Record<number, TableMeta['element']> = { 0x70: 'funcref', 0x6f: 'externref' };

function readTables(r: Reader): { element: TableMeta['element']; code: number; limits: Limits32 }[] {
  const n = r.u32();
  const out = [];
  for (let i = 0; i < n; i++) {
    const code = r.byte();
    const element = refTypes[code];
    if (!element) throw new Error('table with an initializer or an unknown element type');
    const l = limits(r);
    if (l.flags > 1) throw new Error('shared or 64-bit table');
    out.push({ element, code, limits: l });
  }
  return out;
}

/**
 * New maximums so that all tables together stay within `cap`: fixed-size tables keep theirs, growable
 * ones share the headroom evenly. Throws GuestError when the tables start above the cap.
 */
function capTables(tables: { element: TableMeta['element']; limits: Limits32 }[], cap: number): TableMeta[] {
  const initial = tables.reduce((n, t) => n + t.limits.initial, 0);
  if (initial > cap) {
    throw invalid(
      `module declares ${tables.length} table(s) of ${initial} elements at start, above the table limit of ${cap} elements ` +
        '(limits.maxTableElements)',
    );
  }
  const growable = tables.filter((t) => t.limits.maximum === null || t.limits.maximum > t.limits.initial).length;
  const share = growable > 0 ? Math.floor((cap - initial) / growable) : 0;
  return tables.map((t) => {
    const room = t.limits.maximum === null ? share : Math.min(share, t.limits.maximum - t.limits.initial);
    return { element: t.element, initial: t.limits.initial, maximum: t.limits.initial + Math.max(0, room), declaredMaximum: t.limits.maximum };
  });
}

function rewrite(bytes: Uint8Array, tableCap: number): { bytes: Uint8Array; meta: ModuleMeta } {
  const sections = sectionsOf(bytes);
  const types: { params: ValType[]; results: ValType[] }[] = [];
  const funcTypes: number[] = [];
  let memory: MemoryMeta | null = null;
  let importSec: Section | null = null;
  let importCount = 0;
  let memSec: Section | null = null;
  let tableSec: Section | null = null;
  let tables: TableMeta[] = [];
  let definedMemory: Limits32 | null = null;
  const exportsMeta: ModuleMeta['exports'] = {};
  const start = sections.some((s) => s.id === 8);
  for (const s of sections) {
    const sr = new Reader(bytes, s.contentStart);
    if (s.id === 1) {
      const n = sr.u32();
      for (let i = 0; i < n; i++) {
        if (sr.byte() !== 0x60) throw new Error('non-func type (GC proposal) not supported by the rewrite');
        const params = Array.from({ length: sr.u32() }, () => valType(sr));
        const results = Array.from({ length: sr.u32() }, () => valType(sr));
        types.push({ params, results });
      }
    } else if (s.id === 2) {
      importSec = s;
      importCount = sr.u32();
      for (let i = 0; i < importCount; i++) {
        const mod = sr.name();
        const name = sr.name();
        const kind = sr.byte();
        if (kind === 0) funcTypes.push(sr.u32());
        else if (kind === 1) { valType(sr); limits(sr); }
        else if (kind === 2) {
          const l = limits(sr);
          if (memory) throw new Error('multi-memory');
          memory = { module: mod, name, initial: l.initial, maximum: l.maximum, shared: (l.flags & 2) !== 0 };
        } else if (kind === 3) { valType(sr); sr.byte(); }
        else if (kind === 4) { sr.byte(); sr.u32(); }
        else throw new Error('unknown import kind');
      }
    } else if (s.id === 3) {
      const n = sr.u32();
      for (let i = 0; i < n; i++) funcTypes.push(sr.u32());
    } else if (s.id === 4) {
      tableSec = s;
      tables = capTables(readTables(sr), tableCap);
    } else if (s.id === 5) {
      const n = sr.u32();
      if (n > 1 || (n === 1 && memory)) throw new Error('multi-memory');
      if (n === 1) {
        memSec = s;
        definedMemory = limits(sr);
      }
    } else if (s.id === 7) {
      const n = sr.u32();
      for (let i = 0; i < n; i++) {
        const name = sr.name();
        const kind = sr.byte();
        const index = sr.u32();
        const t = kind === 0 ? types[funcTypes[index] ?? -1] : undefined;
        if (t) exportsMeta[name] = t;
      }
    }
  }

  // Sections replaced by new bytes (null = dropped); everything else is copied as it was.
  const replace = new Map<Section, Uint8Array | null>();
  let newImport: Uint8Array | null = null;
  if (definedMemory && memSec) {
    memory = {
      ...MEMORY_IMPORT,
      initial: definedMemory.initial,
      maximum: definedMemory.maximum,
      shared: (definedMemory.flags & 2) !== 0,
    };
    const entry = [...encName(MEMORY_IMPORT.module), ...encName(MEMORY_IMPORT.name), 0x02, definedMemory.flags,
      ...leb(definedMemory.initial), ...(definedMemory.maximum !== null ? leb(definedMemory.maximum) : [])];
    // The old imports (none without an import section), then ours.
    let rest = bytes.subarray(0, 0);
    if (importSec) {
      const cr = new Reader(bytes, importSec.contentStart);
      cr.u32();
      rest = bytes.subarray(cr.pos, importSec.end);
    }
    const content = [...leb(importCount + 1), ...rest, ...entry];
    newImport = Uint8Array.from([2, ...leb(content.length), ...content]);
    replace.set(memSec, null);
    if (importSec) replace.set(importSec, newImport);
  }
  if (tableSec) {
    const content = [...leb(tables.length)];
    for (const t of tables) content.push(t.element === 'funcref' ? 0x70 : 0x6f, 0x01, ...leb(t.initial), ...leb(t.maximum));
    replace.set(tableSec, Uint8Array.from([4, ...leb(content.length), ...content]));
  }
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  // A new import section goes before the first section that must follow it.
  const insertBefore = newImport && !importSec ? sections.find((s) => s.id !== 0 && s.id !== 1) ?? null : undefined;
  for (const s of sections) {
    if (newImport && s === insertBefore) parts.push(newImport);
    const r = replace.get(s);
    if (r === undefined) parts.push(bytes.subarray(s.start, s.end));
    else if (r !== null) parts.push(r);
  }
  if (newImport && insertBefore === null) parts.push(newImport);
  const meta: ModuleMeta = { parsed: true, memory, tables, tableCap, exports: exportsMeta, start };
  const name = encName(META_SECTION);
  const payload = new TextEncoder().encode(JSON.stringify(meta));
  parts.push(Uint8Array.from([0, ...leb(name.length + payload.length), ...name]), payload);
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return { bytes: out, meta };
}
