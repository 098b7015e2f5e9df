/**
 * Everything a peer sends is checked like API input (DESIGN.md §4, issue 9 item 1): control
 * updates must write only valid policies of valid tenants and delete nothing; summaries, runs and
 * pulls may name only origins of configured regions. A refused frame drops the peer and changes
 * nothing. A bad policy already stored (an older version's data) reads as the default.
 */
import { AMOUNT_MAX } from '@allot/core';
import {
  CONTROL_MESSAGE_BYTES_MAX,
  ControlDocument,
  frameProblem,
  POLICY_ALERTS_MAX,
  POLICY_REGIONS_MAX,
  POLICY_WEIGHT_MAX,
  policyProblem,
  type ReplicationFrame,
  SUMMARY_ORIGINS_PER_REGION_MAX,
} from '@allot/replica';
import {
  POLICY_REGIONS_MAX as SERVER_REGIONS_MAX,
  POLICY_WEIGHT_MAX as SERVER_WEIGHT_MAX,
} from '@allot/server';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { putPolicySchema } from '../../packages/server/src/policy-schemas.js';
import { controlEdit, hostileSetup, signedRun } from './hostile-peer.js';
import { harness, settle } from './support.js';

const GOOD_POLICIES: unknown[] = [
  { overdraft: {}, weights: {}, blocked: false },
  { overdraft: { eu: 500, us: 0 }, weights: { eu: 2, us: 1 }, blocked: true },
  { overdraft: { 'ap-south-1': AMOUNT_MAX }, weights: { eu: POLICY_WEIGHT_MAX }, blocked: false },
  {
    overdraft: Object.fromEntries(Array.from({ length: POLICY_REGIONS_MAX }, (_, i) => [`r${i}`, i])),
    weights: {},
    blocked: false,
  },
];

const BAD_POLICIES: unknown[] = [
  12345,
  null,
  'policy',
  [],
  {},
  { overdraft: null, weights: {}, blocked: false },
  { overdraft: {}, weights: {}, blocked: 'no' },
  { overdraft: {}, weights: {} },
  { overdraft: { eu: -1 }, weights: {}, blocked: false },
  { overdraft: { eu: 1.5 }, weights: {}, blocked: false },
  { overdraft: { eu: AMOUNT_MAX + 1 }, weights: {}, blocked: false },
  { overdraft: { eu: '5' }, weights: {}, blocked: false },
  { overdraft: { 'EU!': 5 }, weights: {}, blocked: false },
  { overdraft: {}, weights: { eu: 0 }, blocked: false },
  { overdraft: {}, weights: { eu: POLICY_WEIGHT_MAX + 1 }, blocked: false },
  { overdraft: {}, weights: {}, blocked: false, extra: 1 },
  {
    overdraft: Object.fromEntries(Array.from({ length: POLICY_REGIONS_MAX + 1 }, (_, i) => [`r${i}`, i])),
    weights: {},
    blocked: false,
  },
];

describe('the policy rule', () => {
  it('agrees with the admin API’s schema on good and bad policies', () => {
    const ajv = new Ajv({ coerceTypes: false, removeAdditional: false, allErrors: false });
    const body = putPolicySchema.body;
    const validate = ajv.compile({ ...body, required: ['overdraft', 'weights', 'blocked'] });
    expect(SERVER_REGIONS_MAX).toBe(POLICY_REGIONS_MAX);
    expect(SERVER_WEIGHT_MAX).toBe(POLICY_WEIGHT_MAX);
    for (const policy of GOOD_POLICIES) {
      expect([policy, validate(policy)]).toEqual([policy, true]);
      expect([policy, policyProblem(policy)]).toEqual([policy, null]);
    }
    for (const policy of BAD_POLICIES) {
      expect([policy, validate(policy)]).toEqual([policy, false]);
      expect(policyProblem(policy)).not.toBeNull();
    }
  });

  it('accepts API.md’s alerts shape, bounded, and nothing else there', () => {
    const base = { overdraft: {}, weights: {}, blocked: false };
    expect(policyProblem({ ...base, alerts: [{ below: 10_000 }, { belowPercent: 10 }] })).toBeNull();
    expect(policyProblem({ ...base, alerts: [] })).toBeNull();
    for (const alerts of [
      {},
      [{ below: 0 }],
      [{ belowPercent: 101 }],
      [{ below: 5, belowPercent: 5 }],
      [{ above: 5 }],
      Array.from({ length: POLICY_ALERTS_MAX + 1 }, () => ({ below: 1 })),
    ]) {
      expect(policyProblem({ ...base, alerts })).not.toBeNull();
    }
  });
});

describe('a stored policy that breaks the rule (an older version’s data directory)', () => {
  it('reads as the default with a warning, and every route of the tenant keeps working', async () => {
    const h = await harness();
    await settle(
      h.clock,
      h.replica.grant({ tenant: 'acme', grantId: 'g', amount: 100, priority: 1, expiresAt: null }),
    );
    await h.replica.close();
    const store = h.store.crash();
    const doc = new Y.Doc();
    doc.getMap('control').set('policy/acme', 12345);
    await store.commit({ segments: [], heads: [], control: [Y.encodeStateAsUpdate(doc)] }, { sync: true });
    const replica = await h.reopen(store);
    expect(h.logger.lines.some((line) => line.level === 'warn' && /policy rule/.test(line.message))).toBe(
      true,
    );
    expect(replica.policy('acme')).toEqual({ overdraft: {}, weights: {}, blocked: false });
    const outcomes = await settle(
      h.clock,
      replica.debitMany([
        { tenant: 'beta', amount: 1, idempotencyKey: 'a', metadata: null },
        { tenant: 'acme', amount: 5, idempotencyKey: 'b', metadata: null },
      ]),
    );
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['declined', 'accepted']);
    expect((await replica.durableBalance('acme'))?.balance).toBe(95);
  });
});

describe('a control update that changes nothing here', () => {
  const policy = (blocked: boolean) => ({ overdraft: {}, weights: {}, blocked });
  const message = (update: Uint8Array) => ControlDocument.updateMessage(update);

  it('is let go again while the document stays, and weighed again once it changed', () => {
    const peer = new ControlDocument(7);
    const first = peer.setPolicy('acme', policy(true));
    const second = peer.setPolicy('acme', policy(false));
    const here = new ControlDocument(8);
    // The second edit needs the first: not applied, and not applied again while nothing changes.
    expect(here.receive(message(second)).updates).toEqual([]);
    expect(here.receive(message(second)).updates).toEqual([]);
    expect(here.hasPolicy('acme')).toBe(false);
    // The first arrives: the same bytes of the second now apply.
    expect(here.receive(message(first)).updates).toHaveLength(1);
    expect(here.receive(message(second)).updates).toHaveLength(1);
    expect(here.policy('acme').blocked).toBe(false);
    // Known already: changes nothing, however often it comes.
    expect(here.receive(message(second)).updates).toEqual([]);
    expect(here.receive(message(first)).updates).toEqual([]);
    expect(here.policy('acme').blocked).toBe(false);
  });

  it('a summary carries the state vector of the document as it is now', () => {
    const peer = new ControlDocument(7);
    const here = new ControlDocument(8);
    const vectorOf = (document: ControlDocument) => {
      const copy = new Y.Doc();
      Y.applyUpdate(copy, document.encodeState());
      return Y.encodeStateVector(copy);
    };
    const empty = here.stateVector();
    expect(here.stateVector()).toBe(empty); // not encoded again while nothing changed
    here.setPolicy('acme', policy(true));
    expect(here.stateVector()).toEqual(vectorOf(here));
    expect(here.stateVector()).not.toEqual(empty);
    const seen = here.stateVector();
    here.receive(message(peer.setPolicy('globex', policy(false))));
    expect(here.stateVector()).toEqual(vectorOf(here));
    expect(here.stateVector()).not.toEqual(seen);
  });

  it('a refused update is refused every time it comes', () => {
    const bad = controlEdit([], (root) =>
      root.set('policy/acme', { overdraft: { eu: -1 }, weights: {}, blocked: false }),
    );
    if (bad.type !== 'control') throw new Error('not a control frame');
    const here = new ControlDocument(8);
    for (let i = 0; i < 3; i++) expect(() => here.receive(bad.message)).toThrow(/refused/);
    expect(here.hasPolicy('acme')).toBe(false);
  });
});

describe('a peer’s frames are checked like API input', () => {
  it('a control update with a policy the API refuses drops the peer and changes nothing', async () => {
    const s = await hostileSetup();
    const before = (await s.store.readControl()).length;
    for (const value of [
      12345,
      { overdraft: null, weights: {}, blocked: false },
      { overdraft: {}, weights: {}, blocked: 'no' },
    ]) {
      s.send(controlEdit(await s.store.readControl(), (root) => root.set('policy/acme', value)));
      await s.run(5);
    }
    s.send(controlEdit(await s.store.readControl(), (root) => root.set('junk', 'x'.repeat(100))));
    await s.run(5);
    s.send(
      controlEdit(await s.store.readControl(), (root) =>
        root.set('policy/bad tenant!', { overdraft: {}, weights: {}, blocked: false }),
      ),
    );
    await s.run(5);
    s.send(controlEdit(await s.store.readControl(), (_root, doc) => doc.getArray('other').insert(0, [1])));
    await s.run(5);
    expect(s.network.drops.filter((drop) => drop.from === 'eu').length).toBe(6);
    expect(s.replica.policy('acme')).toEqual({ overdraft: {}, weights: {}, blocked: false });
    expect((await s.store.readControl()).length).toBe(before);
  });

  it('a valid policy from a peer is applied (what its own admin API could do), a deletion is not', async () => {
    const s = await hostileSetup();
    const policy = { overdraft: { us: 10 }, weights: {}, blocked: false };
    s.send(controlEdit(await s.store.readControl(), (root) => root.set('policy/acme', policy)));
    await s.run(5);
    expect(s.replica.policy('acme')).toEqual(policy);
    s.send(controlEdit(await s.store.readControl(), (root) => root.delete('policy/acme')));
    await s.run(5);
    expect(s.replica.policy('acme')).toEqual(policy);
    expect(s.network.drops.map((drop) => drop.reason)).toEqual([expect.stringMatching(/deletes/)]);
  });

  it('an oversized control message is refused by the frame check and by the control document', async () => {
    const s = await hostileSetup();
    const big = controlEdit([], (root) =>
      root.set('policy/acme', { overdraft: {}, weights: {}, blocked: false }),
    );
    const message = new Uint8Array(CONTROL_MESSAGE_BYTES_MAX + 1);
    message.set((big as Extract<ReplicationFrame, { type: 'control' }>).message);
    expect(frameProblem({ type: 'control', message })).toMatch(/more than/);
    expect(s.send({ type: 'control', message })).toBe(false); // the transport refuses it
    expect(() => new ControlDocument(1).receive(message)).toThrow(/more than/);
    await s.run(5);
    expect(s.replica.policy('acme')).toEqual({ overdraft: {}, weights: {}, blocked: false });
  });

  it('origins of regions nobody configured are refused and never become metrics labels', async () => {
    const s = await hostileSetup();
    const control = Y.encodeStateVector(new Y.Doc());
    s.send({ type: 'summary', versionVector: { 'zz#aaaaaaaaaaaaaaaa': 5 }, control });
    await s.run(5);
    const many = Object.fromEntries(
      Array.from({ length: SUMMARY_ORIGINS_PER_REGION_MAX + 1 }, (_, i) => [
        `us#aaaaaaaaaaaaaa${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`,
        1,
      ]),
    );
    s.send({ type: 'summary', versionVector: many, control });
    await s.run(5);
    s.send({ type: 'pull', origin: 'zz#aaaaaaaaaaaaaaaa', fromSeq: 1 });
    await s.run(5);
    const forged = signedRun(s.usKey, 'zz#aaaaaaaaaaaaaaaa', [
      { kind: 'grant', tenant: 'acme', grantId: 'z', amount: 1_000_000, priority: 1, expiresAt: null },
    ]);
    s.send({ type: 'segments', origin: 'zz#aaaaaaaaaaaaaaaa', segments: forged });
    await s.run(600); // past a summary interval: lag is reported
    expect(s.network.drops.length).toBe(4);
    expect([...s.lagLabels].filter((label) => !label.startsWith('us#'))).toEqual([]);
    expect(s.replica.balance('acme')).toBeUndefined();
  });

  it('a peer claiming more of our own log than we wrote, once we take writes, is logged as a fork and changes nothing', async () => {
    const s = await hostileSetup();
    const origin = s.replica.origin;
    s.send({
      type: 'summary',
      versionVector: { [origin]: 1_000 },
      control: Y.encodeStateVector(new Y.Doc()),
    });
    await s.run(5);
    expect(s.replica.writable).toBe(true);
    expect(s.replica.versionVector()[origin]).toBeUndefined();
    expect(
      s.logger.lines.filter((line) => line.level === 'error' && /forked/.test(line.message)),
    ).toHaveLength(1);
  });

  it('a summary that does not name its sender drops the peer and confirms nothing', async () => {
    // Swarm seed 5533: a wire renamed ap's origin to us's in ap's summary; the two entries decoded
    // as one that showed nothing of us's log, and us, restored from a backup, took writes over seqs
    // ap held. Every node's summary names its sender, so one that does not was rewritten.
    const s = await hostileSetup(false);
    const origin = s.replica.origin;
    const control = Y.encodeStateVector(new Y.Doc());
    s.send({ type: 'summary', versionVector: { [origin]: 3 }, control });
    await s.run(5);
    expect(s.replica.writable).toBe(false); // the peer holds more of eu's log
    s.sendAsIs({ type: 'summary', versionVector: { [origin]: 0 }, control });
    await s.run(5);
    expect(s.network.drops.map((drop) => drop.reason)).toEqual([
      expect.stringMatching(/summary does not name the sender's incarnation us#/),
    ]);
    expect(s.replica.writable).toBe(false);
  });

  it('a run of our own origin that does not verify with our key drops the peer while recovering', async () => {
    const s = await hostileSetup(false);
    const origin = s.replica.origin;
    s.send({ type: 'summary', versionVector: { [origin]: 3 }, control: Y.encodeStateVector(new Y.Doc()) });
    await s.run(5);
    expect(s.replica.writable).toBe(false); // the peer says it holds more of eu's log
    const forged = signedRun(s.usKey, origin, [
      { kind: 'grant', tenant: 'acme', grantId: 'a', amount: 1_000_000, priority: 1, expiresAt: null },
      { kind: 'grant', tenant: 'acme', grantId: 'b', amount: 1_000_000, priority: 1, expiresAt: null },
      { kind: 'grant', tenant: 'acme', grantId: 'c', amount: 1_000_000, priority: 1, expiresAt: null },
    ]);
    s.send({ type: 'segments', origin, segments: forged });
    await s.run(5);
    expect(s.network.drops.map((drop) => drop.reason)).toEqual([
      expect.stringMatching(/signature does not verify/),
    ]);
    expect(s.replica.balance('acme')).toBeUndefined();
    expect(s.replica.versionVector()[origin]).toBeUndefined();
    expect(s.replica.writable).toBe(false);
  });
});
