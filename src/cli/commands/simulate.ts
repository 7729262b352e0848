import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import { parseDuration } from '../../core/units.js';
import { parseScaledObject, type ScaledObjectConfig } from '../../scaling/spec.js';
import { formatDecisions, formatRows, parseTrace, simulate } from '../../scaling/simulate.js';
import { loadManifest } from '../../app/manifest.js';
import { resolveScaling } from '../../app/scaling.js';
import { jsonHelp, printJson } from '../json.js';

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** What `simulate` replays: the scaling spec, and the component's own HPA sync period when it came from an app. */
export interface SimulationTarget extends ScaledObjectConfig {
  hpaSyncMs?: number;
}

const isApp = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v) && (v as Record<string, unknown>).kind === 'App';

/**
 * The scaling spec to replay from a YAML file: a featherweight app manifest (kind: App) and one of
 * its components (the one, or the one named by `component`), resolved as `up` resolves it; else the
 * one `kind: ScaledObject` document, or a bare spec.
 */
export function loadSimulationTarget(file: string, component?: string): SimulationTarget {
  const docs = parseAllDocuments(readText(file, 'ScaledObject'));
  if (docs.length === 1 && !docs[0]!.errors.length && isApp(docs[0]!.toJS())) {
    const app = loadManifest(file);
    const names = app.components.map((c) => c.name);
    const c = component !== undefined ? app.components.find((x) => x.name === component) : app.components.length === 1 ? app.components[0] : undefined;
    if (!c) {
      throw new Error(
        component !== undefined
          ? `${file}: no component ${JSON.stringify(component)}; components: ${names.join(', ')}`
          : `${file} has ${names.length} components: pick one with --component (${names.join(', ')})`,
      );
    }
    const spec = resolveScaling(c, `components[${app.components.indexOf(c)}].scaling`);
    return { name: c.name, annotations: spec.annotations, spec, ...(c.hpaSyncMs !== undefined ? { hpaSyncMs: c.hpaSyncMs } : {}) };
  }
  if (component !== undefined) throw new Error(`--component is for app manifests; ${file} is not one (kind: App)`);
  return loadScaledObject(file);
}

/** The ScaledObject in a YAML file: the one `kind: ScaledObject` document, or a bare spec. */
export function loadScaledObject(file: string): ScaledObjectConfig {
  const docs = parseAllDocuments(readText(file, 'ScaledObject'));
  const values: unknown[] = [];
  for (const d of docs) {
    if (d.errors.length) throw new Error(`${file}: YAML error: ${d.errors[0]!.message.split('\n')[0]}`);
    const v = d.toJS();
    if (v !== null && v !== undefined) values.push(v);
  }
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const scaled = values.filter((v) => isObj(v) && v.kind === 'ScaledObject');
  if (scaled.length > 1) throw new Error(`${file} holds ${scaled.length} ScaledObjects; put the one to simulate in its own file`);
  const chosen = scaled[0] ?? (values.length === 1 ? values[0] : undefined);
  if (chosen === undefined) throw new Error(`${file} holds no ScaledObject (a document with kind: ScaledObject, or a bare spec)`);
  try {
    return parseScaledObject(chosen);
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}

export function register(program: Command): void {
  program
    .command('simulate')
    .description('Replay a KEDA ScaledObject (or an app component\'s scaling) against a metric trace, as KEDA and the Kubernetes HPA would scale it')
    .argument('<file.yaml>', 'a ScaledObject (keda.sh/v1alpha1) or its spec, or an app manifest (featherweight.yaml) with --component')
    .requiredOption('--trace <trace.csv>', 'CSV: t (seconds) and one column per trigger name (or "metric" for one trigger); a cell may be "error"')
    .option('--component <name>', 'with an app manifest: the component to replay (needed when it has several)')
    .option('--hpa-sync <duration>', 'HPA sync period (default: the component\'s hpaSyncPeriod, else 15s as Kubernetes)')
    .option('--format <format>', 'csv, table, or decisions (only the rows that change the count, with their reasons)', 'csv')
    .option('--json', `${jsonHelp}: every row (or with --format decisions, the rows that change the count)`)
    .option('--initial-replicas <n>', 'replicas at t=0 (default: idleReplicaCount, else minReplicaCount)')
    .addHelpText('after', '\nOne row per KEDA poll or HPA sync: t,<trigger columns>,active,desired,replicas,reason.\n"desired" is the metric-based recommendation, "replicas" the count after stabilization, rate policies and clamping;\n"reason" is KEDA\'s or the HPA\'s condition reason (e.g. "keda: ScalerActive: smtp 12 > activation 0", "hpa: ScaleUpLimit").')
    .action(async (file: string, opts: { trace: string; hpaSync?: string; format: string; initialReplicas?: string; component?: string; json?: boolean }) => {
      if (opts.format !== 'csv' && opts.format !== 'table' && opts.format !== 'decisions') throw new Error(`--format must be csv, table or decisions, got ${JSON.stringify(opts.format)}`);
      const so = loadSimulationTarget(file, opts.component);
      const hpaSyncMs = opts.hpaSync !== undefined ? parseDuration(opts.hpaSync) : (so.hpaSyncMs ?? 15_000);
      if (!(hpaSyncMs >= 1)) throw new Error(`--hpa-sync must be at least 1ms, got ${JSON.stringify(opts.hpaSync)}`);
      let initialReplicas: number | undefined;
      if (opts.initialReplicas !== undefined) {
        if (!/^\d+$/.test(opts.initialReplicas)) throw new Error(`--initial-replicas must be a whole number, got ${JSON.stringify(opts.initialReplicas)}`);
        initialReplicas = Number(opts.initialReplicas);
      }
      let trace;
      try {
        trace = parseTrace(readText(opts.trace, 'trace'), so.spec);
      } catch (err) {
        throw new Error(`${opts.trace}: ${(err as Error).message}`);
      }
      const rows = await simulate(so.spec, trace, { hpaSyncMs, ...(initialReplicas !== undefined ? { initialReplicas } : {}) });
      if (opts.json) return printJson(opts.format === 'decisions' ? rows.filter((r) => r.replicas !== r.from) : rows);
      process.stdout.write(opts.format === 'decisions' ? formatDecisions(rows) : formatRows(rows, so.spec, trace.columns, opts.format));
    });
}
