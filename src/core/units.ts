/** Parsing of the human units the manifest and CLI accept: sizes (16MiB) and durations (2s). */

const sizeUnits: Record<string, number> = {
  '': 1, b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9,
  ki: 1024, kib: 1024, mi: 1024 ** 2, mib: 1024 ** 2, gi: 1024 ** 3, gib: 1024 ** 3,
};

/** "16MiB" -> 16777216; numbers pass through as bytes. Throws with the accepted forms. */
export function parseSize(value: string | number): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.floor(value);
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(String(value));
  const factor = m ? sizeUnits[m[2]!.toLowerCase()] : undefined;
  if (!m || factor === undefined) {
    throw new Error(`invalid size ${JSON.stringify(value)}: use bytes or a number with B, KB, MB, GB, KiB, MiB or GiB (e.g. 16MiB)`);
  }
  return Math.floor(Number(m[1]) * factor);
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, us: 0.001, µs: 0.001 };

/** "2s" -> 2000 ms, "1m30s" -> 90000; bare numbers are seconds (as in KEDA specs). */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value * 1000;
  const s = String(value).trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|us|µs|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * durationUnits[m[2]!]!;
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== s.length) {
    throw new Error(`invalid duration ${JSON.stringify(value)}: use a number of seconds or units ms, s, m, h (e.g. 2s, 500ms, 1m30s)`);
  }
  return total;
}
