// WASI 0.2 components: linking (link.ts), the Canonical ABI (canon.ts), the per-event runner (run.ts)
// and featherweight's WASI 0.2 host (wasi-p2/).
export { isComponent } from './link.js';
export { loadComponent, runComponentCommand, findExport, type ComponentImage } from './run.js';
