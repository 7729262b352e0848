export * from './event.js';
export * from './errors.js';
export * from './source.js';
export * from './sink.js';
export * from './units.js';
export * from './validation.js';
