// WASI 0.2 components: linking (link.ts), the Canonical ABI (canon.ts), the per-event runner (run.ts)
// and featherweight's WASI 0.2 host (wasi-p2/).
export { isComponent } from './link.js';
export { loadComponent, runComponentCommand, runComponentHttp, findExport, componentWorld, type ComponentImage, type HttpRun } from './run.js';
export type { HttpRequestIn, HttpResponseOut } from './wasi-p2/http.js';
