import { newEventId } from './options.js';
import { openStore, releaseStore, type QueueStats } from './store.js';

/** What `featherweight queue send` and the API need without a running source. */
export interface QueueHandle {
  send(queue: string, e: { body: Uint8Array; headers?: Record<string, string>; id?: string; source?: string; subject?: string; attempt?: number; enqueuedAt?: number }): string;
  queues(): string[];
  stats(queue?: string): QueueStats[];
  close(): void;
}

export function openQueue(dataDir: string): QueueHandle {
  const s = openStore(dataDir);
  let open = true;
  return {
    send(queue, e) {
      const id = e.id ?? newEventId();
      s.insert(queue, { id, source: e.source ?? 'embedded', subject: e.subject ?? queue, headers: e.headers ?? {}, body: e.body, attempt: e.attempt, enqueuedAt: e.enqueuedAt }, Date.now());
      s.registerQueue(queue);
      s.wake(queue);
      return id;
    },
    queues: () => s.queues(),
    stats(queue) {
      const now = Date.now();
      return (queue === undefined ? s.queues() : [queue]).map((q) => s.stats(q, now));
    },
    close() {
      if (!open) return;
      open = false;
      releaseStore(s);
    },
  };
}
