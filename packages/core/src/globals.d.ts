// The host globals core uses: UTF-8 encoding and decoding (WHATWG Encoding, in every JS runtime).
// Core compiles without node or DOM types on purpose, so that timers, clocks and I/O do not type-check.
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  decode(input?: Uint8Array, options?: { stream?: boolean }): string;
}
