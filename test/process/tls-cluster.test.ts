/**
 * Issue 9, item 6 against real node processes: three regions with `tls` config (a certificate
 * authority made in the test) serve HTTPS and replicate over wss:// on their one port; a debit at
 * one region is seen at the others, and a plain-HTTP client gets no answer. (A certificate of
 * another CA is refused by the transport: packages/transport/test/tls.test.ts.)
 */
import { writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { generateRegionKey, rawPublicKey } from '@allot/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portOutsideEphemeral } from '../../bench/relay.mjs';
import {
  makeCertificateAuthority,
  type TestCertificateAuthority,
} from '../../packages/transport/test/tls-support.js';
import {
  eventually,
  type NodeProcess,
  removeDir,
  startNodeProcess,
  TOKENS,
  tempDir,
} from './node-process.js';

const REGIONS = ['eu', 'us', 'ap'] as const;
const nodes = new Map<string, NodeProcess>();
const dirs: string[] = [];
let authority: TestCertificateAuthority;

/** JSON over HTTPS, trusting only the test's CA. */
function callTls(
  url: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const outgoing = request(
      `${url}${path}`,
      {
        method,
        ca: authority.ca,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: text === '' ? null : JSON.parse(text) }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}

const url = (region: string) => nodes.get(region)?.url as string;

beforeAll(async () => {
  authority = makeCertificateAuthority();
  const ports = new Map<string, number>();
  const keys = new Map<string, string>();
  const dirOf = new Map<string, string>();
  for (const region of REGIONS) {
    ports.set(region, await portOutsideEphemeral());
    const dir = tempDir(`tls-${region}`);
    dirs.push(dir);
    dirOf.set(region, dir);
    const key = generateRegionKey();
    writeFileSync(join(dir, 'region.key'), key.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    keys.set(region, Buffer.from(rawPublicKey(key)).toString('base64'));
    const certificate = authority.issue(region);
    writeFileSync(join(dir, 'node.crt'), certificate.cert);
    writeFileSync(join(dir, 'node.key'), certificate.key, { mode: 0o600 });
    writeFileSync(join(dir, 'ca.crt'), authority.ca);
  }
  await Promise.all(
    REGIONS.map(async (region) => {
      const node = await startNodeProcess({
        region,
        dataDir: dirOf.get(region),
        extra: {
          listen: { host: '127.0.0.1', port: ports.get(region) },
          // Relative paths: resolved against the config file's folder.
          tls: { cert: 'node.crt', key: 'node.key', ca: 'ca.crt' },
          peers: REGIONS.filter((peer) => peer !== region).map((peer) => ({
            region: peer,
            url: `wss://127.0.0.1:${ports.get(peer)}/v1/replication`,
            publicKey: keys.get(peer),
          })),
        },
      });
      nodes.set(region, node);
    }),
  );
}, 60_000);

afterAll(async () => {
  await Promise.all(
    [...nodes.values()].map(async (node) => {
      if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGTERM');
      await node.exited;
    }),
  );
  for (const dir of dirs) removeDir(dir);
});

describe('a cluster with tls', () => {
  it('serves HTTPS, links every region over wss://, and shows a debit at one region at the others', async () => {
    for (const region of REGIONS) expect(url(region)).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    await eventually(
      () =>
        Promise.all(
          REGIONS.map(
            async (region) => (await callTls(url(region), TOKENS.auditor, 'GET', '/v1/cluster')).body,
          ),
        ),
      (views) =>
        views.every(
          (view) =>
            (view as { peers?: { connected: boolean }[] }).peers?.every((peer) => peer.connected) === true,
        ),
    );
    const granted = await callTls(url('eu'), TOKENS.admin, 'POST', '/v1/tenants/tls-acme/grants', {
      grantId: 'g1',
      amount: 90_000,
    });
    expect(granted.status).toBe(201);
    // Wait until us holds rights of the grant (a debit there is decided by us alone).
    await eventually(
      () => callTls(url('us'), TOKENS.auditor, 'GET', '/v1/tenants/tls-acme/balance'),
      (answer) => answer.status === 200 && (answer.body as { balance: number }).balance === 90_000,
    );
    const debited = await callTls(url('us'), TOKENS.service, 'POST', '/v1/tenants/tls-acme/debits', {
      amount: 1_234,
      idempotencyKey: 'over-tls-1',
      metadata: { customer: 'data that must not travel in clear' },
    });
    expect(debited.status).toBe(201);
    for (const region of ['eu', 'ap']) {
      const seen = await eventually(
        () => callTls(url(region), TOKENS.auditor, 'GET', '/v1/tenants/tls-acme/balance'),
        (answer) => answer.status === 200 && (answer.body as { debited: number }).debited === 1_234,
      );
      expect(seen.body).toMatchObject({ balance: 90_000 - 1_234, debited: 1_234 });
    }
  }, 60_000);

  it('answers no plain-HTTP request on the TLS port', async () => {
    const plain = url('eu').replace('https://', 'http://');
    await expect(fetch(`${plain}/healthz`)).rejects.toThrow();
    expect((await callTls(url('eu'), TOKENS.auditor, 'GET', '/healthz')).status).toBe(200);
  });
});
