// The thread `featherweight run` runs its guest on, started as early as possible: main.ts starts it
// before it even loads commander when the command is `run`, so the thread's boot (a new isolate and
// the WASI modules) overlaps parsing the flags and compiling the module (decision 140).
import { Worker } from 'node:worker_threads';

// From source the thread must register tsx itself (as the pool's workers do); from dist it is plain JS.
const fromSource = import.meta.url.endsWith('.ts');
const workerUrl = new URL(`./run-worker${fromSource ? '.ts' : '.js'}`, import.meta.url);
const workerBoot = fromSource
  ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(workerUrl.href)}); });`
  : `import(${JSON.stringify(workerUrl.href)});`;

export interface RunThread {
  worker: Worker;
  /** Resolves when the thread has loaded the WASI host and waits for its job. */
  ready: Promise<void>;
}

let started: RunThread | undefined;

/** The run thread, started on the first call. Unreferenced until used, so an unused one never keeps the process alive. */
export function runThread(): RunThread {
  if (!started) {
    const worker = new Worker(workerBoot, { eval: true, stdin: false, stdout: false, stderr: false });
    worker.unref();
    // Listening from the start: the thread may be ready before anyone asks.
    const ready = new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the guest's thread stopped (exit code ${code}) while starting`)));
    });
    ready.catch(() => {}); // the run that uses the thread reports it
    started = { worker, ready };
  }
  return started;
}
