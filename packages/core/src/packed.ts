/**
 * Packed cells (DESIGN.md §2 "State, packed"): a tenant's non-zero numbers (its cells, its grants'
 * cells and moved cells, its grants' terms) are one exact-size array of unboxed doubles. Which
 * number is which is said by a Shape: the sorted list of their codes, interned and shared by every
 * tenant whose numbers have the same codes (most tenants of a ledger share a few shapes), as a
 * JavaScript engine shares hidden classes. A tenant then costs its values, not their keys.
 */
import { ORIGINS_MAX, SHAPE_SHARED_MAX } from './limits.js';

/** Kinds per code (3 bits): tenant cells 0–7 (slot 0), grant cells 0–3, moved 6, a grant's terms 7. */
const CODE_KINDS = 8;
/** Above this many values a new value grows the array in place (amortized) instead of copying. */
const EXACT_COPY_MAX = 1_024;

/**
 * The key of one number: slot 0 is the tenant's own cells, slot s + 1 the grant in slot s; `a` is
 * the writing origin's local index (the `from` of a move, the field of a grant's terms) and `b` the
 * `to` of a move (0 otherwise). Sorted by code, one grant's numbers are contiguous. The largest code,
 * (GRANT_SLOTS_MAX + 1) · ORIGINS_MAX² · CODE_KINDS < 2^53, is an exact integer.
 */
export function cellCode(slot: number, a: number, b: number, kind: number): number {
  return ((slot * ORIGINS_MAX + a) * ORIGINS_MAX + b) * CODE_KINDS + kind;
}

/**
 * The sorted codes of a tenant's values. A shared shape (fewer than SHAPE_SHARED_MAX codes) is
 * immutable and interned through its transitions; a larger one belongs to one tenant and grows in
 * place (a tenant with many grants would otherwise leave a trail of large shapes behind).
 */
export class Shape {
  private transitions: Map<number, Shape> | null = null;

  constructor(
    /** The codes, ascending. */
    readonly codes: number[],
    private readonly shared: boolean,
  ) {}

  /** Position of `code`, or −(insertion position) − 1. */
  find(code: number): number {
    const codes = this.codes;
    let low = 0;
    let high = codes.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((codes[middle] as number) < code) low = middle + 1;
      else high = middle;
    }
    return codes[low] === code ? low : -low - 1;
  }

  /** The shape with `code` added at position `at` (from find). */
  with(code: number, at: number): Shape {
    if (!this.shared) {
      this.codes.splice(at, 0, code);
      return this;
    }
    const known = this.transitions?.get(code);
    if (known !== undefined) return known;
    const codes = [...this.codes.slice(0, at), code, ...this.codes.slice(at)];
    const next = new Shape(codes, codes.length < SHAPE_SHARED_MAX);
    if (!next.shared) return next;
    this.transitions ??= new Map();
    this.transitions.set(code, next);
    return next;
  }
}

/** The shape of a tenant with no values; every tenant starts here. */
export const EMPTY_SHAPE = new Shape([], true);

/** What holds packed values: a shape and its values, position for position. */
export interface Packed {
  shape: Shape;
  values: number[];
}

/** The value of `code` (0 when not stored). */
export function readPacked(packed: Packed, code: number): number {
  const at = packed.shape.find(code);
  return at < 0 ? 0 : (packed.values[at] as number);
}

/** Sets the value of `code`; a new code changes the shape (0 for a code not stored stores nothing). */
export function writePacked(packed: Packed, code: number, value: number): void {
  const found = packed.shape.find(code);
  if (found >= 0) {
    packed.values[found] = value;
    return;
  }
  if (value === 0) return;
  const at = -found - 1;
  packed.shape = packed.shape.with(code, at);
  const values = packed.values;
  if (values.length >= EXACT_COPY_MAX) {
    values.splice(at, 0, value);
    return;
  }
  // A new code is rare (once per origin, kind and grant): copy into an exact-size array so the
  // values carry no growth slack.
  const next: number[] = new Array(values.length + 1);
  for (let i = 0; i < at; i++) next[i] = values[i] as number;
  next[at] = value;
  for (let i = at; i < values.length; i++) next[i + 1] = values[i] as number;
  packed.values = next;
}

/** Position in `packed.shape.codes` of the first number of `slot` (its end is codeOfSlot(slot + 1)). */
export function slotStart(packed: Packed, slot: number): number {
  const start = packed.shape.find(cellCode(slot, 0, 0, 0));
  return start < 0 ? -start - 1 : start;
}

/** The smallest code of `slot`: the codes of slot s are in [codeOfSlot(s), codeOfSlot(s + 1)). */
export function codeOfSlot(slot: number): number {
  return cellCode(slot, 0, 0, 0);
}

/** The kind of `code` (see cellCode). */
export function codeKind(code: number): number {
  return code % CODE_KINDS;
}

/** The `a` of `code` (see cellCode). */
export function codeA(code: number): number {
  const rest = (code - (code % CODE_KINDS)) / CODE_KINDS;
  return ((rest - (rest % ORIGINS_MAX)) / ORIGINS_MAX) % ORIGINS_MAX;
}

/** The `b` of `code` (see cellCode). */
export function codeB(code: number): number {
  return ((code - (code % CODE_KINDS)) / CODE_KINDS) % ORIGINS_MAX;
}

/** The slot of `code` (see cellCode). */
export function codeSlot(code: number): number {
  const rest = (code - (code % CODE_KINDS)) / CODE_KINDS;
  return Math.floor(rest / (ORIGINS_MAX * ORIGINS_MAX));
}

/** Calls `visit(kind, a, b, value)` for every stored number of `slot`, in code order. */
export function forEachInSlot(
  packed: Packed,
  slot: number,
  visit: (kind: number, a: number, b: number, value: number) => void,
): void {
  const codes = packed.shape.codes;
  const end = cellCode(slot + 1, 0, 0, 0);
  const start = packed.shape.find(cellCode(slot, 0, 0, 0));
  for (let at = start < 0 ? -start - 1 : start; at < codes.length; at++) {
    const code = codes[at] as number;
    if (code >= end) break;
    const kind = code % CODE_KINDS;
    const rest = (code - kind) / CODE_KINDS;
    const b = rest % ORIGINS_MAX;
    const a = ((rest - b) / ORIGINS_MAX) % ORIGINS_MAX;
    visit(kind, a, b, packed.values[at] as number);
  }
}
