import pg from 'pg';
import type { TriggerSpec } from '../../scaling/index.js';
import { fromEnv } from '../../sources/broker-common.js';
import type { Reader, ScalerPlugin } from './index.js';

/** KEDA's postgresql scaler: the first column of the query's first row, read in-process the same way. */
function reader(t: TriggerSpec): Reader {
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

export const plugin: ScalerPlugin = {
  type: 'postgresql',
  reader,
  kube: {
    kind: 'native',
    type: 'postgresql',
    keys: ['connectionFromEnv', 'host', 'port', 'userName', 'passwordFromEnv', 'dbName', 'sslmode', 'query', 'targetQueryValue', 'activationTargetQueryValue'],
    required: ['query', 'targetQueryValue'],
    secrets: ['password'],
  },
};
