/**
 * Reading records back from the log (cold-records.ts `recallRecords`): an indexed event is found
 * pending or stored, or the read fails loudly. "No record" would take a replayed key for a new one.
 */
import { eventRecordId, type OriginId } from '@allot/core';
import { describe, expect, it } from 'vitest';
import { IndexedEventMissing, type RecallSource, recallRecords } from '../src/cold-records.js';
import type { Store } from '../src/ports.js';

/** A store holding nothing but the log bases given. */
const emptyStore = (bases: { origin: string; seq: number }[] = []): Store =>
  ({
    readSegments: async () => [],
    bases: async () => bases,
  }) as unknown as Store;

const source = (store: Store): RecallSource => ({ store, pending: () => [null] });

describe('recallRecords', () => {
  it('an indexed event neither pending nor stored is an error naming it, never "no record"', async () => {
    const id = eventRecordId('eu#aaaaaaaa' as OriginId, 12);
    const read = recallRecords(source(emptyStore()), [id], undefined);
    await expect(read).rejects.toBeInstanceOf(IndexedEventMissing);
    await expect(read).rejects.toThrow(`event ${id} is indexed but neither pending nor stored`);
  });

  it('an event below the log base this node joined from is unknown here, also an error', async () => {
    const id = eventRecordId('eu#aaaaaaaa' as OriginId, 12);
    const read = recallRecords(source(emptyStore([{ origin: 'eu#aaaaaaaa', seq: 40 }])), [id], undefined);
    await expect(read).rejects.toThrow('before the checkpoint this node joined from');
  });

  it('an id that names no event is recalled as no record', async () => {
    const recalled = await recallRecords(source(emptyStore()), ['not-an-event-id'], undefined);
    expect(recalled?.get('not-an-event-id')).toBeNull();
  });
});
