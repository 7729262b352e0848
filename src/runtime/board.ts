// A worker thread's board: shared memory the thread writes and the pool reads, so the main thread knows
// which job of a batch runs since when (the watchdog's per-job deadline), what the guest has written
// so far (a killed guest's output tail), and the results of the jobs done so far (so a batch killed by
// its watchdog loses none of them), without a message per job or per write (decisions 230, 231).
// One writer (the worker), one reader (the pool); output is guarded by a sequence lock, because the
// reader may look while the guest is writing.
import type { ExportCall, GuestRun } from '../wasm/index.js';
import type { JobDone } from './protocol.js';

/** Bytes of stdout and of stderr kept, the latest ones: enough for the last lines before a hang. */
export const TAIL_BYTES = 16 * 1024;

// Int32 slots of the header.
const SEQ = 0; // odd while the writer changes output
const JOB = 1; // id of the job started last (0: none yet)
const RUNNING = 2; // 1 while that job's guest runs
const COMMITTED = 3; // bytes of the results area holding complete results of the current batch
// Float64 slots (byte offset 16 on): start time (monoMs), bytes written to stdout, to stderr.
const F_START = 2;
const F_OUT = 3;
const F_ERR = 4;
const HEADER = 48;

/** Milliseconds on the process-wide monotonic clock: the same in every thread, unlike performance.now(). */
export function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * Room for the results of one batch: short jobs' results (a few rows each) go here; one that does not
 * fit goes back by message, sent before the next job starts.
 */
export const RESULTS_BYTES = 512 * 1024;
const RESULTS_AT = HEADER + 2 * TAIL_BYTES;

export function createBoardMemory(): SharedArrayBuffer {
  return new SharedArrayBuffer(RESULTS_AT + RESULTS_BYTES);
}

// A result entry: u32 size, i32 id, f64 durationUs, f64 startedAt, u8 tag, u32 stdout, u32 stderr and
// u32 JSON lengths, then those bytes. Tags: a GuestRun that succeeded, one that failed (JSON: the
// error), an ExportCall (JSON: all of it).
const ENTRY_HEAD = 37;
const TAG_OK = 0;
const TAG_FAILED = 1;
const TAG_EXPORT = 2;
const noBytes: Uint8Array = new Uint8Array(0);

export interface OutputSoFar {
  stdout: Uint8Array;
  stderr: Uint8Array;
  stdoutBytes: number;
  stderrBytes: number;
}

export class Board {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly rings: { stdout: Uint8Array; stderr: Uint8Array };
  private readonly results: Uint8Array;
  private readonly view: DataView;
  /** Writer: bytes used in the results area. Reader: bytes read from it. */
  private at = 0;

  constructor(sab: SharedArrayBuffer) {
    this.i32 = new Int32Array(sab, 0, 4);
    this.f64 = new Float64Array(sab, 0, HEADER / 8);
    this.rings = { stdout: new Uint8Array(sab, HEADER, TAIL_BYTES), stderr: new Uint8Array(sab, HEADER + TAIL_BYTES, TAIL_BYTES) };
    this.results = new Uint8Array(sab, RESULTS_AT, RESULTS_BYTES);
    this.view = new DataView(sab, RESULTS_AT, RESULTS_BYTES);
  }

  /** Both sides, when a batch starts: the results area is empty (the reader took the last batch's). */
  newBatch(): void {
    this.at = 0;
    Atomics.store(this.i32, COMMITTED, 0);
  }

  /** Writer: stores a result in the area; false when it does not fit (send it by message then). */
  putResult(done: JobDone): boolean {
    const r = done.result;
    let tag: number;
    let out = noBytes;
    let err = noBytes;
    let json = noBytes;
    if ('stdout' in r) {
      tag = r.ok ? TAG_OK : TAG_FAILED;
      out = r.stdout;
      err = r.stderr;
      if (!r.ok) json = Buffer.from(JSON.stringify(r.error));
    } else {
      tag = TAG_EXPORT;
      json = Buffer.from(JSON.stringify(r));
    }
    const size = ENTRY_HEAD + out.length + err.length + json.length;
    if (this.at + size > RESULTS_BYTES) return false;
    const v = this.view;
    const o = this.at;
    v.setUint32(o, size, true);
    v.setInt32(o + 4, done.id, true);
    v.setFloat64(o + 8, done.durationUs, true);
    v.setFloat64(o + 16, done.startedAt, true);
    v.setUint8(o + 24, tag);
    v.setUint32(o + 25, out.length, true);
    v.setUint32(o + 29, err.length, true);
    v.setUint32(o + 33, json.length, true);
    let p = o + ENTRY_HEAD;
    this.results.set(out, p);
    p += out.length;
    this.results.set(err, p);
    p += err.length;
    this.results.set(json, p);
    this.at = o + size;
    Atomics.store(this.i32, COMMITTED, this.at);
    return true;
  }

  /** Reader: the results stored since the last call, in the order the jobs ran. */
  takeResults(): JobDone[] {
    const end = Atomics.load(this.i32, COMMITTED);
    const list: JobDone[] = [];
    const v = this.view;
    while (this.at < end) {
      const o = this.at;
      const size = v.getUint32(o, true);
      const tag = v.getUint8(o + 24);
      const outLen = v.getUint32(o + 25, true);
      const errLen = v.getUint32(o + 29, true);
      const jsonLen = v.getUint32(o + 33, true);
      let p = o + ENTRY_HEAD;
      // Copies: the area is reused by the next batch.
      const stdout = this.results.slice(p, (p += outLen));
      const stderr = this.results.slice(p, (p += errLen));
      const json = jsonLen > 0 ? Buffer.from(this.results.subarray(p, p + jsonLen)).toString('utf8') : '';
      let result: GuestRun | ExportCall;
      if (tag === TAG_OK) result = { ok: true, exitCode: 0, stdout, stderr };
      else if (tag === TAG_FAILED) result = { ok: false, error: JSON.parse(json), stdout, stderr };
      else result = JSON.parse(json) as ExportCall;
      list.push({ id: v.getInt32(o + 4, true), result, durationUs: v.getFloat64(o + 8, true), startedAt: v.getFloat64(o + 16, true) });
      this.at = o + size;
    }
    return list;
  }

  // --- writer (the worker thread) ---

  /** Job `id` starts now: its output so far is none. */
  begin(id: number): void {
    Atomics.add(this.i32, SEQ, 1);
    this.f64[F_START] = monoMs();
    this.f64[F_OUT] = 0;
    this.f64[F_ERR] = 0;
    Atomics.store(this.i32, JOB, id);
    Atomics.store(this.i32, RUNNING, 1);
    Atomics.add(this.i32, SEQ, 1);
  }

  /** The guest ended (its result is built; the job stays the one started last). */
  end(): void {
    Atomics.store(this.i32, RUNNING, 0);
  }

  /** Every write the guest makes to stdout or stderr, as it makes it. */
  write(stream: 'stdout' | 'stderr', bytes: Uint8Array): void {
    const ring = this.rings[stream];
    const slot = stream === 'stdout' ? F_OUT : F_ERR;
    Atomics.add(this.i32, SEQ, 1);
    const total = this.f64[slot]!;
    // Only the last TAIL_BYTES of a large write can survive in the ring.
    const src = bytes.length > TAIL_BYTES ? bytes.subarray(bytes.length - TAIL_BYTES) : bytes;
    const skipped = bytes.length - src.length;
    let at = (total + skipped) % TAIL_BYTES;
    const first = Math.min(src.length, TAIL_BYTES - at);
    ring.set(src.subarray(0, first), at);
    if (first < src.length) ring.set(src.subarray(first), 0);
    this.f64[slot] = total + bytes.length;
    Atomics.add(this.i32, SEQ, 1);
  }

  // --- reader (the pool, on the main thread) ---

  /** The job started last and since when, and whether its guest still runs. */
  current(): { job: number; running: boolean; startedAt: number } {
    for (;;) {
      const job = Atomics.load(this.i32, JOB);
      const running = Atomics.load(this.i32, RUNNING) === 1;
      const startedAt = this.f64[F_START]!;
      if (Atomics.load(this.i32, JOB) === job) return { job, running, startedAt };
    }
  }

  /**
   * What job `id` wrote so far (the latest TAIL_BYTES of each stream, and the byte counts), or null when
   * the board belongs to another job. Read while the guest may still be writing: a write caught halfway
   * is read again, a few times, then taken as it is (a diagnostic tail, not data).
   */
  output(id: number): OutputSoFar | null {
    for (let attempt = 0; ; attempt++) {
      const seq = Atomics.load(this.i32, SEQ);
      if (Atomics.load(this.i32, JOB) !== id) return null;
      const stdoutBytes = this.f64[F_OUT]!;
      const stderrBytes = this.f64[F_ERR]!;
      const out = { stdout: this.tail('stdout', stdoutBytes), stderr: this.tail('stderr', stderrBytes), stdoutBytes, stderrBytes };
      if ((seq % 2 === 0 && Atomics.load(this.i32, SEQ) === seq) || attempt >= 8) return out;
    }
  }

  private tail(stream: 'stdout' | 'stderr', total: number): Uint8Array {
    const ring = this.rings[stream];
    if (total <= TAIL_BYTES) return ring.slice(0, total);
    const at = total % TAIL_BYTES;
    const out = new Uint8Array(TAIL_BYTES);
    out.set(ring.subarray(at), 0);
    out.set(ring.subarray(0, at), TAIL_BYTES - at);
    return out;
  }
}
