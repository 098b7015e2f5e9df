/**
 * Issue 9 against real node processes: the reflection attack (a stranger dials eu claiming us,
 * dials us claiming eu, and passes us's proof to eu) is refused and changes nothing; and a live
 * push of a commit of more than 512 events reaches the peer without an error.
 */
import { randomBytes } from 'node:crypto';
import {
  decodeMessage,
  encodeMessage,
  type HelloMessage,
  PROTOCOL_VERSION,
  type WireMessage,
} from '@allot/transport';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { useProcessCluster } from './cluster-process.js';
import { call, eventually, TOKENS } from './node-process.js';

const CLUSTER = 'process-test';

const processes = useProcessCluster(['eu', 'us']);
const url = processes.url;

async function connected(): Promise<void> {
  await eventually(
    () =>
      Promise.all(
        ['eu', 'us'].map(
          async (region) => (await call(url(region), TOKENS.auditor, 'GET', '/v1/cluster')).body,
        ),
      ),
    (views) =>
      views.every((view) =>
        (view as { peers: { connected: boolean }[] }).peers.every((peer) => peer.connected),
      ),
  );
}

/** A hand-driven replication socket straight to a node's port (not through the cluster's relays). */
class Attacker {
  readonly received: WireMessage[] = [];
  closed: { code: number; reason: string } | null = null;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const decoded = decodeMessage(new Uint8Array(data as Buffer));
      if (decoded.message !== null) this.received.push(decoded.message);
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
    });
    ws.on('error', () => {});
  }

  static async open(region: string): Promise<Attacker> {
    const ws = new WebSocket(`${url(region).replace('http:', 'ws:')}/v1/replication`, {
      perMessageDeflate: false,
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Attacker(ws);
  }

  send(message: WireMessage): void {
    this.ws.send(encodeMessage(message));
  }

  hello(region: string, incarnation: string, nonce: Uint8Array): void {
    this.send({
      type: 'hello',
      cluster: CLUSTER,
      protocol: PROTOCOL_VERSION,
      region,
      incarnation,
      nonce,
      signature: null,
    });
  }

  async answer(): Promise<HelloMessage> {
    await eventually(
      async () => this.received.length > 0 || this.closed !== null,
      (done) => done,
    );
    const hello = this.received[0];
    if (hello?.type !== 'hello') throw new Error(`no hello: ${JSON.stringify(this.closed)}`);
    return hello;
  }
}

describe('issue 9 through real nodes', () => {
  it('refuses the reflection attack; no policy or balance changes and the stranger gets no frame', async () => {
    await connected();
    const put = await call(url('eu'), TOKENS.admin, 'PUT', '/v1/tenants/acme/policy', {
      overdraft: { eu: 0 },
    });
    expect(put.status).toBe(200);
    expect(
      (
        await call(url('eu'), TOKENS.admin, 'POST', '/v1/tenants/acme/grants', {
          grantId: 'g1',
          amount: 90_000,
        })
      ).status,
    ).toBe(201);
    // Policies and balances at both regions (without the time they were read at).
    const read = async () =>
      (
        await Promise.all(
          ['eu', 'us'].flatMap((region) => [
            call(url(region), TOKENS.auditor, 'GET', '/v1/tenants/acme/policy'),
            call(url(region), TOKENS.auditor, 'GET', '/v1/tenants/acme/balance'),
          ]),
        )
      ).map(({ status, body }) => ({ status, body: { ...(body as object), asOf: undefined } as unknown }));
    // Both regions hold the policy and the grant before the attack.
    const before = await eventually(read, (answers) =>
      answers.every(
        ({ status, body }, i) =>
          status === 200 &&
          (i % 2 === 0
            ? (body as { overdraft: Record<string, number> }).overdraft.eu === 0
            : (body as { balance: number }).balance === 90_000),
      ),
    );

    // Learn us's incarnation from its hello (any stranger can).
    const probe = await Attacker.open('us');
    probe.hello('eu', 'aaaaaaaaaaaaaaaa', new Uint8Array(randomBytes(32)));
    const usIncarnation = (await probe.answer()).incarnation;
    probe.ws.terminate();
    // Dial eu claiming us; dial us claiming eu with eu's challenge; pass us's signature to eu.
    const toEu = await Attacker.open('eu');
    toEu.hello('us', usIncarnation, new Uint8Array(randomBytes(32)));
    const euHello = await toEu.answer();
    const toUs = await Attacker.open('us');
    toUs.hello('eu', euHello.incarnation, euHello.nonce);
    const usHello = await toUs.answer();
    toEu.send({ type: 'auth', signature: usHello.signature as Uint8Array });
    // What the forged link was used for before: a policy with a 1,000,000 overdraft.
    toEu.send({ type: 'control', message: new Uint8Array([0, 2, 1, 2, 3]) });
    await eventually(
      async () => toEu.closed,
      (closed) => closed !== null,
    );
    expect(toEu.closed).toEqual({
      code: 4004,
      reason: 'auth signature does not verify with the configured key',
    });
    toUs.ws.terminate();

    expect(toEu.received.map((message) => message.type)).toEqual(['hello']);
    expect(toUs.received.map((message) => message.type)).toEqual(['hello']);
    expect(await read()).toEqual(before);
    // The real link between eu and us never went down.
    await connected();
    expect(processes.cluster().nodes.get('eu')?.output()).toMatch(/auth signature does not verify/);
  });

  it('pushes a commit of more than 512 events live, without an error', async () => {
    await connected();
    const debits = Array.from({ length: 600 }, (_, i) => ({
      tenant: 'acme',
      amount: 1,
      idempotencyKey: `big-${i}`,
    }));
    const batch = await call(url('eu'), TOKENS.service, 'POST', '/v1/debits/batch', { debits });
    expect(batch.status).toBe(200);
    expect(
      (batch.body as { results: { status: string }[] }).results.every(
        (result) => result.status === 'accepted',
      ),
    ).toBe(true);
    await eventually(
      async () =>
        (await call(url('us'), TOKENS.auditor, 'GET', '/v1/tenants/acme/balance')).body as {
          debited: number;
        },
      (body) => body.debited === 600,
    );
    const errors = (processes.cluster().nodes.get('eu')?.output() ?? '')
      .split('\n')
      .filter((line) => /"level":50/.test(line));
    expect(errors).toEqual([]);
  });

  it('lets a restarted region rejoin while strangers keep every slot they can busy, and 4 MiB before auth is refused', async () => {
    await connected();
    const replication = (region: string) => `${url(region).replace('http:', 'ws:')}/v1/replication`;
    const open = (target: string, localAddress: string) =>
      new Promise<WebSocket | null>((resolve) => {
        const ws = new WebSocket(target, { perMessageDeflate: false, localAddress });
        ws.once('open', () => resolve(ws));
        ws.once('error', () => resolve(null));
      });
    // A 4 MiB message before auth: closed by its header with 1009, never buffered.
    const flood = (await open(replication('eu'), '127.0.1.1')) as WebSocket;
    const closed = new Promise<number>((resolve) => flood.once('close', (code) => resolve(code)));
    flood.send(new Uint8Array(4 * 1024 * 1024));
    expect(await closed).toBe(1009);
    // Strangers from 20 addresses hold idle sockets (never a hello) at both regions, replace each
    // one closed, and keep trying a region while it is down, to take its slots the moment it is back.
    let attacking = true;
    const held = { eu: new Set<WebSocket>(), us: new Set<WebSocket>() };
    const most = { eu: 0, us: 0 };
    const refused = { eu: 0, us: 0 };
    const attack = async (region: 'eu' | 'us', target: string, lane: number) => {
      for (let next = lane; attacking; next++) {
        const ws = await open(target, `127.0.1.${(next % 20) + 2}`);
        if (ws === null) {
          refused[region]++;
          await new Promise((resolve) => setTimeout(resolve, 5));
          continue;
        }
        held[region].add(ws);
        most[region] = Math.max(most[region], held[region].size);
        ws.once('close', () => held[region].delete(ws));
      }
    };
    // Eight at a time per region, so a region that comes back is full within milliseconds.
    const attackers = Array.from({ length: 8 }, (_, lane) => [
      attack('eu', replication('eu'), lane),
      attack('us', replication('us'), lane),
    ]).flat();
    // Every slot a stranger may take is taken at both: the next one is refused.
    await eventually(
      async () => ({ ...refused }),
      (counts) => counts.eu > 0 && counts.us > 0,
    );
    // us restarts; the dials between the regions come from configured peer addresses and get
    // reserved slots, whichever side dials.
    const us = processes.cluster().nodes.get('us');
    us?.child.kill('SIGTERM');
    await us?.exited;
    await processes.cluster().restart('us');
    await connected();
    attacking = false;
    await Promise.all(attackers);
    for (const ws of [...held.eu, ...held.us]) ws.terminate();
    // How many slots strangers held at most is not measured here: this process sees a close only
    // when it gets to it, and under load the node has long freed and refilled that slot by then.
    // The exact slot edges are unit-tested on the gate itself (packages/transport/test/admission.test.ts).
    expect(refused.eu + refused.us).toBeGreaterThan(0);
    expect(most.eu).toBeGreaterThan(0);
  });
});
