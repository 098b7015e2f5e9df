/**
 * A real node killed with SIGKILL under debit load and restarted on the same data: every debit it
 * acknowledged is in the tenant's events, and the balance accounts for exactly the debits in the log.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { call, type NodeProcess, removeDir, startNodeProcess, TOKENS, tempDir } from './node-process.js';

interface EventsPage {
  events: { kind: string; origin: string; seq: number; amount: number; idempotencyKey?: string }[];
  next: string | null;
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) removeDir(dir);
});

async function allEvents(node: NodeProcess, tenant: string): Promise<EventsPage['events']> {
  const events: EventsPage['events'] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '?limit=1000' : `?limit=1000&after=${encodeURIComponent(cursor)}`;
    const page = await call(node.url, TOKENS.auditor, 'GET', `/v1/tenants/${tenant}/events${query}`);
    expect(page.status).toBe(200);
    const body = page.body as EventsPage;
    events.push(...body.events);
    cursor = body.next;
  } while (cursor !== null);
  return events;
}

describe('durability across SIGKILL (real process)', () => {
  it('loses no acknowledged debit and accounts for exactly the logged ones', async () => {
    const dir = tempDir('sigkill');
    dirs.push(dir);
    const first = await startNodeProcess({ dataDir: dir });
    const grant = await call(first.url, TOKENS.admin, 'POST', '/v1/tenants/acme/grants', {
      grantId: 'g1',
      amount: 1_000_000,
    });
    expect(grant.status).toBe(201);

    const acknowledged = new Map<string, string>(); // idempotency key → debitId
    let stop = false;
    let next = 0;
    const worker = async () => {
      while (!stop) {
        const key = `k-${next++}`;
        try {
          const answer = await call(first.url, TOKENS.service, 'POST', '/v1/tenants/acme/debits', {
            amount: 1 + (next % 5),
            idempotencyKey: key,
          });
          if (answer.status === 201)
            acknowledged.set(key, (answer.body as { debit: { debitId: string } }).debit.debitId);
        } catch {
          return; // the connection died with the process: this one was never acknowledged
        }
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    while (acknowledged.size < 400) await new Promise((resolve) => setTimeout(resolve, 10));
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    stop = true;
    await Promise.all(workers);
    const killedAt = acknowledged.size;

    const second = await startNodeProcess({ dataDir: dir });
    try {
      const events = await allEvents(second, 'acme');
      const logged = new Map(
        events.filter((event) => event.kind === 'debit').map((event) => [event.idempotencyKey, event]),
      );
      for (const [key, debitId] of acknowledged) {
        const event = logged.get(key);
        expect(event, `acknowledged debit ${key} missing after restart`).toBeDefined();
        expect(debitId.endsWith(`.${event?.seq}`)).toBe(true);
      }
      const loggedTotal = [...logged.values()].reduce((total, event) => total + event.amount, 0);
      const balance = await call(second.url, TOKENS.auditor, 'GET', '/v1/tenants/acme/balance');
      expect(balance.status).toBe(200);
      expect(balance.body).toMatchObject({ debited: loggedTotal, balance: 1_000_000 - loggedTotal });
      expect(killedAt).toBeGreaterThanOrEqual(400);
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  });
});
