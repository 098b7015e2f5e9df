#!/usr/bin/env node
// npm run bench:recovery — a node with EVENTS events of history (default 1,000,000; issue 10's goal
// is about 10M: EVENTS=10000000) in a LevelDB data directory: time until its replica is ready
// (LevelStore.open, which checks every table file and every head, then Replica.open, which reads
// every segment back, checks its hash chain and its head signature, decodes and folds every event).
// The history is written as a node writes it — 1,000 tenants granted once, then debits in commits
// of 8,190 (one segment each), chained and signed with the node's key — directly through the store,
// so that building it does not dominate the run. In the same run, the cost of writing it and the
// raw decode + fold of its events, per event.
//
// Checkpoints (issue 11): while the history is built, its events are also folded in memory, as the
// replica folds them; TAIL events before the end (default 100,000; the default checkpoint.everyEvents
// is 250,000) a checkpoint of that fold is encoded, sealed and stored as the replica
// writes one. The node is then started twice: with the checkpoint (it loads it and folds only the
// tail) and, unless FULL=0, without it (the whole log). PROFILE=1 prints where each start spends
// its time. Prints; never asserts.
//
// Closed key-index buckets (issue 18): as a node does, each time bucket of the key index is written to
// the store's keys area as a part once a newer one began (PARTS=0: never, every key stays in the
// checkpoint, as before format 3), and the checkpoint refers to those parts instead of embedding
// their keys (format 3). Events are STEP_MS apart (default 1 ms) and a bucket is an hour (retention
// / 24), so a history of 10M events closes two buckets and 1M none; STEP_MS=20 closes five of 1M.
//
// DIR=path keeps the data directory (and the node's key, as DIR/bench-region.key) after the run,
// and a later run with the same DIR skips building and only starts the node from what is there
// (EVENTS is then what the directory holds): a 10M history takes long to build on a busy machine.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyEvent,
  createLedgerState,
  encodePart,
  encodeSegment,
  makeEvent,
  originId,
  prepareCheckpoint,
} from '@allot/core';
import {
  BATCH_EVENTS_MAX,
  headSigningBytes,
  IDEMPOTENCY_RETENTION_MS_DEFAULT,
  KEY_INDEX_BUCKET_MS_MIN,
  KEY_INDEX_BUCKETS_PER_RETENTION,
  RECORD_WINDOW_RECORDS_DEFAULT,
  Replica,
  SeededRng,
  sealCheckpoint,
  segmentHash,
  ZERO_HASH,
} from '@allot/replica';
import {
  generateRegionKey,
  LevelStore,
  nodeCrypto,
  readRegionKey,
  systemClock,
  writeRegionKey,
} from '@allot/store';
import { machine } from './support.mjs';

const EVENTS = Number(process.env.EVENTS ?? 1_000_000);
const TAIL = Math.min(EVENTS, Number(process.env.TAIL ?? 100_000));
const FULL = process.env.FULL !== '0';
const PARTS = process.env.PARTS !== '0';
const STEP_MS = Number(process.env.STEP_MS ?? 1);
/** The replica's record window with the default retention (Replica.recover). */
const RECORD_WINDOW = {
  records: RECORD_WINDOW_RECORDS_DEFAULT,
  bucketMs: Math.max(
    KEY_INDEX_BUCKET_MS_MIN,
    Math.ceil(IDEMPOTENCY_RETENTION_MS_DEFAULT / KEY_INDEX_BUCKETS_PER_RETENTION),
  ),
};
const seconds = (from, to = process.hrtime.bigint()) => Number(to - from) / 1e9;
const post = (session, method) =>
  new Promise((resolve, reject) =>
    session.post(method, (error, result) => (error ? reject(error) : resolve(result))),
  );

/** PROFILE=1: where a start spends its time, by function (self time), the top 12. */
function printProfile(profile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const key = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  for (const [key, dt] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 12))
    console.log(`  ${((dt / total) * 100).toFixed(1).padStart(5)}%  ${(dt / 1e6).toFixed(2)} s  ${key}`);
}
const TENANTS = 1_000;
/** Segments per store commit while building: within the store's COMMIT_EVENTS_MAX. */
const SEGMENTS_PER_WRITE = 4;
const logger = { debug() {}, info() {}, warn() {}, error() {} };
const options = { cluster: 'bench', region: 'eu', allowLoneStart: true };

const KEPT = process.env.DIR;
const dir = KEPT ?? mkdtempSync(join(tmpdir(), 'allot-bench-recovery-'));
const keyFile = join(dir, 'bench-region.key');
const reuse = KEPT !== undefined && existsSync(keyFile);
if (KEPT !== undefined && !reuse) mkdirSync(dir, { recursive: true });
const regionKey = reuse ? readRegionKey(keyFile) : generateRegionKey();
if (KEPT !== undefined && !reuse) writeRegionKey(keyFile, regionKey);
const crypto = nodeCrypto(regionKey);
try {
  console.log(`bench:recovery — ${machine()}`);
  if (!reuse) await build();
  await starts();
} finally {
  if (KEPT === undefined) rmSync(dir, { recursive: true, force: true });
}

/** Writes the history (and its checkpoints) into `dir`. */
async function build() {
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
  const at = Date.now() - EVENTS * STEP_MS; // the history ends now
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
  const fold = createLedgerState({ recordWindow: RECORD_WINDOW });
  let foldSeconds = 0;
  let checkpoint = null;
  let atEnd = null;
  let spilledParts = 0;
  /** As the replica's KeySpill: each closed bucket's tables to disk as a part (chunks, filter, header last). */
  const spillClosed = async (covered) => {
    if (!PARTS) return;
    for (const index of [fold.recordWindow.debitKeys, fold.recordWindow.refundKeys])
      for (const bucket of index.closedInMemory()) {
        const { part, tables } = index.takeForWriting(bucket);
        const encoded = encodePart(index.kind, bucket, part, RECORD_WINDOW.bucketMs, tables, () => covered);
        let batch = [];
        for (const [key, value] of encoded.chunks) {
          batch.push({ key, value });
          if (batch.length === 128) {
            await store.writeKeyArea(batch, []);
            batch = [];
          }
        }
        batch.push({ key: encoded.filter[0], value: encoded.filter[1] });
        batch.push({ key: encoded.header[0], value: encoded.header[1] });
        await store.writeKeyArea(batch, []);
        encoded.part.digest = crypto.hash(encoded.header[1]);
        index.written(encoded.part);
        spilledParts += 1;
      }
  };
  while (seq < EVENTS) {
    const count = Math.min(
      BATCH_EVENTS_MAX,
      EVENTS - seq,
      seq < TENANTS ? TENANTS - seq : Number.MAX_SAFE_INTEGER,
    );
    const events = Array.from({ length: count }, (_, i) =>
      makeEvent({ origin, seq: seq + i + 1, at: at + (seq + i) * STEP_MS }, bodyOf(seq + i)),
    );
    const bytes = encodeSegment(events);
    hash = segmentHash(crypto, hash, bytes);
    const lastSeq = seq + count;
    const folding = process.hrtime.bigint();
    for (const event of events) applyEvent(fold, event);
    foldSeconds += seconds(folding);
    // As Replica.takeCheckpoint: encode the fold at this vector, then hash, sign and store it.
    const take = async () => {
      await store.commit({ segments: pending, heads: head === null ? [] : [head] }, { sync: false });
      pending = [];
      await spillClosed(lastSeq);
      const encoding = process.hrtime.bigint();
      // What commands wait for (prepareCheckpoint: tenants and key indexes copied), then the steps.
      const writer = prepareCheckpoint(fold, new Map([[origin, hash]]), {
        retentionMs: IDEMPOTENCY_RETENTION_MS_DEFAULT,
        referParts: PARTS,
      });
      const stallSeconds = seconds(encoding);
      while (!writer.step()) {}
      const ckptBytes = writer.bytes();
      const encodeSeconds = seconds(encoding);
      const sealing = process.hrtime.bigint();
      const sealed = sealCheckpoint(crypto, 'bench', { [origin]: lastSeq }, ckptBytes);
      return { ...sealed, stallSeconds, encodeSeconds, sealSeconds: seconds(sealing) };
    };
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
    if (checkpoint === null && lastSeq >= EVENTS - TAIL) checkpoint = await take();
    if (lastSeq === EVENTS && checkpoint.total !== EVENTS) atEnd = await take();
    seq = lastSeq;
    if (pending.length === SEGMENTS_PER_WRITE || seq === EVENTS) {
      await store.commit({ segments: pending, heads: [head] }, { sync: false });
      pending = [];
      await spillClosed(seq);
    }
  }
  await store.commit({ segments: [], heads: [] }, { sync: true });
  if (spilledParts > 0) console.log(`key index: ${spilledParts} closed bucket(s) written to the keys area`);
  const writing = process.hrtime.bigint();
  await store.writeCheckpoint(checkpoint);
  const writeSeconds = seconds(writing);
  if (atEnd !== null) await store.writeCheckpoint(atEnd);
  await store.close();
  const buildSeconds = Number(process.hrtime.bigint() - built) / 1e9;
  console.log(
    `history: ${EVENTS.toLocaleString('en-US')} events in ${Math.ceil(EVENTS / BATCH_EVENTS_MAX).toLocaleString('en-US')} segments, written in ${buildSeconds.toFixed(1)} s (${Math.round(EVENTS / buildSeconds).toLocaleString('en-US')} events/s encoded, chained, signed, stored)`,
  );

  console.log(
    `fold while building: ${Math.round(EVENTS / foldSeconds).toLocaleString('en-US')} events/s (applyEvent alone, record window ${RECORD_WINDOW.records.toLocaleString('en-US')})`,
  );
  console.log(
    `checkpoint at seq ${checkpoint.total.toLocaleString('en-US')} (tail ${(EVENTS - checkpoint.total).toLocaleString('en-US')} events): ${(checkpoint.bytes.length / 1024 / 1024).toFixed(1)} MiB; commands wait ${checkpoint.stallSeconds.toFixed(2)} s (copy), encode ${checkpoint.encodeSeconds.toFixed(2)} s in all, hash + sign ${checkpoint.sealSeconds.toFixed(2)} s, store ${writeSeconds.toFixed(2)} s`,
  );
  if (atEnd !== null)
    console.log(
      `checkpoint at the end (seq ${EVENTS.toLocaleString('en-US')}): ${(atEnd.bytes.length / 1024 / 1024).toFixed(1)} MiB, commands wait ${atEnd.stallSeconds.toFixed(2)} s, encode ${atEnd.encodeSeconds.toFixed(2)} s in all`,
    );
}

/** Starts the node from `dir`: with each stored checkpoint, then (FULL) from the whole log. */
async function starts() {
  /** Opens the store and the replica; logs what recovery said; the time until ready, in parts. */
  const start = async (label) => {
    const lines = [];
    const quiet = { ...logger, warn: (_f, m) => lines.push(m), info: (_f, m) => lines.push(m) };
    const session = process.env.PROFILE === '1' ? new Session() : null;
    if (session !== null) {
      session.connect();
      await post(session, 'Profiler.enable');
      await post(session, 'Profiler.start');
    }
    const started = process.hrtime.bigint();
    const cpuAtStart = process.cpuUsage();
    const reopened = await LevelStore.open(dir, { crypto });
    const opened = process.hrtime.bigint();
    const cpuAtOpen = process.cpuUsage(cpuAtStart);
    const replica = await Replica.open(options, {
      store: reopened,
      clock: systemClock,
      rng: new SeededRng(2),
      crypto,
      logger: quiet,
    });
    const ready = process.hrtime.bigint();
    const cpu = process.cpuUsage(cpuAtStart);
    // CPU seconds of this process (main thread and LevelDB's): on a shared machine, what the start
    // costs whatever else runs; the wall-clock figures include the waits for a core.
    const cpuSeconds = ({ user, system }) => ((user + system) / 1e6).toFixed(2);
    if (session !== null) {
      const { profile } = await post(session, 'Profiler.stop');
      session.disconnect();
      printProfile(profile);
    }
    const balance = replica.balance('tenant-0');
    await replica.close();
    if (balance === undefined) throw new Error('tenant-0 has no balance after recovery');
    console.log(
      `${label}: ready in ${seconds(started, ready).toFixed(2)} s (store open and checks ${seconds(started, opened).toFixed(2)} s, replica recovery ${seconds(opened, ready).toFixed(2)} s; CPU ${cpuSeconds(cpu)} s, of which store open ${cpuSeconds(cpuAtOpen)} s)${lines.some((line) => line.startsWith('fold rebuilt from a checkpoint')) ? ' — loaded the checkpoint' : ''}`,
    );
    return { seconds: seconds(started, ready), balance };
  };
  const admin = await LevelStore.open(dir, { crypto });
  const saved = [];
  for (const total of await admin.listCheckpoints()) saved.push(await admin.readCheckpoint(total));
  const events = (await admin.heads()).reduce((sum, head) => sum + head.seq, 0);
  await admin.close();
  // Newest first: each start loads the newest left, then it is removed for the next start.
  let withCheckpoint = null;
  for (const checkpoint of saved) {
    const tail = events - checkpoint.total;
    withCheckpoint = await start(
      `start with the checkpoint at ${checkpoint.total.toLocaleString('en-US')} (${(checkpoint.bytes.length / 1024 / 1024).toFixed(1)} MiB, ${tail === 0 ? 'no tail: the load alone' : `tail ${tail.toLocaleString('en-US')} events`})`,
    );
    const store = await LevelStore.open(dir, { crypto });
    await store.deleteCheckpoint(checkpoint.total);
    await store.close();
  }
  if (FULL) {
    const whole = await start('start folding the whole log');
    const figures = ({ asOf: _asOf, ...rest }) => JSON.stringify(rest);
    if (withCheckpoint !== null && figures(whole.balance) !== figures(withCheckpoint.balance))
      throw new Error(
        `the two starts disagree on tenant-0: ${JSON.stringify(whole.balance)} vs ${JSON.stringify(withCheckpoint.balance)}`,
      );
    console.log(
      `whole log: ${Math.round(events / whole.seconds).toLocaleString('en-US')} events/s verified and folded${withCheckpoint === null ? '' : `; with the checkpoint ${(whole.seconds / withCheckpoint.seconds).toFixed(1)}× faster`}`,
    );
  }
  // The checkpoints back, for the next run on a kept DIR.
  const store = await LevelStore.open(dir, { crypto });
  for (const checkpoint of saved) await store.writeCheckpoint(checkpoint);
  await store.close();
}
