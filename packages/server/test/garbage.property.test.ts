/**
 * Property: whatever a client throws at the grant and debit routes — any JSON value, random text,
 * objects of the right fields with wrong types — the answer is a 4xx with a code from the
 * catalogue, never a 5xx, and the ledger is exactly as it was. Valid bodies are filtered out (they
 * would rightly change the ledger), by an oracle written apart from the schemas.
 */
import { isAmount, isKey, PRIORITY_MAX } from '@allot/core';
import { isPlainRecord } from '@allot/replica';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE } from '../src/errors.js';
import { bearer, fingerprint, grant, type TestNode, testNode } from './support.js';

const RUNS = 300;

/** True for a debit body the API would take. */
function validDebit(value: unknown): boolean {
  if (!isPlainRecord(value)) return false;
  if (Object.keys(value).some((key) => !['amount', 'idempotencyKey', 'metadata'].includes(key))) return false;
  return (
    isAmount(value.amount) &&
    isKey(value.idempotencyKey) &&
    (value.metadata === undefined || isPlainRecord(value.metadata))
  );
}

/** True for a grant body the API would take. */
function validGrant(value: unknown): boolean {
  if (!isPlainRecord(value)) return false;
  if (Object.keys(value).some((key) => !['grantId', 'amount', 'priority', 'expiresAt'].includes(key)))
    return false;
  const priority = value.priority;
  return (
    isKey(value.grantId) &&
    isAmount(value.amount) &&
    (priority === undefined ||
      (Number.isSafeInteger(priority) &&
        (priority as number) >= 0 &&
        (priority as number) <= PRIORITY_MAX)) &&
    (value.expiresAt === undefined || value.expiresAt === null || typeof value.expiresAt === 'string')
  );
}

/** A value of any JSON type but `keep`'s. */
const wrongType = (...keep: string[]) =>
  fc
    .oneof(
      fc.integer(),
      fc.double(),
      fc.string(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.integer(), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
    )
    .filter((value) => {
      const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
      return !keep.includes(type) || (type === 'number' && !Number.isSafeInteger(value));
    });

/** Bodies of every shape: the value itself is sent as JSON text (or raw text). */
const garbage = (fields: Record<string, fc.Arbitrary<unknown>>) =>
  fc.oneof(
    fc.anything({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? 'null'),
    fc.json({ maxDepth: 3 }),
    fc.string({ maxLength: 80 }),
    fc.record(fields, { requiredKeys: [] }).map((value) => JSON.stringify(value)),
    fc
      .record(fields, { requiredKeys: [] })
      .chain((value) =>
        fc.string({ minLength: 1, maxLength: 10 }).map((extra) => JSON.stringify({ ...value, [extra]: 1 })),
      ),
  );

const debitFields = {
  amount: fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double(), fc.constant(2 ** 53), wrongType('number')),
  idempotencyKey: fc.oneof(fc.string({ maxLength: 300 }), wrongType('string')),
  metadata: fc.oneof(fc.object({ maxDepth: 2 }), wrongType('object')),
};

const grantFields = {
  grantId: fc.oneof(fc.string({ maxLength: 300 }), wrongType('string')),
  amount: debitFields.amount,
  priority: fc.oneof(fc.integer({ min: -10, max: PRIORITY_MAX + 10 }), wrongType('number')),
  expiresAt: fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
    wrongType('string', 'null'),
  ),
};

const codes = new Set(Object.keys(ERROR_CATALOGUE));

describe('garbage at the write routes', () => {
  let node: TestNode;
  let before: string;

  beforeAll(async () => {
    node = await testNode();
    await grant(node.app, 'acme', 'g1', 1_000);
    before = await fingerprint(node.replica);
  });
  afterAll(async () => node.close());

  async function throwAt(url: string, who: 'service' | 'admin', text: string): Promise<void> {
    const response = await node.app.inject({
      method: 'POST',
      url,
      headers: { ...bearer(who), 'content-type': 'application/json' },
      payload: text,
    });
    expect(response.statusCode, text).toBeGreaterThanOrEqual(400);
    expect(response.statusCode, text).toBeLessThan(500);
    const body = response.json();
    expect(codes.has(body.error?.code), text).toBe(true);
    expect(await fingerprint(node.replica)).toBe(before);
  }

  /** Parses `text` the way the server would, or undefined when it is not JSON. */
  function parsed(text: string): unknown {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  }

  it('debits: never a 5xx, never a change', async () => {
    await fc.assert(
      fc.asyncProperty(
        garbage(debitFields).filter((text) => !validDebit(parsed(text))),
        async (text) => throwAt('/v1/tenants/acme/debits', 'service', text),
      ),
      { numRuns: RUNS },
    );
  });

  it('grants: never a 5xx, never a change', async () => {
    await fc.assert(
      fc.asyncProperty(
        garbage(grantFields).filter((text) => !validGrant(parsed(text))),
        async (text) => throwAt('/v1/tenants/acme/grants', 'admin', text),
      ),
      { numRuns: RUNS },
    );
  });
});
