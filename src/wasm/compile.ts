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
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { GuestError } from '../core/errors.js';

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

export interface ModuleMeta {
  /** false when the bytes used something this parser does not know; then memory is not capped by import. */
  parsed: boolean;
  memory: MemoryMeta | null;
  exports: Record<string, { params: ValType[]; results: ValType[] }>;
}

const cache = new Map<string, { module: WebAssembly.Module; digest: string }>();
const metaCache = new WeakMap<WebAssembly.Module, ModuleMeta>();

function invalid(message: string): GuestError {
  return new GuestError({ kind: 'invalid-module', message });
}

/** Compiles once per process per content digest. Throws GuestError 'invalid-module' for bytes that are not a core Wasm module. */
export function compileModule(bytes: Uint8Array): { module: WebAssembly.Module; digest: string } {
  const digest = createHash('sha256').update(bytes).digest('hex');
  const hit = cache.get(digest);
  if (hit) return hit;
  checkHeader(bytes);
  let rewritten: { bytes: Uint8Array; meta: ModuleMeta } | null = null;
  try {
    rewritten = rewrite(bytes);
  } catch {
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
  if (rewritten) metaCache.set(module, rewritten.meta);
  const entry = { module, digest };
  cache.set(digest, entry);
  return entry;
}

/** Reads and compiles a .wasm file. Throws GuestError 'invalid-module' when it cannot be read or is not Wasm. */
export function loadModule(path: string): { module: WebAssembly.Module; digest: string; bytes: Uint8Array } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'it is a directory' : e.message;
    throw invalid(`cannot read module ${path}: ${why}`);
  }
  return { ...compileModule(bytes), bytes };
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

function rewrite(bytes: Uint8Array): { bytes: Uint8Array; meta: ModuleMeta } {
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
  const types: { params: ValType[]; results: ValType[] }[] = [];
  const funcTypes: number[] = [];
  let memory: MemoryMeta | null = null;
  let importSec: Section | null = null;
  let importCount = 0;
  let memSec: Section | null = null;
  let definedMemory: Limits32 | null = null;
  const exportsMeta: ModuleMeta['exports'] = {};
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

  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
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
    const newImport = Uint8Array.from([2, ...leb(content.length), ...content]);
    // Import section goes where the old one was, or before the first section that must follow it.
    const insertBefore = importSec ?? sections.find((s) => s.id !== 0 && s.id !== 1) ?? null;
    for (const s of sections) {
      if (s === insertBefore && !importSec) parts.push(newImport);
      if (s === importSec) { parts.push(newImport); continue; }
      if (s === memSec) continue;
      parts.push(bytes.subarray(s.start, s.end));
    }
    if (!insertBefore) parts.push(newImport);
  } else {
    parts.push(bytes.subarray(8));
  }
  const meta: ModuleMeta = { parsed: true, memory, exports: exportsMeta };
  const name = encName(META_SECTION);
  const payload = new TextEncoder().encode(JSON.stringify(meta));
  parts.push(Uint8Array.from([0, ...leb(name.length + payload.length), ...name]), payload);
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return { bytes: out, meta };
}
