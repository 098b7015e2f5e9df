#!/usr/bin/env node
// npm run bench:memory — bytes of heap per tenant held by a replica's ledger state with N tenants
// (default 1,000,000), each with one grant and cells at three regions (granted at eu, rights moved
// to us and ap, a debit at each region). Baseline, measured in the same run: the same cells packed
// by hand into one Float64Array per tenant plus its id string — what the data weighs without any
// structure. Goal (issue 4): ≤ 300 B per tenant.
import { applyEvent, createLedgerState, forgetRecordsBefore, makeEvent, originId } from '@allot/core';

const tenants = Number(process.env.TENANTS ?? 1_000_000);
if (typeof global.gc !== 'function') {
  console.error('run with node --expose-gc (npm run bench:memory does)');
  process.exit(2);
}

function heapUsed() {
  global.gc();
  global.gc();
  return process.memoryUsage().heapUsed;
}

const eu = originId('eu', 'aaaaaaaaaaaaaaaa');
const us = originId('us', 'bbbbbbbbbbbbbbbb');
const ap = originId('ap', 'cccccccccccccccc');
const seq = { [eu]: 0, [us]: 0, [ap]: 0 };
const at = 1_800_000_000_000;

function append(state, origin, body) {
  seq[origin] += 1;
  const result = applyEvent(state, makeEvent({ origin, seq: seq[origin], at }, body));
  if (result !== 'applied') throw new Error(`event not applied: ${result}`);
}

// Baseline: ids plus 18 cells (3 origins × 4 grant cells + 3 moved + 3 tenant debit totals) packed.
const before = heapUsed();
const packed = new Array(tenants);
for (let i = 0; i < tenants; i++) {
  const cells = new Float64Array(18);
  cells.fill(i % 7);
  packed[i] = [`tenant-${i}`, cells];
}
const baselineBytes = (heapUsed() - before) / tenants;
packed.length = 0;

const start = heapUsed();
const state = createLedgerState();
const t0 = process.hrtime.bigint();
for (let i = 0; i < tenants; i++) {
  const tenant = `tenant-${i}`;
  append(state, eu, { kind: 'grant', tenant, grantId: 'g1', amount: 3000, priority: 100, expiresAt: null });
  append(state, eu, { kind: 'move', tenant, to: us, parts: [{ grantId: 'g1', amount: 1000 }] });
  append(state, eu, { kind: 'move', tenant, to: ap, parts: [{ grantId: 'g1', amount: 1000 }] });
}
// One debit at each region: cells for all three origins. Debit records (kept for the idempotency
// retention) would add their own weight per debit; they are forgotten after the retention, so the
// steady state per tenant is the cells, measured here after forgetting them.
for (let i = 0; i < tenants; i++) {
  const tenant = `tenant-${i}`;
  for (const origin of [eu, us, ap]) {
    append(state, origin, {
      kind: 'debit',
      tenant,
      amount: 1,
      idempotencyKey: `k-${i}`,
      parts: [{ grantId: 'g1', amount: 1 }],
      overdraft: 0,
      metadata: null,
    });
  }
}
for (const ledger of state.tenants.values()) forgetRecordsBefore(ledger, at + 1);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const ledgerBytes = (heapUsed() - start) / tenants;

console.log(
  `tenants: ${tenants.toLocaleString('en')}  (fold: ${Math.round((6 * tenants) / seconds).toLocaleString('en')} events/s)`,
);
console.log(`baseline (ids + packed Float64Array cells): ${baselineBytes.toFixed(0)} B/tenant`);
console.log(`ledger state:                              ${ledgerBytes.toFixed(0)} B/tenant`);
console.log(
  `ratio ledger / baseline: ${(ledgerBytes / baselineBytes).toFixed(2)}x   goal: ≤ 300 B/tenant → ${ledgerBytes <= 300 ? 'met' : 'not met'}`,
);
if (state.tenants.size !== tenants) throw new Error('tenant count mismatch');
