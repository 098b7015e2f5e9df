// The one host global core uses: UTF-8 encoding (WHATWG Encoding, in every JS runtime). Core
// compiles without node or DOM types on purpose, so that timers, clocks and I/O do not type-check.
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
