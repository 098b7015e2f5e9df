#!/usr/bin/env node
// npm run bench:soak — memory under steady load (issue 18). A replica on LevelStore (a temp dir,
// durability `os`) takes batch debits with unique idempotency keys at a steady rate over 1,000
// tenants, RSS and heap sampled every second. Two runs, each in its own child process so one does
// not leave its heap to the other: the default idempotency retention (24 h: every debit stays
// within it) and retention 0 (records and keys are swept every minute). Printed: RSS and heap
// growth per retained debit after the record window is full (least-squares slope over the samples
// past it), for both runs and their difference. Goal: ≤ 16 B per retained debit.
//
// Flags: --seconds N (per run, default 150), --rate N (debits/s, default 5,000), --window N
// (recordWindowRecords, default the replica's), --csv PATH (the samples of both runs as CSV,
// e.g. bench/results/soak.csv), --chart PATH.png (with --csv: the curve as a chart, see
// soak-chart.mjs), --only retained|swept (one run), --parallel (both runs at once:
// half the time, each with half the CPU), --sample N (seconds between samples, default 5; each
// sample runs a full GC first), --key-budget N (keyIndexMemoryBytes, default the replica's 256 MiB:
// the key index's tables and filters in memory; closed buckets, and the open one past half the
// budget, go to disk). The key index's use is sampled too, and the retained run ends by timing
// lookups of fresh keys (in memory, against the filters) and chunk reads from disk. Never asserts.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeKeyChunk, keyFingerprint } from '@allot/core';
import {
  KEY_INDEX_MEMORY_BYTES_DEFAULT,
  RECORD_WINDOW_RECORDS_DEFAULT,
  Replica,
  SeededRng,
} from '@allot/replica';
import { generateRegionKey, LevelStore, nodeCrypto, systemClock } from '@allot/store';
import { machine } from './support.mjs';

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '150' },
    rate: { type: 'string', default: '5000' },
    window: { type: 'string', default: String(RECORD_WINDOW_RECORDS_DEFAULT) },
    csv: { type: 'string' },
    chart: { type: 'string' },
    only: { type: 'string' },
    sample: { type: 'string', default: '5' },
    parallel: { type: 'boolean', default: false },
    child: { type: 'string' },
    'key-budget': { type: 'string', default: String(KEY_INDEX_MEMORY_BYTES_DEFAULT) },
  },
});
const seconds = Number(flags.seconds);
const rate = Number(flags.rate);
const window = Number(flags.window);
const keyBudget = Number(flags['key-budget']);
const TENANTS = 1_000;
/** Batches per second: 10 batches of rate/10 debits, as a busy API edge would send them. */
const TICKS_PER_SECOND = 10;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Anonymous and file-backed RSS from /proc/self/status (Linux; null elsewhere). File-backed pages
 * are mostly LevelDB's tables, which it maps into memory to read them: page cache the kernel takes
 * back under pressure. Anonymous pages are the process's own: JS heap, buffers, native allocations.
 */
function rssParts() {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kib = (name) => {
      const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
      return match === null ? null : Number(match[1]) * 1024;
    };
    return { anon: kib('RssAnon'), file: kib('RssFile') };
  } catch {
    return { anon: null, file: null };
  }
}

/** One run in this process: prints one JSON line per sample on stdout. */
async function child(mode) {
  const dir = mkdtempSync(join(tmpdir(), 'allot-soak-'));
  const logger = { debug() {}, info() {}, warn() {}, error() {} };
  const keepAlive = setInterval(() => {}, 1_000);
  const store = await LevelStore.open(dir);
  const replica = await Replica.open(
    {
      cluster: 'soak',
      region: 'eu',
      durability: 'os',
      recordWindowRecords: window,
      keyIndexMemoryBytes: keyBudget,
      // Retention 0 is 1 ms: every sweep (once a minute) forgets every record and key.
      idempotencyRetentionMs: mode === 'retained' ? DAY_MS : 1,
    },
    {
      store,
      clock: systemClock,
      rng: new SeededRng(1),
      crypto: nodeCrypto(generateRegionKey()),
      logger,
    },
  );
  const tenants = Array.from({ length: TENANTS }, (_, i) => `tenant-${i}`);
  await Promise.all(
    tenants.map((tenant) =>
      replica.grant({ tenant, grantId: 'g1', amount: 1e15, priority: 100, expiresAt: null }),
    ),
  );
  const perTick = Math.max(1, Math.round(rate / TICKS_PER_SECOND));
  let key = 0;
  let accepted = 0;
  let refused = 0;
  let inFlight = 0;
  const started = Date.now();
  const sample = () => {
    // A full collection first: heap figures without garbage waiting for the next GC.
    global.gc?.();
    const memory = process.memoryUsage();
    const parts = rssParts();
    const line = {
      mode,
      second: Math.round((Date.now() - started) / 1000),
      debits: accepted,
      refused,
      rssBytes: memory.rss,
      rssAnonBytes: parts.anon,
      rssFileBytes: parts.file,
      heapUsedBytes: memory.heapUsed,
      heapTotalBytes: memory.heapTotal,
      externalBytes: memory.external,
      arrayBuffersBytes: memory.arrayBuffers,
    };
    const keys = replica.keyIndexUse();
    line.keyMemoryBytes = keys.memoryBytes;
    line.keyFilterBytes = keys.filterBytes;
    line.keysInMemory = keys.entriesInMemory;
    line.keysOnDisk = keys.entriesOnDisk;
    line.keyParts = keys.parts;
    process.stdout.write(`${JSON.stringify(line)}\n`);
  };
  const sampler = setInterval(sample, Number(flags.sample) * 1000);
  const ticker = setInterval(() => {
    // A slow store shows as a lower achieved rate, not as an unbounded queue in this process.
    if (inFlight > 4) return;
    inFlight += 1;
    const commands = Array.from({ length: perTick }, (_, i) => ({
      tenant: tenants[(key + i) % TENANTS],
      amount: 1,
      idempotencyKey: `soak-${mode}-${key + i}-${'x'.repeat(24)}`,
      metadata: { model: 'soak', tokens: key + i },
    }));
    key += perTick;
    void replica.debitMany(commands).then((outcomes) => {
      inFlight -= 1;
      for (const outcome of outcomes) {
        if (outcome.status === 'accepted') accepted += 1;
        else refused += 1;
      }
    });
  }, 1000 / TICKS_PER_SECOND);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  clearInterval(ticker);
  clearInterval(sampler);
  sample();
  await replica.keyIndexSettled();
  if (mode === 'retained') await timeLookups(replica, store);
  await replica.close();
  clearInterval(keepAlive);
  // Disk: the logs keep every event whatever the retention (retention bounds memory, not the log).
  let diskBytes = 0;
  for (const file of readdirSync(dir)) diskBytes += statSync(join(dir, file)).size;
  process.stdout.write(`${JSON.stringify({ mode, disk: true, diskBytes, debits: accepted })}\n`);
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Times lookups of fresh keys in the debit key index (the replica's state, read here for the
 * bench only): in memory against the open tables and the parts' filters, and how many would read a
 * chunk; then chunk reads from the store (read, check, decode), as a lookup past the budget does.
 */
async function timeLookups(replica, store) {
  const index = replica.parts.state.recordWindow?.debitKeys;
  if (index === undefined) return;
  const parts = index.spilledParts();
  const lookups = 50_000;
  let needChunk = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < lookups; i++)
    needChunk += index.candidates('tenant-1', `fresh-${i}`, undefined, () => {}).length > 0 ? 1 : 0;
  const memoryNs = Number(process.hrtime.bigint() - started) / lookups;
  let reads = 0;
  let readNs = 0;
  for (let i = 0; i < 200 && parts.length > 0; i++) {
    const part = parts[i % parts.length];
    const key = part.chunkKey(keyFingerprint('tenant-1', `fresh-${i}`).check);
    const from = process.hrtime.bigint();
    decodeKeyChunk(part, key, await store.readKeyArea(key));
    readNs += Number(process.hrtime.bigint() - from);
    reads += 1;
  }
  process.stdout.write(
    `${JSON.stringify({ lookups: true, parts: parts.length, memoryUs: memoryNs / 1000, chunkShare: needChunk / lookups, chunkReadUs: reads === 0 ? null : readNs / reads / 1000 })}\n`,
  );
}

/** Runs one mode in a child process; resolves with its samples. */
function run(mode) {
  return new Promise((resolve, reject) => {
    const args = [
      '--expose-gc',
      process.argv[1],
      '--child',
      mode,
      '--seconds',
      String(seconds),
      '--rate',
      String(rate),
    ];
    args.push('--window', String(window), '--sample', flags.sample, '--key-budget', String(keyBudget));
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    proc.stdout.on('data', (chunk) => {
      output += chunk.toString();
    });
    proc.once('exit', (code) => {
      if (code !== 0) reject(new Error(`soak run ${mode} exited with ${code}`));
      else
        resolve(
          output
            .trim()
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line)),
        );
    });
  });
}

/** Least-squares slope of y over x. */
function slope(points, y) {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((sum, p) => sum + p.debits, 0) / n;
  const my = points.reduce((sum, p) => sum + p[y], 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.debits - mx) * (p[y] - my);
    den += (p.debits - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

/**
 * Samples once the windows are full and warm: past 1.5 record windows, past the first fifth of the
 * run, and past the key index's first part on disk (until then its tables grow toward their budget,
 * by design: the budget, not the traffic, bounds them).
 */
function steady(samples) {
  const spilled = samples.find((s) => s.keyParts > 0)?.debits ?? 0;
  const from = Math.max(1.5 * window, (samples.at(-1)?.debits ?? 0) / 5, spilled);
  return samples.filter((s) => s.debits >= from);
}

if (flags.child !== undefined) {
  await child(flags.child);
} else {
  console.log(`bench:soak — ${machine()}`);
  console.log(
    `${seconds} s per run at ${rate.toLocaleString('en-US')} debits/s, record window ${window.toLocaleString('en-US')}, ` +
      `key-index budget ${(keyBudget / 2 ** 20).toFixed(1)} MiB (keyIndexMemoryBytes)`,
  );
  const modes = flags.only === undefined ? ['retained', 'swept'] : [flags.only];
  const results = {};
  if (flags.parallel) {
    const all = await Promise.all(modes.map(run));
    modes.forEach((mode, i) => {
      results[mode] = all[i];
    });
  } else for (const mode of modes) results[mode] = await run(mode);
  const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  const slopes = {};
  const disk = {};
  const lookups = {};
  for (const mode of modes) {
    const end = results[mode].find((line) => line.disk === true);
    disk[mode] = end === undefined ? Number.NaN : end.diskBytes / Math.max(1, end.debits);
    lookups[mode] = results[mode].find((line) => line.lookups === true);
    results[mode] = results[mode].filter((line) => line.disk !== true && line.lookups !== true);
  }
  for (const mode of modes) {
    const samples = results[mode];
    const last = samples.at(-1);
    const points = steady(samples);
    slopes[mode] = { rss: slope(points, 'rssBytes'), heap: slope(points, 'heapUsedBytes') };
    const anon = last.rssAnonBytes !== null;
    if (anon) {
      // Where anonymous memory went: the JS heap as reserved, buffers outside it (external), the
      // key index's tables and filters (part of external), and the rest (LevelDB, the allocator).
      for (const s of samples) s.nativeOtherBytes = s.rssAnonBytes - s.heapTotalBytes - s.externalBytes;
      slopes[mode].anon = slope(points, 'rssAnonBytes');
      slopes[mode].file = slope(points, 'rssFileBytes');
    }
    console.log(
      `${mode === 'retained' ? 'retention 24 h' : 'retention 0   '}: ${last.debits.toLocaleString('en-US')} debits ` +
        `(${Math.round(last.debits / last.second).toLocaleString('en-US')}/s achieved, ${last.refused} refused), ` +
        `RSS ${mib(samples[0].rssBytes)} → ${mib(last.rssBytes)}, heap ${mib(samples[0].heapUsedBytes)} → ${mib(last.heapUsedBytes)}; ` +
        `after the window is full (${points.length} samples): RSS ${slopes[mode].rss.toFixed(1)} B/debit, heap ${slopes[mode].heap.toFixed(1)} B/debit; ` +
        `disk ${disk[mode].toFixed(0)} B/debit; key index at the end: ${mib(last.keyMemoryBytes)} in memory ` +
        `(${(last.keyFilterBytes / 2 ** 20).toFixed(1)} MiB of filters), ${last.keysInMemory.toLocaleString('en-US')} keys in memory, ` +
        `${last.keysOnDisk.toLocaleString('en-US')} on disk in ${last.keyParts} parts`,
    );
    if (anon) {
      const by = (y) => slope(points, y).toFixed(1);
      console.log(
        `  anonymous RSS ${mib(samples[0].rssAnonBytes)} → ${mib(last.rssAnonBytes)} (${slopes[mode].anon.toFixed(1)} B/debit: ` +
          `heap reserved ${by('heapTotalBytes')}, external ${by('externalBytes')} of which key index ${by('keyMemoryBytes')}, ` +
          `other native ${by('nativeOtherBytes')}); file-backed RSS (LevelDB's mapped tables, page cache) ` +
          `${mib(samples[0].rssFileBytes)} → ${mib(last.rssFileBytes)} (${slopes[mode].file.toFixed(1)} B/debit)`,
      );
    }
    const timed = lookups[mode];
    if (timed !== undefined)
      console.log(
        `  lookup of a fresh key (${timed.parts} parts on disk): ${timed.memoryUs.toFixed(2)} µs in memory, ` +
          `${(timed.chunkShare * 100).toFixed(2)} % would read a chunk; a chunk read from disk (read, check, decode): ` +
          `${timed.chunkReadUs === null ? 'no part' : `${timed.chunkReadUs.toFixed(0)} µs`}`,
      );
  }
  // Also over the last 40 % of each run: RSS rises in steps (checkpoints and parts written are
  // transients the allocator keeps), so the slope depends on the range; this one is the steady end.
  const tail = {};
  for (const mode of modes) {
    const samples = results[mode];
    const last = samples.at(-1)?.debits ?? 0;
    tail[mode] = slope(
      samples.filter((s) => s.debits >= 0.6 * last),
      'rssBytes',
    );
  }
  if (tail.retained !== undefined && tail.swept !== undefined)
    console.log(
      `last 40 % of each run: RSS ${tail.retained.toFixed(1)} B/debit (24 h), ${tail.swept.toFixed(1)} B/debit (retention 0): ` +
        `${(tail.retained - tail.swept).toFixed(1)} B per retained debit`,
    );
  if (slopes.retained !== undefined && slopes.swept !== undefined) {
    const rss = slopes.retained.rss - slopes.swept.rss;
    console.log(
      `RSS growth per retained debit (24 h − retention 0): ${rss.toFixed(1)} B; heap: ${(slopes.retained.heap - slopes.swept.heap).toFixed(1)} B; ` +
        `goal ≤ 16 B → ${slopes.retained.rss <= 16 ? 'met' : rss <= 16 ? 'met against the retention-0 baseline' : 'not met'}`,
    );
    if (slopes.retained.anon !== undefined && slopes.swept.anon !== undefined) {
      const anon = slopes.retained.anon - slopes.swept.anon;
      console.log(
        `anonymous RSS per retained debit (24 h − retention 0): ${anon.toFixed(1)} B → ${anon <= 16 ? 'met' : 'not met'}`,
      );
    }
  }
  if (flags.csv !== undefined) {
    const rows = [
      'mode,second,debits,rss_bytes,rss_anon_bytes,rss_file_bytes,heap_used_bytes,heap_total_bytes,external_bytes,array_buffers_bytes,key_memory_bytes,key_filter_bytes,keys_in_memory,keys_on_disk,key_parts',
    ];
    for (const mode of modes)
      for (const s of results[mode])
        rows.push(
          [
            mode,
            s.second,
            s.debits,
            s.rssBytes,
            s.rssAnonBytes ?? '',
            s.rssFileBytes ?? '',
            s.heapUsedBytes,
            s.heapTotalBytes,
            s.externalBytes,
            s.arrayBuffersBytes,
            s.keyMemoryBytes,
            s.keyFilterBytes,
            s.keysInMemory,
            s.keysOnDisk,
            s.keyParts,
          ].join(','),
        );
    writeFileSync(flags.csv, `${rows.join('\n')}\n`);
    console.log(`samples written to ${flags.csv}`);
    if (flags.chart !== undefined) {
      const { renderSoakChart } = await import('./soak-chart.mjs');
      const title = `bench:soak — ${seconds} s at ${rate.toLocaleString('en-US')} debits/s asked; ${machine()}`;
      const written = await renderSoakChart(flags.csv, flags.chart, title);
      console.log(`chart written to ${written.png}`);
    }
  } else if (flags.chart !== undefined) console.log('--chart needs --csv: no chart written');
}
