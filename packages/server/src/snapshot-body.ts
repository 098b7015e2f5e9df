/**
 * The JSON body of GET /v1/snapshot, as `allot audit verify` rebuilds it from a refold to compare
 * byte for byte. Pure: no I/O, no clock. The route (routes/snapshot.ts) streams these very chunks;
 * test/routes/audit.test.ts holds the two to the same bytes.
 */
import type { SnapshotHeader, SnapshotTenant } from '@allot/replica';
import { SNAPSHOT_CHUNK_TENANTS } from './limits.js';
import { snapshotHeaderJson, snapshotTenantJson } from './views.js';

/** The JSON body of a snapshot whose header is `header` (its JSON object), in chunks to stream. */
export function* snapshotJsonChunks(header: object, tenants: readonly SnapshotTenant[]): Generator<string> {
  const head = JSON.stringify(header);
  yield `${head.slice(0, -1)},"tenants":[`;
  for (let from = 0; from < tenants.length; from += SNAPSHOT_CHUNK_TENANTS) {
    const lines = tenants
      .slice(from, from + SNAPSHOT_CHUNK_TENANTS)
      .map((tenant) => JSON.stringify(snapshotTenantJson(tenant)));
    yield (from === 0 ? '' : ',') + lines.join(',');
  }
  yield ']}';
}

/** The whole JSON body of GET /v1/snapshot for this snapshot, as one string. */
export function snapshotJsonText(snapshot: {
  readonly header: SnapshotHeader;
  readonly tenants: readonly SnapshotTenant[];
}): string {
  let text = '';
  for (const chunk of snapshotJsonChunks(snapshotHeaderJson(snapshot.header), snapshot.tenants))
    text += chunk;
  return text;
}
