/**
 * `allot snapshot --url URL --token T [--ndjson] [--at <version vector JSON>]`: reads a node's
 * merged balance snapshot, now or at a version vector.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseVersionVector } from '@allot/replica';

/** What went wrong reading a snapshot, in one line. */
export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
}

/**
 * Streams the snapshot of the node at `url` to `out` (JSON, or NDJSON with `ndjson`); with `at`
 * (a version vector's JSON, checked here first), the snapshot at that vector.
 */
export async function readSnapshot(
  url: string,
  token: string,
  ndjson: boolean,
  out: NodeJS.WritableStream,
  at?: string,
): Promise<void> {
  let endpoint: URL;
  try {
    endpoint = new URL('/v1/snapshot', url);
  } catch {
    throw new SnapshotError(`--url: not a URL: ${url}`);
  }
  if (at !== undefined) {
    const parsed = parseVersionVector(at);
    if ('problem' in parsed) throw new SnapshotError(`--at: ${parsed.problem}`);
    endpoint.searchParams.set('at', JSON.stringify(parsed.vector));
  }
  let response: Response;
  try {
    response = await fetch(endpoint, {
      headers: {
        authorization: `Bearer ${token}`,
        accept: ndjson ? 'application/x-ndjson' : 'application/json',
      },
    });
  } catch (error) {
    throw new SnapshotError(`${endpoint.origin}: ${(error as Error).cause ?? (error as Error).message}`);
  }
  if (!response.ok || response.body === null) {
    const text = await response.text();
    let detail = text.slice(0, 300);
    try {
      const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
      if (body.error?.code !== undefined) detail = `${body.error.code}: ${body.error.message ?? ''}`;
    } catch {
      // not JSON: show the text as it came
    }
    throw new SnapshotError(`${endpoint.href}: HTTP ${response.status}: ${detail}`);
  }
  await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), out, {
    end: false,
  });
  if (!ndjson) out.write('\n');
}
