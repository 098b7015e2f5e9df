// Shared by the benchmarks: a real `allot node` child process on a temp dir, and small helpers.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

// BENCH_CLI runs another checkout's node (e.g. main's) with this bench, to compare in the same minutes.
const CLI = process.env.BENCH_CLI ?? new URL('../packages/cli/bin/allot.js', import.meta.url).pathname;

export const TOKENS = { service: 'bench-service-token', admin: 'bench-admin-token' };

/** The machine, for the record next to every figure. */
export function machine() {
  return `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`;
}

/** Spawns `command args` and resolves with its URL once its output matches `ready` (group 1). */
export function spawnServer(command, args, ready) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk.toString();
      const match = ready.exec(output);
      if (match) resolve({ url: match[1], child, stop: () => stop(child) });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited (${code}):\n${output}`)));
  });
}

function stop(child) {
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

/** Extra Node flags for the node under test, from `BENCH_NODE_ARGS` (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`). */
export function nodeArgs() {
  return (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
}

/** Starts `allot node` with `durability` on a fresh temp dir; `stop()` also removes the dir. */
export async function startNode(durability = 'fsync') {
  const dir = mkdtempSync(join(tmpdir(), 'allot-bench-'));
  const config = {
    cluster: 'bench',
    region: 'eu',
    listen: { host: '127.0.0.1', port: 0 },
    dataDir: join(dir, 'data'),
    keyFile: join(dir, 'region.key'),
    tokens: [
      { token: TOKENS.service, role: 'service' },
      { token: TOKENS.admin, role: 'admin' },
    ],
    durability,
    logLevel: 'warn',
    bodyLimitBytes: 8 * 1024 * 1024,
  };
  const file = join(dir, 'node.yaml');
  writeFileSync(file, stringify(config));
  // logLevel warn hides the "serving" line; ask for info only to learn the URL.
  writeFileSync(file, stringify({ ...config, logLevel: 'info' }));
  const server = await spawnServer(
    process.execPath,
    [...nodeArgs(), CLI, 'node', '--config', file],
    /"url":"(http:\/\/[^"]+)"[^\n]*allot node serving/,
  );
  return {
    ...server,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** CPU seconds (user + system, all threads) a child process used so far, from /proc; null elsewhere. */
export function childCpuSeconds(child) {
  try {
    const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return null;
  }
}

/** The 1-minute load average, for the record next to every figure. */
export function loadAverage() {
  return loadavg()
    .map((load) => load.toFixed(2))
    .join(' ');
}

/** POSTs JSON with a token; resolves to { status, body }. */
export async function post(url, token, path, body) {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/**
 * The node's commits so far, from its /metrics: how many, events per commit and ms per commit
 * (means of the allot_commit_batch_size and allot_commit_duration_seconds histograms).
 */
export async function commitShape(url, token) {
  const text = await (
    await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
  ).text();
  const value = (name) => {
    const line = text.split('\n').find((row) => row.startsWith(`${name} `));
    return line === undefined ? null : Number(line.slice(name.length + 1));
  };
  const commits = value('allot_commit_batch_size_count');
  const events = value('allot_commit_batch_size_sum');
  const seconds = value('allot_commit_duration_seconds_sum');
  if (commits === null || events === null || seconds === null) return null;
  return shapeOf(commits, events, seconds);
}

/** `commits` holding `events` in `seconds`, with the means; null for none. */
function shapeOf(commits, events, seconds) {
  if (commits <= 0) return null;
  return {
    commits,
    events,
    seconds,
    eventsPerCommit: events / commits,
    msPerCommit: (seconds * 1000) / commits,
  };
}

/** A `commitShape` reading as words: "N (E events and M ms each, on average)". */
export function commitsText(shape) {
  return shape === null
    ? '?'
    : `${shape.commits} (${shape.eventsPerCommit.toFixed(1)} events and ${shape.msPerCommit.toFixed(2)} ms each, on average)`;
}

/** The commits between two `commitShape` readings of one node, in the same form; null if unknown. */
export function commitsBetween(before, after) {
  if (before === null || after === null) return null;
  return shapeOf(
    after.commits - before.commits,
    after.events - before.events,
    after.seconds - before.seconds,
  );
}
