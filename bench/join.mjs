#!/usr/bin/env node
// npm run bench:join — joining by checkpoint (issue 11) with real nodes on loopback.
// Three regions (ap, eu, us) build EVENTS debits (default 1,000,000) between them, each writing
// checkpoints (every 250,000 events, or 30 s after events came in); then
//   1. sa (in every config from the start) starts on an empty data directory and joins by
//      checkpoint: the time from its spawn until it accepts a debit, and the bytes it received;
//   2. za (also configured, join.thresholdEvents 10^12: it never joins by checkpoint) starts on an
//      empty data directory and catches up on every event: the same two figures;
// and prints both with their ratio, and the balances of one tenant at every region (equal).
// Every link into sa and za goes through a counting forwarder, so the bytes are what crossed the wire.
// EVENTS=n TENANTS=n (default 1,000) BATCH=n (default 4,000 debits per POST) THRESHOLD=n (the
// join.thresholdEvents of ap, eu, us and sa; default 100,000).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateRegionKey, rawPublicKey } from '@allot/store';
import { stringify } from 'yaml';
import { portOutsideEphemeral } from './relay.mjs';
import { machine, post, TOKENS } from './support.mjs';

const EVENTS = Number(process.env.EVENTS ?? 1_000_000);
const TENANTS = Number(process.env.TENANTS ?? 1_000);
const BATCH = Number(process.env.BATCH ?? 4_000);
const THRESHOLD = Number(process.env.THRESHOLD ?? 100_000);
/** How long a start may take before the bench gives up on it and says how far it got. */
const LIMIT_S = Number(process.env.LIMIT_S ?? 900);
const BUILDERS = ['ap', 'eu', 'us'];
const LATER = ['sa', 'za'];
const REGIONS = [...BUILDERS, ...LATER];
const CLI = new URL('../packages/cli/bin/allot.js', import.meta.url).pathname;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Forwards loopback TCP to `target`, counting the bytes each way. */
class CountingForwarder {
  constructor(target) {
    this.target = target;
    this.toTarget = 0;
    this.fromTarget = 0;
    this.sockets = new Set();
    this.server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      this.sockets.add(client).add(upstream);
      client.on('data', (chunk) => {
        this.toTarget += chunk.length;
        upstream.write(chunk);
      });
      upstream.on('data', (chunk) => {
        this.fromTarget += chunk.length;
        client.write(chunk);
      });
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', close).on('error', close);
      upstream.on('close', close).on('error', close);
    });
  }
  async listen() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = this.server.address().port;
    return this.port;
  }
  close() {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(resolve));
  }
}

async function get(url, path) {
  const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${TOKENS.admin}` } });
  return { status: response.status, body: response.status === 200 ? await response.json() : null };
}

const total = (vector) => Object.values(vector ?? {}).reduce((sum, seq) => sum + seq, 0);
const vectorText = (vector) => JSON.stringify(Object.entries(vector ?? {}).sort());

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'allot-bench-join-'));
  // Below the kernel's ephemeral range: a probed ephemeral port could be taken by a relay's or a
  // client's socket before the node binds it (a node exiting with EADDRINUSE left this bench
  // waiting for it forever).
  const base = await portOutsideEphemeral(REGIONS.length);
  const ports = Object.fromEntries(REGIONS.map((region, i) => [region, base + i]));
  const keys = {};
  for (const region of REGIONS) {
    const key = generateRegionKey();
    writeFileSync(join(dir, `${region}.key`), key.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    keys[region] = Buffer.from(rawPublicKey(key)).toString('base64');
  }
  // Every link into a later region (either side may dial) goes through a counting forwarder.
  const forwarders = new Map();
  for (const from of REGIONS) {
    for (const to of REGIONS) {
      if (from === to || !(LATER.includes(from) || LATER.includes(to))) continue;
      const forwarder = new CountingForwarder(ports[to]);
      await forwarder.listen();
      forwarders.set(`${from}>${to}`, forwarder);
    }
  }
  /** Bytes that reached `region` over its links: what its peers sent it. */
  const bytesInto = (region) => {
    let bytes = 0;
    for (const [link, forwarder] of forwarders) {
      const [from, to] = link.split('>');
      if (to === region) bytes += forwarder.toTarget;
      if (from === region) bytes += forwarder.fromTarget;
    }
    return bytes;
  };
  const children = new Map();
  let stopping = false;
  const start = (region, extra = {}) => {
    const peers = REGIONS.filter((peer) => peer !== region).map((peer) => {
      const forwarder = forwarders.get(`${region}>${peer}`);
      return {
        region: peer,
        url: `ws://127.0.0.1:${forwarder?.port ?? ports[peer]}/v1/replication`,
        publicKey: keys[peer],
      };
    });
    const config = {
      cluster: 'bench',
      region,
      listen: { host: '127.0.0.1', port: ports[region] },
      dataDir: join(dir, region),
      keyFile: join(dir, `${region}.key`),
      peers,
      tokens: [
        { token: TOKENS.service, role: 'service' },
        { token: TOKENS.admin, role: 'admin' },
      ],
      durability: 'fsync',
      logLevel: LATER.includes(region) && process.env.LOG ? process.env.LOG : 'warn',
      bodyLimitBytes: 8 * 1024 * 1024,
      checkpoint: { everyEvents: 250_000, everyMs: 30_000 },
      join: { thresholdEvents: THRESHOLD },
      ...extra,
    };
    writeFileSync(join(dir, `${region}.yaml`), stringify(config));
    const child = spawn(process.execPath, [CLI, 'node', '--config', join(dir, `${region}.yaml`)], {
      stdio: ['ignore', LATER.includes(region) && process.env.LOG ? 'inherit' : 'ignore', 'inherit'],
    });
    children.set(region, child);
    // A node that stops on its own (it printed why on stderr) ends the run: the loops below would
    // wait for it forever.
    child.once('exit', (code, signal) => {
      if (stopping) return;
      console.error(`${region}'s node exited (${signal ?? code}) during the run`);
      for (const other of children.values()) other.kill('SIGTERM');
      process.exit(1);
    });
    return `http://127.0.0.1:${ports[region]}`;
  };
  const urls = {};
  try {
    for (const region of BUILDERS) urls[region] = start(region);
    // Grants, once the three take writes (they never wait for sa and za: nobody heard of them).
    for (let t = 0; t < TENANTS; t++) {
      for (;;) {
        const answer = await post(urls.eu, TOKENS.admin, `/v1/tenants/t${t}/grants`, {
          grantId: 'g1',
          amount: 1_000_000_000,
        }).catch(() => ({ status: 0 }));
        if (answer.status === 201 || answer.status === 200) break;
        await sleep(100);
      }
    }
    const built = Date.now();
    let sent = 0;
    await Promise.all(
      BUILDERS.map(async (region) => {
        const share = Math.floor(EVENTS / BUILDERS.length);
        for (let n = 0; n < share; n += BATCH) {
          const debits = Array.from({ length: Math.min(BATCH, share - n) }, (_, i) => ({
            tenant: `t${(n + i) % TENANTS}`,
            amount: 1,
            idempotencyKey: `${region}-${n + i}`,
          }));
          for (;;) {
            const answer = await post(urls[region], TOKENS.service, '/v1/debits/batch', { debits });
            if (answer.status === 200) break;
            await sleep(200); // overloaded or borrowing: try again
          }
          sent += debits.length;
        }
      }),
    );
    const buildSeconds = (Date.now() - built) / 1000;
    // Converged, and every builder's newest checkpoint at the end (its everyMs after the last events).
    for (;;) {
      const views = await Promise.all(BUILDERS.map((region) => get(urls[region], '/v1/cluster')));
      const checkpoints = await Promise.all(
        BUILDERS.map((region) => get(urls[region], '/v1/audit/checkpoint')),
      );
      const vectors = views.map((view) => vectorText(view.body?.versionVector));
      const done =
        vectors.every((vector) => vector === vectors[0]) &&
        checkpoints.every(
          (checkpoint) =>
            checkpoint.status === 200 &&
            total(checkpoint.body.vector) === total(views[0].body?.versionVector),
        );
      if (done) break;
      await sleep(1_000);
    }
    const history = total((await get(urls.eu, '/v1/cluster')).body.versionVector);
    console.log(
      `history: ${history} events (${sent} debits + ${TENANTS} grants) built in ${buildSeconds.toFixed(1)} s`,
    );

    /** Starts `region` and measures until it accepts a debit. */
    const measure = async (region, extra) => {
      const started = Date.now();
      urls[region] = start(region, extra);
      const seen = [];
      for (;;) {
        if (Date.now() - started > LIMIT_S * 1000) {
          const reached = total(
            (await get(urls[region], '/v1/cluster').catch(() => ({}))).body?.versionVector,
          );
          return { seconds: Number.POSITIVE_INFINITY, bytes: bytesInto(region), checkpointBytes: 0, reached };
        }
        const answer = await post(urls[region], TOKENS.service, '/v1/tenants/t0/debits', {
          amount: 1,
          idempotencyKey: `${region}-probe`,
        }).catch(() => ({ status: 0 }));
        const what = `${answer.status}${answer.body?.error?.details?.reason ? ` ${answer.body.error.details.reason}` : ''}`;
        if (seen.at(-1)?.what !== what) seen.push({ what, at: ((Date.now() - started) / 1000).toFixed(1) });
        if (answer.status === 201) break;
        await sleep(100);
      }
      if (process.env.LOG)
        console.log(region, 'answers seen:', seen.map((s) => `${s.what}@${s.at}s`).join(', '));
      const seconds = (Date.now() - started) / 1000;
      const metrics = await (await fetch(`${urls[region]}/metrics`)).text();
      const joins = Number(/^allot_join_bytes_total (\d+)$/m.exec(metrics)?.[1] ?? 0);
      return { seconds, bytes: bytesInto(region), checkpointBytes: joins };
    };
    const joined = await measure('sa', {});
    console.log(
      `sa joined by checkpoint: serves debits ${joined.seconds.toFixed(1)} s after its start; ${(joined.bytes / 2 ** 20).toFixed(1)} MiB received (checkpoint ${(joined.checkpointBytes / 2 ** 20).toFixed(1)} MiB)`,
    );
    const plain = await measure('za', { join: { thresholdEvents: 1_000_000_000_000 } });
    if (plain.seconds === Number.POSITIVE_INFINITY) {
      console.log(
        `za (every event) did not serve debits within ${LIMIT_S} s: it held ${plain.reached} of ${history} events; ${(plain.bytes / 2 ** 20).toFixed(1)} MiB received; ratio > ${(LIMIT_S / joined.seconds).toFixed(0)}×`,
      );
      console.log(
        `machine: ${machine()}, load average ${loadavg()
          .map((x) => x.toFixed(1))
          .join(' ')}`,
      );
      return;
    }
    console.log(
      `za caught up on every event: serves debits ${plain.seconds.toFixed(1)} s after its start; ${(plain.bytes / 2 ** 20).toFixed(1)} MiB received`,
    );
    console.log(
      `ratio plain / checkpoint: time ${(plain.seconds / joined.seconds).toFixed(1)}×, bytes ${(plain.bytes / joined.bytes).toFixed(1)}×`,
    );
    // Balances equal everywhere once converged.
    for (;;) {
      const views = await Promise.all(REGIONS.map((region) => get(urls[region], '/v1/cluster')));
      const vectors = views.map((view) => vectorText(view.body?.versionVector));
      if (vectors.every((vector) => vector === vectors[0])) break;
      await sleep(500);
    }
    const balances = await Promise.all(
      REGIONS.map(async (region) => (await get(urls[region], '/v1/tenants/t0/balance')).body?.balance),
    );
    console.log(`balance of t0 at ${REGIONS.join(', ')}: ${balances.join(', ')}`);
    if (new Set(balances).size !== 1) {
      console.error('balances differ');
      process.exitCode = 1;
    }
    console.log(
      `machine: ${machine()}, load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}`,
    );
  } finally {
    stopping = true;
    await Promise.all(
      [...children.values()].map(
        (child) =>
          new Promise((resolve) => {
            if (child.exitCode !== null) return resolve(undefined);
            child.once('exit', resolve);
            child.kill('SIGTERM');
          }),
      ),
    );
    await Promise.all([...forwarders.values()].map((forwarder) => forwarder.close()));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
