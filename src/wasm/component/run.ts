/**
 * ABI `component`: a WASI 0.2 component on a fresh instance per event. A component is linked once
 * (link.ts) and its core modules compiled once, each through the memory-import rewrite, so every core
 * memory is capped at the component's maxMemory. Per thread the trampolines are built once; per event
 * only the core modules are instantiated, with a fresh handle table and a fresh WASI 0.2 host.
 * Same contract as `wasi-command`: event body on stdin, metadata in the environment, stdout captured,
 * exit status (wasi:cli/run's result, or wasi:cli/exit) as the typed result.
 */
import { createHash } from 'node:crypto';
import type { GuestErrorInfo } from '../../core/errors.js';
import { compileModule, moduleMeta, MEMORY_IMPORT, type CompileOptions, type ModuleMeta } from '../compile.js';
import { stderrCap, type Grants, type Limits } from '../limits.js';
import { formatBytes, type GuestRun } from '../result.js';
import { ARGV0, stdinTooLarge, type CommandInput } from '../wasi-command.js';
import { classify, makeMemory, releaseMemory } from '../instance.js';
import { codec, Handles, Mem, trap, type Codec } from './canon.js';
import { LinkError, linkComponent, type CanonOpts, type CompExport, type CompFunc, type CompInst, type CoreItem, type Plan } from './link.js';
import { flatten, MAX_FLAT_PARAMS, MAX_FLAT_RESULTS, tupleOf } from './types.js';
import { denied } from './wasi-p2/deny.js';
import { createWasiP2, type WasiP2Host } from './wasi-p2/index.js';
import { responseOf, type HttpRequestIn, type HttpResponseOut, type HttpState } from './wasi-p2/http.js';
import type { HostFn } from './wasi-p2/io.js';

/** A linked component with compiled core modules: structured-clonable, so it is posted to worker threads as is. */
export interface ComponentImage {
  kind: 'component';
  digest: string;
  modules: WebAssembly.Module[];
  plan: Omit<Plan, 'modules'>;
  /** Top-level exports, "wasi:cli/run@0.2.0" etc. */
  exports: Record<string, Export>;
}

type Export = { sort: 'func'; f: CompFunc } | { sort: 'instance'; exports: Record<string, Export> } | { sort: 'other' };

const images = new Map<string, ComponentImage>();

/** Links and compiles a component once per process per content digest. Throws GuestError-shaped 'invalid-module' errors. */
export function loadComponent(bytes: Uint8Array, compile: CompileOptions = {}): ComponentImage {
  // Keyed by the whole component, not its core modules: two components can wrap the same modules differently.
  const digest = `${createHash('sha256').update(bytes).digest('hex')}/${compile.maxTableElements ?? ''}`;
  const hit = images.get(digest);
  if (hit) return hit;
  let plan: Plan;
  try {
    plan = linkComponent(bytes);
  } catch (err) {
    if (err instanceof LinkError) throw invalid(`cannot link the component: ${err.message}`);
    throw invalid(`not a valid WebAssembly component: ${(err as Error).message}`);
  }
  const compiled = plan.modules.map((m) => compileModule(m, compile));
  const { modules: _bytes, ...rest } = plan;
  const image: ComponentImage = { kind: 'component', digest, modules: compiled.map((c) => c.module), plan: { ...rest, exports: {} }, exports: exportsOf(plan.exports) };
  images.set(digest, image);
  return image;
}

function invalid(message: string): Error & GuestErrorInfo {
  return Object.assign(new Error(message), { kind: 'invalid-module' as const });
}

function exportsOf(e: Record<string, CompExport>): Record<string, Export> {
  const out: Record<string, Export> = {};
  for (const [name, x] of Object.entries(e)) {
    if (x.sort === 'func') out[name] = { sort: 'func', f: x.f };
    else if (x.sort === 'instance') out[name] = { sort: 'instance', exports: exportsOf((x.i as CompInst).exports) };
    else out[name] = { sort: 'other' };
  }
  return out;
}

/** The export `func` of the exported instance whose name starts with `iface@` (any 0.2.x version). */
export function findExport(image: ComponentImage, iface: string, func: string): CompFunc | null {
  for (const [name, e] of Object.entries(image.exports)) {
    if ((name === iface || name.startsWith(`${iface}@`)) && e.sort === 'instance') {
      const f = e.exports[func];
      if (f?.sort === 'func' && f.f.kind === 'lift') return f.f;
    }
  }
  return null;
}

/**
 * Which world a component serves, read from its exports: 'http' for wasi:http/incoming-handler (served
 * under /v1/components/<name>/http/), 'command' for wasi:cli/run (events), null for neither. A component
 * exporting both is refused: which of the two an event or a request should reach would be a guess.
 */
export function componentWorld(image: ComponentImage): 'http' | 'command' | null {
  const http = findExport(image, 'wasi:http/incoming-handler', 'handle') !== null;
  const command = findExport(image, 'wasi:cli/run', 'run') !== null;
  if (http && command) throw invalid('component exports both wasi:cli/run and wasi:http/incoming-handler: featherweight runs a component as one of the two (build it for one world)');
  return http ? 'http' : command ? 'command' : null;
}

interface EventState {
  inst: WebAssembly.Instance[];
  handles: Handles;
  host: WasiP2Host;
  impls: (HostFn | undefined)[];
  /** One Mem per canonical options per event: its memory and realloc do not change within an event. */
  mems: Map<CanonOpts, Mem>;
}

interface Bound {
  tramps: Function[];
  metas: ModuleMeta[];
  rt: { cur: EventState | null };
}

const boundCache = new WeakMap<ComponentImage, Bound>();

function coreItem(b: Bound, st: EventState, it: CoreItem): unknown {
  if (it.src === 'tramp') return b.tramps[it.id];
  const inst = st.inst[it.inst];
  if (!inst) throw trap('core instance used before it was created');
  return inst.exports[it.name];
}

function memOf(b: Bound, st: EventState, o: CanonOpts): Mem {
  let m = st.mems.get(o);
  if (!m) {
    m = new Mem(
      o.memory ? (coreItem(b, st, o.memory) as WebAssembly.Memory) : null,
      o.realloc ? (coreItem(b, st, o.realloc) as (a: number, b: number, c: number, d: number) => number) : null,
      st.handles,
    );
    st.mems.set(o, m);
  }
  return m;
}

interface Sig { params: Codec[]; result: Codec | null; tuple: Codec | null; resultViaMemory: boolean }
const sigs = new WeakMap<CompFunc, Sig>();

function sigOf(f: CompFunc, lower: boolean): Sig {
  let s = sigs.get(f);
  if (s) return s;
  const ts = f.type.params.map((p) => p.t);
  const flatP = ts.flatMap(flatten).length;
  const flatR = f.type.result ? flatten(f.type.result).length : 0;
  s = {
    params: ts.map((t) => codec(t)),
    result: f.type.result ? codec(f.type.result) : null,
    tuple: flatP > MAX_FLAT_PARAMS ? codec(tupleOf(ts)) : null,
    resultViaMemory: flatR > MAX_FLAT_RESULTS,
  };
  void lower;
  sigs.set(f, s);
  return s;
}

/** Calls a lifted (guest) function with JS values and returns its JS result. */
function callLifted(b: Bound, st: EventState, f: Extract<CompFunc, { kind: 'lift' }>, vals: unknown[]): unknown {
  const s = sigOf(f, false);
  const core = coreItem(b, st, f.core) as Function;
  const m = memOf(b, st, f.opts);
  const args: unknown[] = [];
  if (s.tuple) {
    const p = m.alloc(s.tuple.align, s.tuple.size);
    s.tuple.store(m, vals, p);
    args.push(p);
  } else s.params.forEach((c, i) => c.lower(m, vals[i], args));
  const ret = core(...args);
  let v: unknown;
  if (s.result) v = s.resultViaMemory ? s.result.load(m, (ret as number) >>> 0) : s.result.lift(m, [ret], { i: 0 });
  if (f.opts.postReturn) (coreItem(b, st, f.opts.postReturn) as Function)(...(ret === undefined ? [] : [ret]));
  return v;
}

function implFor(b: Bound, st: EventState, f: CompFunc): HostFn {
  if (f.kind === 'lift') return (...vals: unknown[]) => callLifted(b, st, f, vals);
  const key = `${f.iface}#${f.name}`;
  return st.host.lookup(key) ?? denied(key, f.type);
}

function bind(image: ComponentImage): Bound {
  let b = boundCache.get(image);
  if (b) return b;
  const rt: Bound['rt'] = { cur: null };
  const bound: Bound = { tramps: [], metas: image.modules.map((m) => moduleMeta(m)), rt };
  const { resources } = image.plan;
  bound.tramps = image.plan.trampolines.map((t, id): Function => {
    if (t.kind === 'resource.drop') {
      const guest = resources[t.res]?.guestDefined ?? false;
      return (h: number) => {
        const e = rt.cur!.handles.remove(h >>> 0, t.res);
        if (e.own && !guest) (e.rep as { drop?: () => void } | null)?.drop?.();
      };
    }
    if (t.kind === 'resource.new') return (rep: number) => rt.cur!.handles.add(t.res, rep >>> 0);
    if (t.kind === 'resource.rep') return (h: number) => rt.cur!.handles.get(h >>> 0, t.res).rep;
    if (t.kind !== 'lower') throw new Error('unreachable');
    const f = t.func;
    const s = sigOf(f, true);
    const opts = t.opts;
    return (...args: any[]) => {
      const st = rt.cur!;
      const m = memOf(bound, st, opts);
      let vals: unknown[];
      if (s.tuple) vals = s.tuple.load(m, args[0] >>> 0) as unknown[];
      else {
        const it = { i: 0 };
        vals = s.params.map((c) => c.lift(m, args, it));
      }
      const impl = (st.impls[id] ??= implFor(bound, st, f));
      const r = impl(...vals);
      if (!s.result) return undefined;
      if (s.resultViaMemory) {
        s.result.store(m, r, args[args.length - 1] >>> 0);
        return undefined;
      }
      const out: unknown[] = [];
      s.result.lower(m, r, out);
      return out[0];
    };
  });
  boundCache.set(image, bound);
  return bound;
}

const empty = new Uint8Array(0);

function isRewrittenMemory(meta: ModuleMeta): boolean {
  return meta.memory !== null && meta.memory.module === MEMORY_IMPORT.module && meta.memory.name === MEMORY_IMPORT.name;
}

/**
 * Memories of component modules kept per thread for the next event. The preview1 adapter grows the main
 * memory by a page or two at every start (its own state), so the wasi-command pool, which keeps only
 * memories that did not grow, would never reuse one, and every event would pay a fresh 10 GiB
 * reservation and its page faults (p90 16 ms against 0.8 ms p50, measured by bench/component.ts). A
 * memory that grew a little is wiped and reused: a guest may start with more than its declared initial
 * size (valid for an imported memory), never with another event's bytes, and its maximum is unchanged.
 * The bound matters: the adapter grows whatever size it is given, so a memory reused without one creeps
 * up a page per event until it meets maxMemory (seen after ~1,000 events with a 256-page bound).
 */
const componentMemories = new Map<string, WebAssembly.Memory[]>();
const REUSE_GROWTH_PAGES = 16;

function memoryKey(meta: ModuleMeta, limits: Limits): string {
  const m = meta.memory!;
  return `${m.initial}/${Math.min(m.maximum ?? 65536, Math.floor(limits.maxMemoryBytes / 65536))}`;
}

function takeMemory(meta: ModuleMeta, limits: Limits): WebAssembly.Memory | null {
  if (meta.memory!.shared) return null;
  return componentMemories.get(memoryKey(meta, limits))?.pop() ?? null;
}

function giveBackMemory(meta: ModuleMeta, limits: Limits, memory: WebAssembly.Memory | null): void {
  const m = meta.memory;
  if (!memory || !m || m.shared) return;
  if (memory.buffer.byteLength > (m.initial + REUSE_GROWTH_PAGES) * 65536) {
    releaseMemory(meta, limits, memory); // grew a lot: let the GC have it (the shared pool refuses grown memories)
    return;
  }
  const key = memoryKey(meta, limits);
  let list = componentMemories.get(key);
  if (!list) componentMemories.set(key, (list = []));
  if (list.length >= 4) return;
  new Uint8Array(memory.buffer).fill(0);
  list.push(memory);
}

export interface Instantiated {
  bound: Bound;
  st: EventState;
  /** The first capped memory (the main module's), for memory-limit classification. */
  memory: WebAssembly.Memory | null;
  release(): void;
}

/** Instantiates every core module of the component for one event. Throws what the guest's start code throws. */
export function instantiate(image: ComponentImage, host: WasiP2Host, limits: Limits, provided: { meta: ModuleMeta; memory: WebAssembly.Memory | null }[]): { bound: Bound; st: EventState } {
  const b = bind(image);
  const st: EventState = { inst: [], handles: new Handles(), host, impls: [], mems: new Map() };
  b.rt.cur = st;
  for (const ci of image.plan.instances) {
    const imports: Record<string, Record<string, unknown>> = {};
    for (const [name, arg] of Object.entries(ci.args)) {
      if ('real' in arg) imports[name] = st.inst[arg.real]!.exports as Record<string, unknown>;
      else {
        const ns: Record<string, unknown> = {};
        for (const [n, it] of Object.entries(arg.items)) ns[n] = coreItem(b, st, it);
        imports[name] = ns;
      }
    }
    const meta = b.metas[ci.module]!;
    if (isRewrittenMemory(meta)) {
      const reused = takeMemory(meta, limits);
      const { memory, error } = reused ? { memory: reused, error: null } : makeMemory(meta, limits);
      if (error) throw Object.assign(new Error(error.message), { guestError: error });
      provided.push({ meta, memory });
      imports[MEMORY_IMPORT.module] = { ...(imports[MEMORY_IMPORT.module] ?? {}), [MEMORY_IMPORT.name]: memory };
    }
    st.inst.push(new WebAssembly.Instance(image.modules[ci.module]!, imports as WebAssembly.Imports));
  }
  return { bound: b, st };
}

function outbound(grants: Grants | undefined, limits: Limits): { outbound?: { hosts: readonly string[]; timeoutMs: number } } {
  const hosts = grants?.outboundHosts ?? [];
  return hosts.length > 0 ? { outbound: { hosts, timeoutMs: limits.timeoutMs } } : {};
}

/** Runs wasi:cli/run#run once on a fresh instance. Never throws for anything the guest does. */
export function runComponentCommand(
  image: ComponentImage,
  input: CommandInput,
  limits: Limits,
  grants?: Grants,
  onOutput?: (stream: 'stdout' | 'stderr', bytes: Uint8Array) => void,
): GuestRun {
  const tooLarge = stdinTooLarge(input, limits);
  if (tooLarge) return tooLarge;
  const run = findExport(image, 'wasi:cli/run', 'run');
  if (!run || run.kind !== 'lift') {
    return { ok: false, error: { kind: 'invalid-module', message: 'component exports no wasi:cli/run interface: it is not a WASI 0.2 command (abi: component runs wasi:cli/run)' }, stdout: empty, stderr: empty };
  }
  const env = grants && Object.keys(grants.env).length > 0 ? { ...grants.env, ...input.env } : input.env;
  let host: WasiP2Host;
  try {
    host = createWasiP2({
      args: [ARGV0, ...input.args],
      env,
      stdin: input.stdin,
      maxStdoutBytes: limits.maxStdoutBytes,
      maxStderrBytes: stderrCap(limits),
      ...(onOutput ? { onOutput } : {}),
      preopens: grants?.dirs ?? [],
      ...outbound(grants, limits),
    });
  } catch (err) {
    return { ok: false, error: { kind: 'invalid-module', message: (err as Error).message }, stdout: empty, stderr: empty };
  }
  const provided: { meta: ModuleMeta; memory: WebAssembly.Memory | null }[] = [];
  let b: Bound | null = null;
  try {
    const r = instantiate(image, host, limits, provided);
    b = r.bound;
    const status = callLifted(r.bound, r.st, run, []) as { tag: string } | undefined;
    if (status && status.tag === 'err') {
      return { ok: false, error: { kind: 'exit', message: 'guest exited with code 1 (wasi:cli/run returned an error)', exitCode: 1 }, stdout: host.stdout(), stderr: host.stderr() };
    }
    return { ok: true, exitCode: 0, stdout: host.stdout(), stderr: host.stderr() };
  } catch (err) {
    const ge = (err as { guestError?: GuestErrorInfo }).guestError;
    if (ge) return { ok: false, error: ge, stdout: host.stdout(), stderr: host.stderr() };
    const memory = provided[0]?.memory ?? null;
    const e = classify(err, memory, limits);
    if (e.kind === 'exit' && e.exitCode === 0) return { ok: true, exitCode: 0, stdout: host.stdout(), stderr: host.stderr() };
    return { ok: false, error: e, stdout: host.stdout(), stderr: host.stderr() };
  } finally {
    if (b) b.rt.cur = null;
    host.dispose();
    for (const p of provided) giveBackMemory(p.meta, limits, p.memory);
  }
}

export type HttpRun =
  | { ok: true; response: HttpResponseOut; stderr: Uint8Array }
  | { ok: false; error: GuestErrorInfo; stderr: Uint8Array };

/**
 * Calls wasi:http/incoming-handler#handle once on a fresh instance with the request in memory, as an
 * `abi: http-wasm` handler answers under /v1/components/<name>/http/. The response body is capped by
 * maxStdout. Never throws for anything the guest does.
 */
export function runComponentHttp(image: ComponentImage, request: HttpRequestIn, limits: Limits, grants?: Grants): HttpRun {
  const handle = findExport(image, 'wasi:http/incoming-handler', 'handle');
  if (!handle || handle.kind !== 'lift') {
    return { ok: false, error: { kind: 'invalid-module', message: 'component exports no wasi:http/incoming-handler interface: it does not answer HTTP' }, stderr: empty };
  }
  if (request.body.length > limits.maxStdinBytes) {
    return { ok: false, error: { kind: 'memory-limit', message: `request body of ${formatBytes(request.body.length)} is above the limit of ${formatBytes(limits.maxStdinBytes)} (maxStdinBytes); the guest was not run` }, stderr: empty };
  }
  const state: HttpState = { response: null };
  let host: WasiP2Host;
  try {
    host = createWasiP2({ args: [ARGV0], env: grants?.env ?? {}, stdin: empty, maxStdoutBytes: limits.maxStdoutBytes, preopens: grants?.dirs ?? [], http: { request, state }, ...outbound(grants, limits) });
  } catch (err) {
    return { ok: false, error: { kind: 'invalid-module', message: (err as Error).message }, stderr: empty };
  }
  const provided: { meta: ModuleMeta; memory: WebAssembly.Memory | null }[] = [];
  let b: Bound | null = null;
  try {
    const r = instantiate(image, host, limits, provided);
    b = r.bound;
    callLifted(r.bound, r.st, handle, [state.request, { outparam: true }]);
    const res = responseOf(state);
    if (!res) return { ok: false, error: { kind: 'trap', message: 'guest returned without setting a response (response-outparam.set)' }, stderr: host.stderr() };
    if ('error' in res) return { ok: false, error: { kind: 'trap', message: `guest answered with an error: ${JSON.stringify(res.error)}` }, stderr: host.stderr() };
    return { ok: true, response: res, stderr: host.stderr() };
  } catch (err) {
    const ge = (err as { guestError?: GuestErrorInfo }).guestError;
    if (ge) return { ok: false, error: ge, stderr: host.stderr() };
    return { ok: false, error: classify(err, provided[0]?.memory ?? null, limits), stderr: host.stderr() };
  } finally {
    if (b) b.rt.cur = null;
    host.dispose();
    for (const p of provided) giveBackMemory(p.meta, limits, p.memory);
  }
}
