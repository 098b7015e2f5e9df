/**
 * Canonical encoding: the same value always gives the same bytes, whatever the order in which its
 * object keys were created. Used for event hashes (the log's hash chain) and for state snapshots
 * that every region must reproduce byte for byte. It is JSON with sorted keys, so an auditor can
 * recompute it with any JSON tool.
 */

/** A value that can be encoded canonically. */
export type Canonical =
  | null
  | boolean
  | number
  | string
  | readonly Canonical[]
  | { readonly [key: string]: Canonical | undefined };

/** The canonical JSON text of `value` (object keys sorted, undefined fields left out). */
export function canonicalJson(value: Canonical): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`cannot encode ${value} canonically`);
      return JSON.stringify(value);
    case 'string':
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        return `[${(value as readonly Canonical[]).map(canonicalJson).join(',')}]`;
      }
      const record = value as { readonly [key: string]: Canonical | undefined };
      const fields: string[] = [];
      for (const key of Object.keys(record).sort()) {
        const field = record[key];
        if (field !== undefined) fields.push(`${JSON.stringify(key)}:${canonicalJson(field)}`);
      }
      return `{${fields.join(',')}}`;
    }
    default:
      throw new TypeError(`cannot encode a ${typeof value} canonically`);
  }
}

const encoder = new TextEncoder();

/** The UTF-8 bytes of `text` (of canonical JSON written out by hand, e.g. a log head's). */
export function utf8Bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** The canonical bytes of `value` (UTF-8 of its canonical JSON). */
export function canonicalBytes(value: Canonical): Uint8Array {
  return encoder.encode(canonicalJson(value));
}

/** Nesting of `text` (JSON) past `max`, without parsing it: JSON.parse must not recurse unbounded. */
export function nestsDeeper(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 0x5c) i += 1;
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) inString = true;
    else if (code === 0x5b || code === 0x7b) {
      depth += 1;
      if (depth > max) return true;
    } else if (code === 0x5d || code === 0x7d) depth -= 1;
  }
  return false;
}
