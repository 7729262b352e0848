// Web APIs the ComponentizeJS engine (StarlingMonkey) provides to handlers, typed here so tsconfig can
// leave out the DOM library (a handler has no document, window or DOM).
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  decode(input?: Uint8Array, options?: { stream?: boolean }): string;
}
declare function atob(data: string): string;
declare function btoa(data: string): string;
declare const console: { log(...data: unknown[]): void; error(...data: unknown[]): void };
