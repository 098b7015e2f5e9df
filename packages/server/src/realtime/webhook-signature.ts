/**
 * Signatures of webhook deliveries (API.md): `allot-signature: t=<unix seconds>,v1=<hex HMAC-SHA256
 * of "t.body" with the endpoint's secret>`. Each attempt is signed at its own time, so a receiver
 * can refuse a request older than its tolerance (a replay) and still accept a late retry.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { WEBHOOK_SIGNATURE_TOLERANCE_SECONDS } from '../limits.js';

/** The header that carries the signature. */
export const SIGNATURE_HEADER = 'allot-signature';

/** The `allot-signature` value of `body` signed with `secret` at `unixSeconds`. */
export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/**
 * True when `header` is a valid signature of `body` with `secret`, made at most `toleranceSeconds`
 * before (or after) `nowSeconds`. Compared in constant time.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | undefined,
  body: string,
  nowSeconds: number,
  toleranceSeconds: number = WEBHOOK_SIGNATURE_TOLERANCE_SECONDS,
): boolean {
  const match = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (match === null) return false;
  const t = Number(match[1]);
  if (Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(match[2] as string, 'hex'));
}
