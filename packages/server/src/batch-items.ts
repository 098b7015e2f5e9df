/**
 * The items of POST /v1/debits/batch: a fast check for the common item (tenant, amount, key and
 * nothing else, all well formed) that answers exactly as the item's schema would, so that a batch of
 * 8,190 plain items never enters the schema validator; any other item goes through the schema.
 */
import { AMOUNT_MAX, AMOUNT_MIN, KEY_PATTERN, TENANT_ID_PATTERN } from '@allot/core';

/**
 * True when `item` is an object with exactly the own fields `tenant`, `amount` and `idempotencyKey`
 * (in any order), each valid under schema BatchDebit. False says nothing: such an item may still be
 * valid (it has metadata, or an odd shape) and goes through the schema validator.
 */
export function isPlainBatchItem(item: unknown): boolean {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return false;
  const fields = item as { tenant?: unknown; amount?: unknown; idempotencyKey?: unknown };
  const { tenant, amount, idempotencyKey } = fields;
  if (typeof tenant !== 'string' || typeof idempotencyKey !== 'string' || typeof amount !== 'number')
    return false;
  if (!Number.isInteger(amount) || amount < AMOUNT_MIN || amount > AMOUNT_MAX) return false;
  // Exactly the three fields, all own: anything else (metadata, an unknown field) goes the long way.
  let count = 0;
  for (const name in item) {
    if (!Object.hasOwn(item, name)) return false;
    count++;
  }
  if (count !== 3 || !Object.hasOwn(item, 'tenant') || !Object.hasOwn(item, 'amount')) return false;
  if (!Object.hasOwn(item, 'idempotencyKey')) return false;
  return TENANT_ID_PATTERN.test(tenant) && KEY_PATTERN.test(idempotencyKey);
}
