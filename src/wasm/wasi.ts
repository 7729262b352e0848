/** The WASI preview1 shim; it lives in ./wasi/ by the spec's seams. This keeps `./wasi.js` importers working. */
export { createWasi, DEFAULT_MAX_OPEN_FILES, E, OutputLimitExceeded, ProcExit, type Wasi, type WasiOptions } from './wasi/index.js';
