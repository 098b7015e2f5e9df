/**
 * GET /v1/audit/keys and GET /v1/audit/segments (issue 11): who may read them, how a log is paged,
 * what a bad query gets, and that a page's segments chain and verify with the key the node names;
 * GET /v1/audit/checkpoint: 404 until a checkpoint is written, then the newest one, signed.
 */
import { checkpointHeads, SEGMENT_BYTES_MAX } from '@allot/core';
import { checkpointSigningBytes, headSigningBytes, segmentHash, ZERO_HASH } from '@allot/replica';
import { LOG_PAGE_SEGMENTS_MAX } from '@allot/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORIGIN_PATTERN } from '../../src/audit-schemas.js';
import { AUDIT_PAGE_BYTES_MAX, AUDIT_SEGMENTS_PAGE_MAX, SNAPSHOT_CHUNK_TENANTS } from '../../src/limits.js';
import { snapshotJsonText } from '../../src/snapshot-body.js';
import { call, debit, errorOf, fingerprint, grant, type TestNode, testCrypto, testNode } from '../support.js';

interface Page {
  origin: string;
  segments: { firstSeq: number; lastSeq: number; bytes: string; hash: string; signature: string }[];
  next: number | null;
}

let node: TestNode;
let origin: string;
const COMMITS = 7;

beforeAll(async () => {
  node = await testNode();
  origin = node.replica.origin;
  // One request at a time: each is its own commit, so the log has one segment per request.
  await grant(node.app, 'acme', 'g1', 1_000);
  for (let i = 1; i < COMMITS; i++) await debit(node.app, 'acme', i, `k-${i}`);
});
afterAll(async () => node.close());

describe('GET /v1/audit/keys', () => {
  it('names the cluster, the region and its public key (base64 of the raw 32 bytes)', async () => {
    const response = await call(node.app, 'GET', '/v1/audit/keys', { who: 'auditor' });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toEqual({
      cluster: 'test',
      region: 'eu',
      keys: { eu: expect.stringMatching(/^[A-Za-z0-9+/]{43}=$/) },
    });
  });

  it('is for auditors and admins only, never a scoped token or a service', async () => {
    expect((await call(node.app, 'GET', '/v1/audit/keys', { who: 'admin' })).statusCode).toBe(200);
    for (const who of ['service', 'acmeAuditor', 'acmeAdmin'] as const) {
      expect(errorOf(await call(node.app, 'GET', '/v1/audit/keys', { who }))).toEqual({
        status: 403,
        code: 'forbidden',
      });
    }
    expect(errorOf(await call(node.app, 'GET', '/v1/audit/keys', { who: null }))).toEqual({
      status: 401,
      code: 'unauthorized',
    });
  });
});

describe('GET /v1/audit/segments', () => {
  const url = (query: string) => `/v1/audit/segments?origin=${encodeURIComponent(origin)}${query}`;

  it('pages the log in order; each segment chains onto the one before and verifies with the node’s key', async () => {
    const keys = (await call(node.app, 'GET', '/v1/audit/keys', { who: 'auditor' })).json().keys;
    const key = new Uint8Array(Buffer.from(keys.eu, 'base64'));
    const crypto = testCrypto();
    let after = 0;
    let previous = ZERO_HASH;
    const seen: number[] = [];
    for (;;) {
      const response = await call(node.app, 'GET', url(`&after=${after}&limit=2`), { who: 'auditor' });
      expect(response.statusCode).toBe(200);
      const page = response.json() as Page;
      expect(page.origin).toBe(origin);
      for (const segment of page.segments) {
        expect(segment.firstSeq).toBe(after + 1);
        const hash = segmentHash(crypto, previous, new Uint8Array(Buffer.from(segment.bytes, 'base64')));
        expect(Buffer.from(hash).toString('hex')).toBe(segment.hash);
        const signing = headSigningBytes('test', origin, segment.lastSeq, hash);
        expect(crypto.verify(key, signing, new Uint8Array(Buffer.from(segment.signature, 'hex')))).toBe(true);
        previous = hash;
        after = segment.lastSeq;
        seen.push(segment.lastSeq);
      }
      if (page.next === null) break;
      expect(page.segments).toHaveLength(2);
      expect(page.next).toBe(after);
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // The log's end is the snapshot's head.
    const snapshot = (await call(node.app, 'GET', '/v1/snapshot', { who: 'auditor' })).json();
    expect(snapshot.heads[origin]).toMatchObject({
      seq: COMMITS,
      hash: Buffer.from(previous).toString('hex'),
    });
  });

  it('starts at the segment that holds seq after + 1, and past the end answers an empty last page', async () => {
    const page = (await call(node.app, 'GET', url('&after=3'), { who: 'admin' })).json() as Page;
    expect(page.segments.map((segment) => segment.firstSeq)).toEqual([4, 5, 6, 7]);
    expect(page.next).toBeNull();
    const past = (await call(node.app, 'GET', url('&after=99'), { who: 'admin' })).json() as Page;
    expect(past).toEqual({ origin, segments: [], next: null });
  });

  it('refuses a bad query with invalid_request and an origin it never heard of with not_found; changes nothing', async () => {
    const before = await fingerprint(node.replica);
    for (const query of [
      '/v1/audit/segments',
      '/v1/audit/segments?origin=eu',
      '/v1/audit/segments?origin=EU%23abcdefgh',
      `${url('&after=-1')}`,
      `${url('&after=1.5')}`,
      `${url('&after=99999999999999999')}`,
      `${url('&limit=0')}`,
      `${url(`&limit=${AUDIT_SEGMENTS_PAGE_MAX + 1}`)}`,
      `${url('&other=1')}`,
    ]) {
      expect(errorOf(await call(node.app, 'GET', query, { who: 'auditor' })), query).toEqual({
        status: 400,
        code: 'invalid_request',
      });
    }
    const unknown = await call(node.app, 'GET', '/v1/audit/segments?origin=us%23abcdefgh', {
      who: 'auditor',
    });
    expect(errorOf(unknown)).toEqual({ status: 404, code: 'not_found' });
    expect(unknown.json().error.details).toEqual({ origin: 'us#abcdefgh' });
    for (const who of ['service', 'acmeAuditor'] as const) {
      expect(errorOf(await call(node.app, 'GET', url(''), { who }))).toEqual({
        status: 403,
        code: 'forbidden',
      });
    }
    expect(await fingerprint(node.replica)).toBe(before);
  });

  it('takes the origin pattern from core’s ids, and a page is one store read that always holds a whole segment', () => {
    expect(new RegExp(ORIGIN_PATTERN).test(origin)).toBe(true);
    expect(AUDIT_SEGMENTS_PAGE_MAX).toBe(LOG_PAGE_SEGMENTS_MAX);
    expect(AUDIT_PAGE_BYTES_MAX).toBeGreaterThanOrEqual(SEGMENT_BYTES_MAX);
  });
});

describe('the snapshot body', () => {
  it('is what snapshotJsonText writes for the replica’s snapshot, byte for byte, across chunks of tenants', async () => {
    const many = await testNode();
    try {
      const grants = Array.from({ length: SNAPSHOT_CHUNK_TENANTS + 3 }, (_, index) =>
        call(many.app, 'POST', `/v1/tenants/t${index}/grants`, { body: { grantId: 'g', amount: index + 1 } }),
      );
      expect((await Promise.all(grants)).every((response) => response.statusCode === 201)).toBe(true);
      for (const app of [node, many]) {
        const response = await call(app.app, 'GET', '/v1/snapshot', { who: 'auditor' });
        expect(response.body).toBe(snapshotJsonText(await app.replica.snapshot()));
      }
    } finally {
      await many.close();
    }
  });
});

describe('GET /v1/audit/checkpoint', () => {
  it('is 404 until the node writes one, then serves its newest, signed by the node over cluster, vector and hash', async () => {
    expect(errorOf(await call(node.app, 'GET', '/v1/audit/checkpoint', { who: 'auditor' }))).toEqual({
      status: 404,
      code: 'not_found',
    });
    expect(await node.replica.takeCheckpoint()).toBe(true);
    const response = await call(node.app, 'GET', '/v1/audit/checkpoint', { who: 'auditor' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    const body = response.json() as {
      vector: Record<string, number>;
      hash: string;
      signature: string;
      bytes: string;
    };
    expect(Object.keys(body).sort()).toEqual(['bytes', 'hash', 'signature', 'vector']);
    expect(body.vector).toEqual(node.replica.versionVector());
    const bytes = new Uint8Array(Buffer.from(body.bytes, 'base64'));
    expect(Buffer.from(bytes).toString('base64')).toBe(body.bytes);
    const crypto = testCrypto();
    expect(Buffer.from(crypto.hash(bytes)).toString('hex')).toBe(body.hash);
    const heads = checkpointHeads(bytes);
    expect(Object.fromEntries([...heads].map(([o, head]) => [o, head.seq]))).toEqual(body.vector);
    const key = new Uint8Array(
      Buffer.from(
        (await call(node.app, 'GET', '/v1/audit/keys', { who: 'auditor' })).json().keys.eu,
        'base64',
      ),
    );
    const signing = checkpointSigningBytes(
      'test',
      body.vector,
      new Uint8Array(Buffer.from(body.hash, 'hex')),
    );
    expect(crypto.verify(key, signing, new Uint8Array(Buffer.from(body.signature, 'hex')))).toBe(true);

    // A newer one replaces it once more events are in.
    await debit(node.app, 'acme', 1, 'k-after-checkpoint');
    expect(await node.replica.takeCheckpoint()).toBe(true);
    const newer = (await call(node.app, 'GET', '/v1/audit/checkpoint', { who: 'admin' })).json();
    expect(newer.vector[origin]).toBe((body.vector[origin] as number) + 1);
  });

  it('is for auditors and admins only, never a scoped token or a service', async () => {
    for (const who of ['service', 'acmeAuditor', 'acmeAdmin'] as const) {
      expect(errorOf(await call(node.app, 'GET', '/v1/audit/checkpoint', { who }))).toEqual({
        status: 403,
        code: 'forbidden',
      });
    }
  });
});
