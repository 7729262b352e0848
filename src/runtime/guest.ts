// The wasm layer surface the runtime uses (one place to change if it moves).
export { callExport, defaultLimits, instanceLimits, moduleMeta, runWasiCommand, tableReserveBytes } from '../wasm/index.js';
export type { CommandInput, ExportCall, Grants, GuestRun, Limits } from '../wasm/index.js';
