import pg from 'pg';
import type { ScalingSpec, TriggerSpec } from '../scaling/index.js';
import { fromEnv } from '../sources/broker-common.js';

type Reader = () => Promise<number>;

/**
 * readMetrics() for a component's scale loop: its own trigger reads the source's lag; a cron
 * trigger is left out (the scaler reads the clock, as KEDA's cron scaler does); a postgresql
 * trigger runs its query like KEDA's postgresql scaler. A failed read is reported as an Error so
 * the scaler applies KEDA's error rules (never scale to zero on errors; fallback).
 */
export function readMetricsFor(spec: ScalingSpec, ownLag: Reader): () => Promise<Record<string, number | Error>> {
  const readers = new Map<string, Reader>();
  spec.triggers.forEach((t, i) => {
    if (i === 0) readers.set(t.name, ownLag);
    else if (t.type === 'postgresql') readers.set(t.name, postgresReader(t));
    else if (t.type !== 'cron') {
      readers.set(t.name, () => Promise.reject(new Error(`trigger ${t.name}: type ${t.type} can be read only as the component's own trigger`)));
    }
  });
  return async () => {
    const entries = await Promise.all(
      [...readers].map(async ([name, read]) => {
        try {
          return [name, await read()] as const;
        } catch (err) {
          return [name, err instanceof Error ? err : new Error(String(err))] as const;
        }
      }),
    );
    return Object.fromEntries(entries);
  };
}

function postgresReader(t: TriggerSpec): Reader {
  const md = t.metadata;
  // KEDA's metadata names the environment variables (connectionFromEnv, passwordFromEnv), so the
  // same trigger works in-process and rendered for KEDA; connection/password are the
  // TriggerAuthentication parameters, accepted as literal values.
  const connection = md.connection ?? fromEnv('postgresql', 'connectionFromEnv', md.connectionFromEnv);
  const password = md.password ?? fromEnv('postgresql', 'passwordFromEnv', md.passwordFromEnv);
  const connectionString =
    connection ??
    (md.host ? `postgres://${encodeURIComponent(md.userName ?? 'postgres')}${password ? `:${encodeURIComponent(password)}` : ''}@${md.host}:${md.port ?? '5432'}/${md.dbName ?? 'postgres'}${md.sslmode ? `?sslmode=${md.sslmode}` : ''}` : undefined);
  if (!connectionString) throw new Error(`trigger ${t.name}: postgresql needs connectionFromEnv (or connection), or host/port/userName/dbName`);
  const pool = new pg.Pool({ connectionString, max: 1, idleTimeoutMillis: 10_000 });
  pool.on('error', () => {});
  return async () => {
    const res = await pool.query(md.query!);
    const first = res.rows[0] ? Object.values(res.rows[0])[0] : undefined;
    const value = Number(first);
    if (!Number.isFinite(value)) throw new Error(`trigger ${t.name}: the query returned ${JSON.stringify(first)}, not a number`);
    return value;
  };
}
