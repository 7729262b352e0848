import type { Logger } from 'pino';
import type { Delivery, Source } from '../core/source.js';
import type { Sink } from '../core/sink.js';
import { isPermanent, PreparationError, RecordError, type FailureInfo } from '../core/errors.js';
import type { Pool } from '../runtime/pool.js';
import { eventEnv } from '../wasm/wasi-command.js';
import type { DeadLetters } from '../sources/dead-letters.js';
import { parseRecords, tail } from './records.js';
import { defaultMaxRecords } from '../wasm/limits.js';
import type { ComponentSpec } from './manifest.js';

export type { FailureInfo };

export type Outcome =
  | { kind: 'ok'; latencyMs: number; runUs: number; coldStart: boolean; records: number }
  | { kind: 'retry' | 'dead'; failure: FailureInfo; attempt: number; coldStart: boolean };

export interface DispatcherDeps {
  spec: ComponentSpec;
  source: Source;
  sink: Sink;
  pool: Pool;
  deadLetters: DeadLetters;
  log: Logger;
  onOutcome(outcome: Outcome): void;
  /** A component without a module (decision 160): each event goes to this instead of a guest. */
  forward?: (event: Delivery['event']) => Promise<void>;
}

export interface Dispatcher {
  /** Re-check for free replicas (after the scaler changed the count). */
  wake(): void;
  inFlight(): number;
  /** Stops taking events and waits for the in-flight ones to settle. */
  stop(): Promise<void>;
}

/**
 * Events per replica that may be settling (rows committing, ack being written) beside the one its
 * guest runs. The source's prefetch must cover them, or it holds the next event back (decision 232).
 */
export const writeAhead = 2;

/**
 * Moves events from the source to the pool and their output to the sink. It asks the source for
 * an event only while fewer than `replicas` guests are running (and fewer than 3 × replicas events
 * are unsettled, their rows and acks committing), so the backlog stays in the source (where the
 * scaler sees it as lag) instead of piling up in memory. Ack only after the sink has
 * committed; a failure nacks with backoff until maxAttempts, then dead-letters, except a failure
 * that can only repeat (isPermanent: input, output or record limit, invalid module, unusable
 * output), which is dead-lettered at once.
 */
export function startDispatcher(deps: DispatcherDeps): Dispatcher {
  const { spec, source, sink, pool, deadLetters, log, onOutcome } = deps;
  const abort = new AbortController();
  const settling = new Set<Promise<void>>();
  // Events whose guest is running (or queued in the pool): bounded by the replicas. An event whose
  // guest has returned no longer needs its replica while its rows commit and its ack is written
  // (both group-committed, decision 232), so the next event may start meanwhile; those writes are
  // bounded separately (writeAhead per replica), so a slow sink still holds the intake back.
  let running = 0;
  // Host failures (pool closed at shutdown, a thread that failed to start) per event id: the guest
  // never ran, so they are nacked without using up its attempts. Kept here because a broker counts
  // deliveries itself; bounded, since a redelivery may go to another process and never come back.
  const hostFailures = new Map<string, number>();
  const maxTracked = 10_000;
  let wakeUp: (() => void) | undefined;

  const wake = () => {
    const w = wakeUp;
    wakeUp = undefined;
    w?.();
  };

  const handle = async (d: Delivery): Promise<void> => {
    let ev = d.event;
    // Before a replica is taken: a mail waits for its MIME parse without holding one (decision 250).
    if (source.prepare) {
      try {
        ev = await source.prepare(d.event);
      } catch (err) {
        if (err instanceof PreparationError) return fail(d, err.failure, '', false);
        return hostFailure(d, `preparing the event: ${(err as Error).message}`);
      }
    }
    if (deps.forward) return forwardOne(d, ev, deps.forward);
    // Checked here as well as in the guest runtime so the body never travels to a thread, and so
    // the failure has its own kind: the same body can never fit, however often it is retried.
    if (ev.body.byteLength > spec.limits.maxStdinBytes) {
      const message = `event body of ${ev.body.byteLength} bytes is above the stdin limit of ${spec.limits.maxStdinBytes} bytes (limits.maxStdin); the guest was not run`;
      return fail(d, { kind: 'input-limit', message }, '', false);
    }
    let result;
    running++;
    try {
      // The pool already holds the component's grants (env included); only the event's own env goes here.
      result = await pool.submit({ kind: 'command', stdin: ev.body, env: eventEnv(ev), args: [spec.name] });
    } catch (err) {
      return hostFailure(d, (err as Error).message);
    } finally {
      running--;
      wake();
    }
    const stderr = tail(result.stderr);
    if (stderr) log.info({ event: ev.id, stderr }, 'guest stderr');
    if (!result.ok) return fail(d, result.error, stderr, result.coldStart);
    const parsed = await parseRecords(result.stdout, spec.limits.maxRecords ?? defaultMaxRecords);
    if (!parsed.ok) return fail(d, { kind: parsed.kind, message: parsed.message }, stderr, result.coldStart);
    try {
      await sink.write(ev.id, parsed.records);
    } catch (err) {
      const kind = err instanceof RecordError ? 'output' : 'sink';
      return fail(d, { kind, message: `sink ${sink.type}: ${(err as Error).message}` }, stderr, result.coldStart);
    }
    hostFailures.delete(ev.id);
    try {
      await d.ack();
    } catch (err) {
      // The rows are committed and keyed by event id, so a redelivery after a lost ack is harmless.
      log.warn({ event: ev.id, err: (err as Error).message }, 'ack failed; the event may be redelivered');
    }
    onOutcome({ kind: 'ok', latencyMs: Date.now() - ev.enqueuedAt, runUs: result.durationUs, coldStart: result.coldStart, records: parsed.records.length });
  };

  // The event itself is the output: acked once the broker confirmed it, nacked like a sink failure.
  const forwardOne = async (d: Delivery, ev: Delivery['event'], forward: (event: Delivery['event']) => Promise<void>): Promise<void> => {
    const started = performance.now();
    running++; // a forwarder's replicas are its concurrent publishes
    try {
      await forward(ev);
    } catch (err) {
      return fail(d, { kind: 'sink', message: `sink ${sink.type}: ${(err as Error).message}` }, '', false);
    } finally {
      running--;
      wake();
    }
    try {
      await d.ack();
    } catch (err) {
      // Forwarded with its id as the dedupe key, so a redelivery after a lost ack is dropped by the broker.
      log.warn({ event: d.event.id, err: (err as Error).message }, 'ack failed; the event may be forwarded again');
    }
    onOutcome({ kind: 'ok', latencyMs: Date.now() - d.event.enqueuedAt, runUs: Math.round((performance.now() - started) * 1000), coldStart: false, records: 1 });
  };

  // Never dead-letters: the next delivery (here after the first backoff, or on another host) runs it.
  const hostFailure = async (d: Delivery, message: string): Promise<void> => {
    const ev = d.event;
    if (!hostFailures.has(ev.id) && hostFailures.size >= maxTracked) hostFailures.delete(hostFailures.keys().next().value!);
    hostFailures.set(ev.id, (hostFailures.get(ev.id) ?? 0) + 1);
    const failure: FailureInfo = { kind: 'host', message };
    try {
      await d.nack(spec.delivery.backoffMs);
      log.warn({ event: ev.id, reason: `host: ${message}` }, 'host failure; event returned without using an attempt');
      onOutcome({ kind: 'retry', failure, attempt: guestAttempts(ev), coldStart: false });
    } catch (err) {
      log.error({ event: ev.id, err: (err as Error).message }, 'could not return an event after a host failure');
    }
  };

  /** Deliveries in which the guest ran (or could have): the source's count less this host's own failures. */
  const guestAttempts = (ev: Delivery['event']): number => Math.max(1, ev.attempt - (hostFailures.get(ev.id) ?? 0));

  const fail = async (d: Delivery, failure: FailureInfo, stderrTail: string, coldStart: boolean): Promise<void> => {
    const ev = d.event;
    const reason = `${failure.kind}: ${failure.message}`;
    const attempt = guestAttempts(ev);
    try {
      if (attempt >= spec.delivery.maxAttempts || isPermanent(failure)) {
        hostFailures.delete(ev.id);
        deadLetters.add({ component: spec.name, event: ev, reason, error: failure, stderrTail });
        await d.reject(reason);
        log.warn({ event: ev.id, attempt, reason }, 'event dead-lettered');
        onOutcome({ kind: 'dead', failure, attempt, coldStart });
      } else {
        const delay = Math.min(spec.delivery.maxBackoffMs, spec.delivery.backoffMs * 2 ** (attempt - 1));
        await d.nack(delay);
        log.info({ event: ev.id, attempt, reason, retryInMs: delay }, 'event failed; will retry');
        onOutcome({ kind: 'retry', failure, attempt, coldStart });
      }
    } catch (err) {
      // Settling failed (broker gone): the source redelivers it after its own timeout.
      log.error({ event: ev.id, err: (err as Error).message, reason }, 'could not settle a failed event');
    }
  };

  const loop = (async () => {
    while (!abort.signal.aborted) {
      if (running >= pool.replicas || settling.size >= pool.replicas * (1 + writeAhead)) {
        await new Promise<void>((resolve) => (wakeUp = resolve));
        continue;
      }
      let d: Delivery | null;
      try {
        d = await source.next(abort.signal);
      } catch (err) {
        if (abort.signal.aborted) break;
        log.error({ err: (err as Error).message }, 'source failed to deliver; retrying in 1s');
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      if (!d) break;
      const p: Promise<void> = handle(d).finally(() => {
        settling.delete(p);
        wake();
      });
      settling.add(p);
    }
  })();

  return {
    wake,
    inFlight: () => settling.size,
    async stop() {
      abort.abort();
      wake();
      await loop;
      await Promise.allSettled([...settling]);
    },
  };
}
