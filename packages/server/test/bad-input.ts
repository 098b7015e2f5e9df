/**
 * Bad input shared by the route tests, as raw JSON text (so that 9007199254740993 reaches the
 * parser as written, not as the double it rounds to).
 */

/** Amounts that are not integers in 1..2^53 − 1, as JSON text. */
export const BAD_AMOUNTS: readonly (readonly [label: string, json: string])[] = [
  ['zero', '0'],
  ['negative', '-1'],
  ['negative zero', '-0'],
  ['a float', '1.5'],
  ['a tiny float', '1e-7'],
  ['a numeric string', '"3"'],
  ['2^53', '9007199254740992'],
  ['2^53 + 1 (parses as 2^53)', '9007199254740993'],
  ['1e300', '1e300'],
  ['1e400 (parses as Infinity)', '1e400'],
  ['-1e400', '-1e400'],
  ['null', 'null'],
  ['true', 'true'],
  ['an object', '{"value":3}'],
  ['an array', '[3]'],
];

/** Idempotency keys and grant ids that are not 1–255 printable ASCII characters, as JSON text. */
export const BAD_KEYS: readonly (readonly [label: string, json: string])[] = [
  ['empty', '""'],
  ['256 characters', JSON.stringify('k'.repeat(256))],
  ['a space', '"a b"'],
  ['a tab', '"a\\tb"'],
  ['a NUL', '"a\\u0000"'],
  ['DEL', '"a\\u007f"'],
  ['non-ASCII', '"clé"'],
  ['an emoji', '"\\ud83d\\ude00"'],
  ['a number', '5'],
  ['null', 'null'],
  ['an array', '["k"]'],
];

/** Tenant path segments that are no tenant id (URL-encoded as a client would send them). */
export const BAD_TENANTS: readonly (readonly [label: string, segment: string])[] = [
  ['129 characters', 'a'.repeat(129)],
  ['2,000 characters', 'a'.repeat(2_000)],
  ['a space', 'a%20b'],
  ['an encoded slash', 'a%2Fb'],
  ['non-ASCII', 'cl%C3%A9'],
  ['a star', 'a*b'],
  ['a plus', 'a+b'],
  ['an encoded NUL', 'a%00b'],
  ['bad percent-encoding', 'a%zzb'],
];

/** Bodies that are not JSON objects, or not JSON, as sent with `content-type: application/json`. */
export const BAD_JSON_BODIES: readonly (readonly [label: string, text: string])[] = [
  ['broken JSON', '{"amount": 1,'],
  ['a trailing comma', '{"amount": 1,}'],
  ['single quotes', "{'amount': 1}"],
  ['empty', ''],
  ['whitespace', '   '],
  ['null', 'null'],
  ['an array', '[]'],
  ['an array of an object', '[{"amount":1}]'],
  ['a string', '"debit"'],
  ['a number', '5'],
  ['true', 'true'],
  ['a __proto__ key', '{"__proto__": {"amount": 1}}'],
  ['a constructor.prototype key', '{"constructor": {"prototype": {"amount": 1}}}'],
];

/** Content types that are not JSON (with a body that would otherwise be fine). */
export const BAD_CONTENT_TYPES: readonly (string | null)[] = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/jsonx',
  null,
];
