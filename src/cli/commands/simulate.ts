import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import { parseDuration } from '../../core/units.js';
import { parseScaledObject, type ScaledObjectConfig } from '../../scaling/spec.js';
import { formatRows, parseTrace, simulate } from '../../scaling/simulate.js';

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
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
    .description('Replay a KEDA ScaledObject against a metric trace, as KEDA and the Kubernetes HPA would scale it')
    .argument('<scaledobject.yaml>', 'a ScaledObject (keda.sh/v1alpha1) or its spec')
    .requiredOption('--trace <trace.csv>', 'CSV: t (seconds) and one column per trigger name (or "metric" for one trigger); a cell may be "error"')
    .option('--hpa-sync <duration>', 'HPA sync period (Kubernetes default)', '15s')
    .option('--format <format>', 'csv or table', 'csv')
    .option('--initial-replicas <n>', 'replicas at t=0 (default: idleReplicaCount, else minReplicaCount)')
    .addHelpText('after', '\nOne row per KEDA poll or HPA sync: t,<trigger columns>,active,desired,replicas,reason.\n"desired" is the metric-based recommendation, "replicas" the count after stabilization, rate policies and clamping.')
    .action(async (file: string, opts: { trace: string; hpaSync: string; format: string; initialReplicas?: string }) => {
      if (opts.format !== 'csv' && opts.format !== 'table') throw new Error(`--format must be csv or table, got ${JSON.stringify(opts.format)}`);
      const hpaSyncMs = parseDuration(opts.hpaSync);
      if (!(hpaSyncMs >= 1)) throw new Error(`--hpa-sync must be at least 1ms, got ${JSON.stringify(opts.hpaSync)}`);
      let initialReplicas: number | undefined;
      if (opts.initialReplicas !== undefined) {
        if (!/^\d+$/.test(opts.initialReplicas)) throw new Error(`--initial-replicas must be a whole number, got ${JSON.stringify(opts.initialReplicas)}`);
        initialReplicas = Number(opts.initialReplicas);
      }
      const so = loadScaledObject(file);
      let trace;
      try {
        trace = parseTrace(readText(opts.trace, 'trace'), so.spec);
      } catch (err) {
        throw new Error(`${opts.trace}: ${(err as Error).message}`);
      }
      const rows = await simulate(so.spec, trace, { hpaSyncMs, ...(initialReplicas !== undefined ? { initialReplicas } : {}) });
      process.stdout.write(formatRows(rows, so.spec, trace.columns, opts.format));
    });
}
