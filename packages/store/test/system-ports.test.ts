/**
 * The system clock's timers: a waiting timer never keeps a process alive, but a 0 ms timer (a turn
 * of the loop that awaited work takes, e.g. a checkpoint's next piece during a close) always runs,
 * even in a process with nothing else to keep it alive.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const store = new URL('../dist/index.js', import.meta.url).href;

/** Runs `body` as an ES module in a fresh process that imports systemClock; its output and exit code. */
function run(body: string): { stdout: string; status: number | null } {
  const script = `import { systemClock } from ${JSON.stringify(store)};\n${body}`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 30_000,
    cwd: fileURLToPath(new URL('.', import.meta.url)),
  });
  return { stdout: child.stdout.trim(), status: child.status };
}

describe('the system clock', () => {
  it('runs a 0 ms timer that awaited work waits for, with nothing else keeping the process alive', () => {
    const result = run(
      'for (let i = 0; i < 100; i++) await new Promise((resolve) => systemClock.setTimer(0, resolve));\nconsole.log("all turns ran");',
    );
    expect(result).toEqual({ stdout: 'all turns ran', status: 0 });
  });

  it('lets a process end while a later timer waits, and cancels a 0 ms one', () => {
    const result = run(
      [
        'systemClock.setTimer(60_000, () => console.log("never"));',
        'const cancelled = systemClock.setTimer(0, () => console.log("cancelled ran"));',
        'cancelled.cancel();',
        'systemClock.setTimer(0, () => console.log("turn ran"));',
      ].join('\n'),
    );
    expect(result).toEqual({ stdout: 'turn ran', status: 0 });
  });
});
