/**
 * The one set of msgpackr options of every MessagePack the project writes: the store's records and
 * the transport's wire messages (both import it from here, the lowest package they share; replica
 * itself packs nothing and so does not depend on msgpackr). What each option avoids:
 * - `useRecords`, `structuredClone`, `moreTypes` off: every map carries its keys and only plain
 *   MessagePack types, so each record decodes alone and nothing but plain data comes back.
 * - `mapsAsObjects`: maps decode to plain objects, which the shape checks expect.
 * - `useFloat32` NEVER (0 in msgpackr's FLOAT32_OPTIONS): a number is never narrowed to float32.
 * - `int64AsType: 'bigint'`: a uint64 from elsewhere decodes as a bigint and fails the shape check
 *   instead of silently losing precision.
 * - `bundleStrings` off, `encodeUndefinedAsNil` off: the plain MessagePack format, nothing bundled.
 */
export const MSGPACKR_OPTIONS = Object.freeze({
  useRecords: false,
  structuredClone: false,
  moreTypes: false,
  mapsAsObjects: true,
  useFloat32: 0,
  int64AsType: 'bigint',
  bundleStrings: false,
  encodeUndefinedAsNil: false,
} as const);
