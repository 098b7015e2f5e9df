/**
 * Times at the edge: the API speaks RFC 3339 strings, the replica integer milliseconds since the
 * Unix epoch. Conversion happens here and nowhere else.
 */
import { API_TIME_MS_MAX } from './limits.js';

/**
 * RFC 3339 `date-time` (section 5.6): full date, `T`, full time, optional fraction, `Z` or an offset.
 * The `T` and `Z` may be lowercase (the ABNF is case-insensitive); a space instead of `T` is not
 * accepted, nor a leap second.
 */
export const RFC3339_PATTERN =
  '^(\\d{4})-(\\d{2})-(\\d{2})[Tt](\\d{2}):(\\d{2}):(\\d{2})(\\.\\d{1,9})?([Zz]|[+-]\\d{2}:\\d{2})$';

const RFC3339 = new RegExp(RFC3339_PATTERN);

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Integer ms since the epoch of an RFC 3339 time, or null when `text` is not one or lies outside
 * 1970..9999 (what RFC 3339 can write back). A fraction finer than a millisecond is
 * truncated: the ledger keeps milliseconds.
 */
export function parseRfc3339(text: string): number | null {
  const match = RFC3339.exec(text);
  if (match === null) return null;
  const [, y, mo, d, h, mi, s, fraction, zone] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string | undefined,
    string,
  ];
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  let offsetMinutes = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const offsetHours = Number(zone.slice(1, 3));
    const offsetRest = Number(zone.slice(4, 6));
    if (offsetHours > 23 || offsetRest > 59) return null;
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (offsetHours * 60 + offsetRest);
  }
  const millis = fraction === undefined ? 0 : Number(fraction.slice(1, 4).padEnd(3, '0'));
  // Date.UTC maps years 0..99 to 1900..1999; setUTCFullYear does not.
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, millis));
  date.setUTCFullYear(year);
  const ms = date.getTime() - offsetMinutes * 60_000;
  return Number.isSafeInteger(ms) && ms >= 0 && ms <= API_TIME_MS_MAX ? ms : null;
}

/** The RFC 3339 text (UTC, milliseconds) of integer ms since the epoch. */
export function formatRfc3339(ms: number): string {
  // The events of one commit share their millisecond: a batch's answer formats it once, not 8,190 times.
  if (ms !== lastFormattedMs) {
    lastFormatted = new Date(ms).toISOString();
    lastFormattedMs = ms;
  }
  return lastFormatted;
}

let lastFormattedMs = Number.NaN;
let lastFormatted = '';

/** `formatRfc3339(ms)`, or null for null. */
export function formatOptionalRfc3339(ms: number | null): string | null {
  return ms === null ? null : formatRfc3339(ms);
}
