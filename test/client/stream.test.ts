/**
 * client.stream() against a real node's GET /v1/stream (the server in-process with its real-time
 * side, listening on loopback): a debit arrives as a typed ledger event, an alert as an alert, and a
 * stream resumed from an event's id gives what happened after it while nobody listened, once.
 */
import { AllotClient, type StreamEvent } from '@allot/client';
import { afterEach, describe, expect, it } from 'vitest';
import { type RealtimeNode, realtimeNode } from '../../packages/server/test/realtime/support.js';
import { TOKENS } from '../../packages/server/test/support.js';

let node: RealtimeNode | undefined;
afterEach(async () => {
  await node?.close();
  node = undefined;
});

/** A fetch that counts the node's answers to stream requests (it subscribed the consumer before answering). */
function watchingFetch() {
  let answered = 0;
  const wrapped: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (String(input).includes('/v1/stream')) answered++;
    return response;
  };
  return {
    fetch: wrapped,
    /** Resolves once `count` stream requests have their answer's head. */
    async connected(count: number): Promise<void> {
      while (answered < count) await new Promise((resolve) => setTimeout(resolve, 5));
    },
  };
}

describe('client.stream() against a real node', () => {
  it('gives debits and alerts as they commit, and resumes from an id without a gap or a repeat', async () => {
    node = await realtimeNode();
    const watch = watchingFetch();
    const admin = new AllotClient({ urls: [node.base], token: TOKENS.admin, fetch: watch.fetch });
    await admin.grant('acme', { grantId: 'g1', amount: 100 });
    await admin.setPolicy('acme', { alerts: [{ below: 50 }] });

    const stream = admin.stream({ tenant: 'acme' });
    const first = stream.next();
    await watch.connected(1);
    await admin.debit('acme', 10, { idempotencyKey: 'd1' });
    const debit = (await first).value as StreamEvent;
    expect(debit.event).toBe('message');
    if (debit.event !== 'message' || debit.data.kind !== 'debit') throw new Error('a debit event first');
    expect(debit.data).toMatchObject({ tenant: 'acme', amount: 10, idempotencyKey: 'd1' });
    expect(debit.id).not.toBeNull();

    // Crossing 50 downwards raises one alert, after the debit that crossed it.
    await admin.debit('acme', 45, { idempotencyKey: 'd2' });
    const crossing = (await stream.next()).value as StreamEvent;
    expect(crossing).toMatchObject({ event: 'message', data: { kind: 'debit', idempotencyKey: 'd2' } });
    const alert = (await stream.next()).value as StreamEvent;
    expect(alert.event).toBe('alert');
    expect(alert.data).toMatchObject({ tenant: 'acme', threshold: 50, balance: 45 });
    await stream.return();

    // While nobody listens: one more debit. Resumed after the first debit's id, the stream gives
    // the second and the third, once each.
    await admin.debit('acme', 5, { idempotencyKey: 'd3' });
    const resumed = admin.stream({ tenant: 'acme', after: debit.id as string });
    const keys: string[] = [];
    for await (const event of resumed) {
      if (event.event === 'message' && event.data.kind === 'debit') keys.push(event.data.idempotencyKey);
      if (keys.length === 2) break;
    }
    expect(keys).toEqual(['d2', 'd3']);
  });
});
