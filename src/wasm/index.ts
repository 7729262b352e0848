export * from './limits.js';
export { compileModule, instanceLimits, loadModule, moduleMeta, tableReserveBytes, type CompileOptions } from './compile.js';
export { createWasi, type Wasi, type WasiOptions } from './wasi/index.js';
export type { GuestRun } from './result.js';
export { runWasiCommand, prepareWasiCommand, eventEnv, type CommandInput, type PreparedCommand } from './wasi-command.js';
export { callExport, type ExportCall } from './exports-abi.js';
