/**
 * CRC-32C (Castagnoli), the checksum LevelDB puts on every table block and log record, and the one
 * this store puts on every record it writes. Slicing-by-8 tables: a data directory is checked at
 * every start (leveldb-check.ts), so the check must run at disk speed, not byte by byte.
 */

/** The reflected Castagnoli polynomial. */
const POLYNOMIAL = 0x82f63b78;

/** Eight 256-entry tables: TABLES[k][b] is the CRC of byte b followed by k zero bytes. */
const TABLES: Uint32Array[] = (() => {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  const first = tables[0] as Uint32Array;
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ POLYNOMIAL : crc >>> 1;
    first[byte] = crc >>> 0;
  }
  for (let k = 1; k < 8; k++) {
    const previous = tables[k - 1] as Uint32Array;
    const table = tables[k] as Uint32Array;
    for (let byte = 0; byte < 256; byte++) {
      const crc = previous[byte] as number;
      table[byte] = ((crc >>> 8) ^ (first[crc & 0xff] as number)) >>> 0;
    }
  }
  return tables;
})();

/** CRC-32C of `bytes[start, end)`, continuing from `crc` (the CRC of what came before; 0 to begin). */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length, crc = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
  ];
  let c = ~crc >>> 0;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const lo =
      (c ^
        (bytes[i] as number) ^
        ((bytes[i + 1] as number) << 8) ^
        ((bytes[i + 2] as number) << 16) ^
        ((bytes[i + 3] as number) << 24)) >>>
      0;
    c =
      (t7[lo & 0xff] as number) ^
      (t6[(lo >>> 8) & 0xff] as number) ^
      (t5[(lo >>> 16) & 0xff] as number) ^
      (t4[lo >>> 24] as number) ^
      (t3[bytes[i + 4] as number] as number) ^
      (t2[bytes[i + 5] as number] as number) ^
      (t1[bytes[i + 6] as number] as number) ^
      (t0[bytes[i + 7] as number] as number);
  }
  for (; i < end; i++) c = (t0[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

/** LevelDB's masking constant (util/crc32c.h): a CRC stored next to data it covers is masked. */
const MASK_DELTA = 0xa282ead8;

/** The CRC as LevelDB stores it: rotated right by 15 bits plus a constant. */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}
