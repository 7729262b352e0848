/** The http-wasm host lives in ./http-wasm/ (index.ts: the guest runtime; model.ts, node-io.ts). This keeps `./http-wasm.js` importers working. */
export * from './http-wasm/index.js';
