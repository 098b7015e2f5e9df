#!/usr/bin/env node
// npm run bench:recovery — a node with EVENTS events of history (default 1,000,000; issue 10's goal
// is about 10M: EVENTS=10000000) in a LevelDB data directory: time until its replica is ready
// (LevelStore.open, which checks every table file and every head, then Replica.open, which reads
// every segment back, checks its hash chain and its head signature, decodes and folds every event).
// The history is written as a node writes it — 1,000 tenants granted once, then debits in commits
// of 8,190 (one segment each), chained and signed with the node's key — directly through the store,
// so that building it does not dominate the run. In the same run, the cost of writing it and the
// raw decode + fold of its events, per event. Checkpoints (issue 11) are not used. Prints; never asserts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSegment, makeEvent, originId } from '@allot/core';
import {
  BATCH_EVENTS_MAX,
  headSigningBytes,
  Replica,
  SeededRng,
  segmentHash,
  ZERO_HASH,
} from '@allot/replica';
import { generateRegionKey, LevelStore, nodeCrypto, systemClock } from '@allot/store';
import { machine } from './support.mjs';

const EVENTS = Number(process.env.EVENTS ?? 1_000_000);
const TENANTS = 1_000;
/** Segments per store commit while building: within the store's COMMIT_EVENTS_MAX. */
const SEGMENTS_PER_WRITE = 4;
const logger = { debug() {}, info() {}, warn() {}, error() {} };
const options = { cluster: 'bench', region: 'eu', allowLoneStart: true };

const dir = mkdtempSync(join(tmpdir(), 'allot-bench-recovery-'));
const crypto = nodeCrypto(generateRegionKey());
try {
  console.log(`bench:recovery — ${machine()}`);
  // A new data directory: its meta and incarnation, as a node's first start writes them.
  const fresh = await LevelStore.open(dir, { crypto });
  const first = await Replica.open(options, {
    store: fresh,
    clock: systemClock,
    rng: new SeededRng(1),
    crypto,
    logger,
  });
  const origin = first.origin;
  await first.close();
  if (origin !== originId('eu', origin.slice(3))) throw new Error(`unexpected origin ${origin}`);

  // The history: grants, then debits, in segments of BATCH_EVENTS_MAX events, written as commits.
  const store = await LevelStore.open(dir, { crypto });
  const at = Date.now();
  let seq = 0;
  let hash = ZERO_HASH;
  let pending = [];
  let head = null;
  const bodyOf = (n) =>
    n < TENANTS
      ? { kind: 'grant', tenant: `tenant-${n}`, grantId: 'g1', amount: 1e12, priority: 100, expiresAt: null }
      : {
          kind: 'debit',
          tenant: `tenant-${n % TENANTS}`,
          amount: 1,
          overdraft: 0,
          idempotencyKey: `k${n}`,
          parts: [{ grantId: 'g1', amount: 1 }],
          metadata: null,
        };
  const built = process.hrtime.bigint();
  while (seq < EVENTS) {
    const count = Math.min(
      BATCH_EVENTS_MAX,
      EVENTS - seq,
      seq < TENANTS ? TENANTS - seq : Number.MAX_SAFE_INTEGER,
    );
    const events = Array.from({ length: count }, (_, i) =>
      makeEvent({ origin, seq: seq + i + 1, at: at + seq + i }, bodyOf(seq + i)),
    );
    const bytes = encodeSegment(events);
    hash = segmentHash(crypto, hash, bytes);
    const lastSeq = seq + count;
    const signature = crypto.sign(headSigningBytes('bench', origin, lastSeq, hash));
    pending.push({
      origin,
      firstSeq: seq + 1,
      lastSeq,
      bytes,
      hash,
      signature,
      tenants: events.map((e) => e.tenant),
    });
    head = { origin, seq: lastSeq, hash, signature };
    seq = lastSeq;
    if (pending.length === SEGMENTS_PER_WRITE || seq === EVENTS) {
      await store.commit({ segments: pending, heads: [head] }, { sync: false });
      pending = [];
    }
  }
  await store.commit({ segments: [], heads: [] }, { sync: true });
  await store.close();
  const buildSeconds = Number(process.hrtime.bigint() - built) / 1e9;
  console.log(
    `history: ${EVENTS.toLocaleString('en-US')} events in ${Math.ceil(EVENTS / BATCH_EVENTS_MAX).toLocaleString('en-US')} segments, written in ${buildSeconds.toFixed(1)} s (${Math.round(EVENTS / buildSeconds).toLocaleString('en-US')} events/s encoded, chained, signed, stored)`,
  );

  // Time until ready: the store opened and checked, every log read back, verified and folded.
  const started = process.hrtime.bigint();
  const reopened = await LevelStore.open(dir, { crypto });
  const opened = process.hrtime.bigint();
  const replica = await Replica.open(options, {
    store: reopened,
    clock: systemClock,
    rng: new SeededRng(2),
    crypto,
    logger,
  });
  const ready = process.hrtime.bigint();
  const seconds = Number(ready - started) / 1e9;
  const balance = replica.balance('tenant-0');
  await replica.close();
  console.log(
    `time until ready: ${seconds.toFixed(2)} s (store open and checks ${(Number(opened - started) / 1e9).toFixed(2)} s, replica recovery ${(Number(ready - opened) / 1e9).toFixed(2)} s): ${Math.round(EVENTS / seconds).toLocaleString('en-US')} events/s verified and folded`,
  );
  if (balance === undefined) throw new Error('tenant-0 has no balance after recovery');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
