/**
 * Offline replay of a ScaledObject against a metric trace: the real scale loop driven by a virtual
 * clock, one row per KEDA poll or HPA sync. No I/O: the CLI reads the files.
 */
import type { ScalingSpec } from './spec.js';
import { createScaleLoop, KUBERNETES_HPA_SYNC_MS, type Clock, type Tick } from './loop.js';

export interface Trace {
  /** Column names for the trigger values, in trace order (trigger names). */
  columns: string[];
  rows: Array<{ t: number; values: Record<string, number | Error> }>;
}

/**
 * Parses a trace CSV: a header with `t` (seconds) and one column per trigger name, or `metric` when
 * the spec has a single trigger. A cell may be a number or `error` (the read fails at that time).
 */
export function parseTrace(csv: string, spec: ScalingSpec): Trace {
  const lines = csv.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) throw new Error('trace is empty: expected a header line such as "t,metric"');
  const header = lines[0]!.split(',').map((h) => h.trim());
  const names = spec.triggers.map((t) => t.name);
  const cronNames = spec.triggers.filter((t) => t.type === 'cron').map((t) => t.name);
  if (header[0] !== 't') throw new Error(`trace header must start with "t" (seconds), got ${JSON.stringify(header[0])}`);
  const cols = header.slice(1);
  const single = spec.triggers.length === 1 && cols.length === 1 && cols[0] === 'metric';
  const allowed = single ? ['metric'] : names;
  for (const c of cols) {
    if (!allowed.includes(c) && !(spec.triggers.length === 1 && c === 'metric')) {
      throw new Error(`trace column ${JSON.stringify(c)} is not a trigger name; allowed: ${[...names, ...(names.length === 1 ? ['metric'] : [])].join(', ')}`);
    }
  }
  const columnFor = (name: string) => (single ? 'metric' : name);
  for (const n of names) {
    if (!cols.includes(columnFor(n)) && !cronNames.includes(n)) throw new Error(`trace has no column for trigger ${JSON.stringify(n)} (columns: ${cols.join(', ') || 'none'})`);
  }
  const rows: Trace['rows'] = [];
  let last = -Infinity;
  lines.slice(1).forEach((line, i) => {
    const cells = line.split(',').map((c) => c.trim());
    const where = `trace line ${i + 2}`;
    if (cells.length !== header.length) throw new Error(`${where}: ${cells.length} cells, header has ${header.length}`);
    const t = Number(cells[0]);
    if (cells[0] === '' || !Number.isFinite(t) || t < 0) throw new Error(`${where}: t must be a number of seconds >= 0, got ${JSON.stringify(cells[0])}`);
    if (t <= last) throw new Error(`${where}: t must increase (got ${t} after ${last})`);
    last = t;
    const values: Record<string, number | Error> = {};
    for (const n of names) {
      const col = header.indexOf(columnFor(n));
      if (col < 0) continue;
      const cell = cells[col]!;
      if (/^err(or)?$/i.test(cell)) values[n] = new Error('trace: error');
      else {
        const v = Number(cell);
        if (cell === '' || !Number.isFinite(v)) throw new Error(`${where}: ${header[col]} must be a number or "error", got ${JSON.stringify(cell)}`);
        values[n] = v;
      }
    }
    rows.push({ t, values });
  });
  if (rows.length === 0) throw new Error('trace has a header but no rows');
  return { columns: names.map(columnFor), rows };
}

/** A clock whose time moves only when run() fires the next timer. Ties fire in scheduling order. */
export function createVirtualClock(start = 0) {
  let now = start;
  let seq = 0;
  const timers = new Map<number, { due: number; seq: number; fn: () => void }>();
  const clock: Clock = {
    now: () => now,
    setTimeout(fn, ms) {
      const id = ++seq;
      timers.set(id, { due: now + Math.max(0, ms), seq: id, fn });
      return id;
    },
    clearTimeout(h) {
      timers.delete(h as number);
    },
  };
  return {
    clock,
    /** Fires timers in time order up to and including `until`, awaiting `settle` after each. */
    async run(until: number, settle: () => Promise<void>): Promise<void> {
      for (;;) {
        let next: { id: number; due: number; seq: number; fn: () => void } | undefined;
        for (const [id, t] of timers) if (!next || t.due < next.due || (t.due === next.due && t.seq < next.seq)) next = { id, ...t };
        if (!next || next.due > until) break;
        timers.delete(next.id);
        now = next.due;
        next.fn();
        await settle();
      }
      now = Math.max(now, until);
    },
  };
}

export interface SimulateOptions {
  /** HPA sync period; default 15 s as in Kubernetes. */
  hpaSyncMs?: number;
  /** Replicas at t=0; default idleReplicaCount ?? minReplicaCount. */
  initialReplicas?: number;
  /** Simulated time to stop at (ms); default the last trace time. */
  untilMs?: number;
}

export interface SimRow {
  t: number;
  kind: Tick['kind'];
  /** Replicas before this row's decision. */
  from: number;
  values: Record<string, number | null>;
  active: boolean;
  desired: number;
  replicas: number;
  reason: string;
}

/** Replays the spec against the trace with the real loop on a virtual clock (t=0 is the epoch). */
export async function simulate(spec: ScalingSpec, trace: Trace, opts: SimulateOptions = {}): Promise<SimRow[]> {
  const vc = createVirtualClock(0);
  let replicas = opts.initialReplicas ?? spec.idleReplicaCount ?? spec.minReplicaCount;
  const valuesAt = (ms: number) => {
    let row: Trace['rows'][number] | undefined;
    for (const r of trace.rows) if (r.t * 1000 <= ms) row = r;
    // Before the first row the metrics read 0.
    return row ? row.values : Object.fromEntries(Object.keys(trace.rows[0]!.values).map((k) => [k, 0]));
  };
  const rows: SimRow[] = [];
  let before = replicas;
  const loop = createScaleLoop({
    spec,
    clock: vc.clock,
    hpaSyncMs: opts.hpaSyncMs ?? KUBERNETES_HPA_SYNC_MS,
    readMetrics: async () => valuesAt(vc.clock.now()),
    target: { setReplicas: (n) => (replicas = n), currentReplicas: () => replicas },
    onTick(tick) {
      rows.push({
        t: tick.at / 1000,
        kind: tick.kind,
        from: before,
        values: Object.fromEntries(tick.triggers.map((s) => [s.name, s.value])),
        active: tick.active,
        desired: tick.desired,
        replicas: tick.replicas,
        reason: tick.reason,
      });
      before = tick.replicas;
    },
  });
  loop.start();
  await loop.settled();
  await vc.run(opts.untilMs ?? trace.rows[trace.rows.length - 1]!.t * 1000, () => loop.settled());
  loop.stop();
  return rows;
}

/** The rows that changed the count, one line each: `t=30s 0 → 1 (keda: ScalerActive: q 1 > activation 0)`. */
export function formatDecisions(rows: SimRow[]): string {
  return rows
    .filter((r) => r.replicas !== r.from)
    .map((r) => `t=${fmt(r.t)}s ${r.from} → ${r.replicas} (${r.reason}${r.kind === 'sync' && r.desired !== r.replicas ? `, recommendation ${r.desired}` : ''})\n`)
    .join('');
}

function fmt(n: number | null): string {
  if (n === null) return 'error';
  return String(Math.round(n * 1000) / 1000);
}

/** Rows as CSV or an aligned table: t,<trigger columns>,active,desired,replicas,reason. */
export function formatRows(rows: SimRow[], spec: ScalingSpec, columns: string[], format: 'csv' | 'table'): string {
  const header = ['t', ...columns, 'active', 'desired', 'replicas', 'reason'];
  const names = spec.triggers.map((t) => t.name);
  const body = rows.map((r) => [fmt(r.t), ...names.map((n) => fmt(r.values[n] ?? null)), String(r.active), String(r.desired), String(r.replicas), r.reason]);
  if (format === 'csv') {
    const esc = (c: string) => (/[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c);
    return [header, ...body].map((line) => line.map(esc).join(',')).join('\n') + '\n';
  }
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...body.map(line)].join('\n') + '\n';
}
