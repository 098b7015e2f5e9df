/**
 * Test support: a real replica (MemoryStore, a test clock, a seeded generator, node:crypto) behind
 * a real app, requests through fastify's inject, and a fingerprint of everything a request could
 * have changed.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
} from 'node:crypto';
import {
  type Clock,
  type Crypto,
  type Logger,
  Replica,
  type ReplicaObserver,
  SeededRng,
  type TimerHandle,
} from '@allot/replica';
import { MemoryStore } from '@allot/store';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import {
  type AppOptions,
  buildApp,
  createMetrics,
  type Metrics,
  type ServedReplica,
  type TokenConfig,
} from '../src/index.js';

/** The test clock starts here: 2026-11-01T00:00:00.000Z. */
export const T0 = Date.UTC(2026, 10, 1);

/**
 * A clock whose time moves only when a test says so, with timers that fire on the host's event loop
 * (so a group commit's ~1 ms timer fires without the test driving it). Nothing asserts durations.
 */
export class TestClock implements Clock {
  time = T0;

  now(): number {
    return this.time;
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const timer = setTimeout(callback, Math.max(0, Math.min(delayMs, 60_000)));
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  }

  advance(ms: number): void {
    this.time += ms;
  }
}

/** SHA-256 and Ed25519 from node:crypto, with a fresh key. */
export function testCrypto(): Crypto {
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const publicKey = new Uint8Array(der.subarray(der.length - 32));
  const spkiPrefix = Buffer.from('302a300506032b6570032100', 'hex');
  return {
    hash: (bytes) => new Uint8Array(createHash('sha256').update(bytes).digest()),
    sign: (bytes) =>
      new Uint8Array(
        sign(null, bytes, createPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' }))),
      ),
    verify: (key, bytes, signature) =>
      verify(
        null,
        bytes,
        createPublicKey({ key: Buffer.concat([spkiPrefix, key]), format: 'der', type: 'spki' }),
        signature,
      ),
    publicKey,
  };
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** The tokens of the test apps. */
export const TOKENS = {
  admin: 'admin-s3cret',
  service: 'service-s3cret',
  auditor: 'audit-s3cret',
  acme: 'acme-service-s3cret',
  acmeAdmin: 'acme-admin-s3cret',
  acmeAuditor: 'acme-audit-s3cret',
} as const;

/** Who holds which token. */
export const TOKEN_CONFIG: readonly TokenConfig[] = [
  { token: TOKENS.admin, role: 'admin' },
  { token: TOKENS.service, role: 'service' },
  { token: TOKENS.auditor, role: 'auditor' },
  { token: TOKENS.acme, role: 'service', tenants: ['acme'] },
  { token: TOKENS.acmeAdmin, role: 'admin', tenants: ['acme'] },
  { token: TOKENS.acmeAuditor, role: 'auditor', tenants: ['acme'] },
];

/** The Authorization header of a token. */
export function bearer(who: keyof typeof TOKENS): { authorization: string } {
  return { authorization: `Bearer ${TOKENS[who]}` };
}

/** A real replica on a MemoryStore; `observer` gets its observations (the app's metrics). */
export async function openReplica(
  clock = new TestClock(),
  store = MemoryStore.empty(),
  observer?: ReplicaObserver,
  crypto = testCrypto(),
): Promise<Replica> {
  return Replica.open(
    { cluster: 'test', region: 'eu' },
    {
      store,
      clock,
      rng: new SeededRng(7),
      crypto,
      logger: silent,
      ...(observer === undefined ? {} : { observer }),
    },
  );
}

/** An app, its replica, clock and metrics. */
export interface TestNode {
  readonly app: FastifyInstance;
  readonly replica: Replica;
  readonly clock: TestClock;
  readonly store: MemoryStore;
  readonly metrics: Metrics;
  /** Closes the app and the replica. */
  close(): Promise<void>;
}

/** A real app on a real replica; `wrap` may put a test double around the replica the app serves. */
export async function testNode(
  options: Partial<AppOptions> & { wrap?: (replica: Replica) => ServedReplica } = {},
): Promise<TestNode> {
  const clock = new TestClock();
  const store = MemoryStore.empty();
  const metrics = options.metrics ?? createMetrics({ defaultMetrics: false });
  const replica = await openReplica(clock, store, metrics.observer);
  const { wrap, ...appOptions } = options;
  const served = wrap === undefined ? replica : wrap(replica);
  const app = await buildApp({
    replica: served,
    tokens: TOKEN_CONFIG,
    logger: false,
    metrics,
    ...appOptions,
    // Injected requests run thousands at once in one block of the loop, far longer than any real
    // client could hold it: shedding would answer the next ones. Shedding is tested on its own
    // (edge-protection.test.ts).
    http: { eventLoopDelayMsMax: 0, ...appOptions.http },
  });
  return {
    app,
    replica,
    clock,
    store,
    metrics,
    async close() {
      await app.close();
      await replica.close();
    },
  };
}

/** A JSON request through inject. */
export async function call(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'PUT',
  url: string,
  options: { who?: keyof typeof TOKENS | null; body?: unknown; headers?: Record<string, string> } = {},
): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = {
    ...(options.who === null ? {} : bearer(options.who ?? 'admin')),
    ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    ...options.headers,
  };
  return app.inject({
    method,
    url,
    headers,
    ...(options.body === undefined
      ? {}
      : { payload: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }),
  });
}

/** Grants `amount` to `tenant` (201 expected). */
export async function grant(
  app: FastifyInstance,
  tenant: string,
  grantId: string,
  amount: number,
): Promise<void> {
  const response = await call(app, 'POST', `/v1/tenants/${tenant}/grants`, { body: { grantId, amount } });
  if (response.statusCode !== 201) throw new Error(`grant answered ${response.statusCode}: ${response.body}`);
}

/** Debits `amount` from `tenant` (201 expected); the debit's JSON. */
export async function debit(
  app: FastifyInstance,
  tenant: string,
  amount: number,
  idempotencyKey: string,
): Promise<{ debitId: string }> {
  const response = await call(app, 'POST', `/v1/tenants/${tenant}/debits`, {
    who: 'service',
    body: { amount, idempotencyKey },
  });
  if (response.statusCode !== 201) throw new Error(`debit answered ${response.statusCode}: ${response.body}`);
  return response.json().debit;
}

/**
 * Everything a request could have changed: every origin's log (version vector and heads), every
 * tenant's figures, and the policies of `tenants`.
 */
export async function fingerprint(replica: Replica, tenants: readonly string[] = ['acme']): Promise<string> {
  const { header, tenants: figures } = await replica.snapshot();
  const policies = tenants.map((tenant) => replica.policy(tenant));
  return JSON.stringify({ vv: header.versionVector, heads: header.heads, figures, policies });
}

/** The error code and status of an answer. */
export function errorOf(response: LightMyRequestResponse): { status: number; code: string } {
  const body = response.json() as { error?: { code?: string } };
  return { status: response.statusCode, code: body.error?.code ?? '(no error body)' };
}
