/** Frames on the simulated wire: their rough size, their deep copy, and drop reasons grouped by kind. */

/** Rough wire size of a frame: its JSON length, byte arrays counted by their length. */
export function frameBytes(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return value.length + 2;
    case 'number':
      return Number.isInteger(value) && value >= 0 && value < 10 ? 1 : String(value).length;
    case 'boolean':
      return value ? 4 : 5;
    case 'object': {
      if (value === null) return 4;
      if (value instanceof Uint8Array) return value.byteLength;
      if (Array.isArray(value)) {
        let total = 2 + Math.max(0, value.length - 1);
        for (const item of value) total += frameBytes(item);
        return total;
      }
      let total = 2;
      let fields = 0;
      for (const key in value) {
        const item = (value as Record<string, unknown>)[key];
        if (item === undefined) continue;
        total += key.length + 3 + frameBytes(item);
        fields += 1;
      }
      return total + Math.max(0, fields - 1);
    }
    default:
      return 0;
  }
}

/**
 * A deep copy of a frame, as a wire would deliver it: nothing shared with the sender. Frames are
 * plain data (objects, arrays, strings, numbers, booleans, null, Uint8Array), for which this equals
 * `structuredClone` (a test checks it) at a tenth of the cost, which matters: every frame is cloned.
 */
export function cloneFrame<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Uint8Array) return value.slice() as T;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = cloneFrame(value[i]);
    return out as T;
  }
  const out: Record<string, unknown> = {};
  for (const key in value) {
    const item = cloneFrame((value as Record<string, unknown>)[key]);
    // An own "__proto__" key would otherwise set the copy's prototype.
    if (key === '__proto__')
      Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
    else out[key] = item;
  }
  return out as T;
}

/** Drop reasons without the numbers in them, so that counts group by kind. */
export function reasonKind(reason: string): string {
  return reason.replace(/[a-z0-9-]+#[a-z2-7]+/g, '<origin>').replace(/[0-9]+/g, 'N');
}
