/**
 * Issue 11, checkpoints in a real node: with `checkpoint.everyEvents` from its config it writes a
 * checkpoint into its LevelDB data directory; killed with SIGKILL and restarted, it loads that
 * checkpoint, folds only the tail, and answers balances and idempotent replays as before.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { call, eventually, removeDir, startNodeProcess, TOKENS, tempDir } from './node-process.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) removeDir(dir);
});

const batch = (from: number, count: number) => ({
  debits: Array.from({ length: count }, (_, i) => ({
    tenant: i % 2 === 0 ? 'acme' : 'globex',
    amount: 1 + ((from + i) % 4),
    idempotencyKey: `k-${from + i}`,
  })),
});

describe('checkpoints in a real node', () => {
  it('writes one every everyEvents, and a restart after SIGKILL starts from it with the same answers', async () => {
    const dir = tempDir('checkpoint');
    dirs.push(dir);
    const extra = { checkpoint: { everyEvents: 1_000, everyMs: 600_000 } };
    const first = await startNodeProcess({ dataDir: dir, extra });
    for (const tenant of ['acme', 'globex']) {
      const granted = await call(first.url, TOKENS.admin, 'POST', `/v1/tenants/${tenant}/grants`, {
        grantId: 'g1',
        amount: 1_000_000,
      });
      expect(granted.status).toBe(201);
    }
    for (let from = 0; from < 1_200; from += 400) {
      const answer = await call(first.url, TOKENS.service, 'POST', '/v1/debits/batch', batch(from, 400));
      expect(answer.status).toBe(200);
    }
    await eventually(
      async () => first.output(),
      (output) => output.includes('"msg":"checkpoint written"'),
    );
    // A tail after the checkpoint.
    const tail = await call(first.url, TOKENS.service, 'POST', '/v1/debits/batch', batch(1_200, 50));
    expect(tail.status).toBe(200);
    const before = await Promise.all(
      ['acme', 'globex'].map(async (tenant) => {
        const balance = await call(first.url, TOKENS.auditor, 'GET', `/v1/tenants/${tenant}/balance`);
        return (balance.body as { balance: number }).balance;
      }),
    );
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');

    const second = await startNodeProcess({ dataDir: dir, extra });
    try {
      expect(second.output()).toContain('"msg":"fold rebuilt from a checkpoint and the tails after it"');
      expect(second.output()).not.toContain('checkpoint not usable');
      const after = await Promise.all(
        ['acme', 'globex'].map(async (tenant) => {
          const balance = await call(second.url, TOKENS.auditor, 'GET', `/v1/tenants/${tenant}/balance`);
          return (balance.body as { balance: number }).balance;
        }),
      );
      expect(after).toEqual(before);
      // A key from before the checkpoint replays its debit; one after it too.
      for (const index of [3, 1_211]) {
        const replay = await call(second.url, TOKENS.service, 'POST', '/v1/tenants/globex/debits', {
          amount: 1 + (index % 4),
          idempotencyKey: `k-${index}`,
        });
        expect(replay.status).toBe(200);
      }
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});
