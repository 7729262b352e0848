import type { ScalingSpec } from '../scaling/index.js';
import { scalerPlugin, type Reader } from './scalers/index.js';

/**
 * readMetrics() for a component's scale loop: its own trigger reads the source's lag; an extra
 * trigger reads what its scaler plugin says (src/app/scalers: postgresql runs its query like KEDA's
 * scaler; cron has no reader, the scaler reads the clock as KEDA's cron scaler does). A failed read
 * is reported as an Error so the scaler applies KEDA's error rules (never scale to zero on errors; fallback).
 */
export function readMetricsFor(spec: ScalingSpec, ownLag: Reader): () => Promise<Record<string, number | Error>> {
  const readers = new Map<string, Reader>();
  spec.triggers.forEach((t, i) => {
    if (i === 0) return void readers.set(t.name, ownLag);
    const scaler = scalerPlugin(t.type);
    if (!scaler) readers.set(t.name, () => Promise.reject(new Error(`trigger ${t.name}: type ${t.type} can be read only as the component's own trigger`)));
    else if (scaler.reader) readers.set(t.name, scaler.reader(t));
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
