/**
 * The bytes of wire messages: MessagePack (msgpackr) of plain maps, shape-checked both ways.
 * Encoding refuses a malformed message (UnsendableMessageError: a bug of the sender); decoding
 * answers a problem instead of a message for bytes that are not a well-formed message, so the
 * transport can close the link without touching the replica.
 *
 * The msgpackr traps it avoids (the store's encoding.ts avoids the same ones):
 * - No records or shared structures: every map carries its keys, so each message decodes alone.
 * - Bytes: msgpackr writes any typed array as `bin`, truncating wider elements, and decodes `bin` as
 *   a Buffer view into the read buffer. Only Uint8Array is accepted, and every decoded byte field is
 *   copied into a fresh Uint8Array.
 * - Numbers: integers past 2^32 go out as float64, exact up to 2^53 − 1; a uint64 from elsewhere
 *   decodes as a bigint and fails the shape check instead of losing precision.
 * - Debit metadata travels as its JSON text (`metadataJson`): msgpackr renames a `__proto__` key and
 *   replaces lone surrogates, so arbitrary client JSON would not arrive as written and its chain
 *   hash would no longer verify. JSON text carries every JSON value exactly.
 */
import { isPlainRecord, MSGPACKR_OPTIONS } from '@allot/replica';
import { Packr } from 'msgpackr';
import { messageProblem, type WireMessage } from './protocol.js';

const packr = new Packr(MSGPACKR_OPTIONS);

/** A debit's metadata on the wire, as JSON text (see the file's doc). */
const METADATA_JSON = 'metadataJson';

/** The sender was about to send a message that no peer would accept: a bug, never a peer's fault. */
export class UnsendableMessageError extends Error {
  override readonly name = 'UnsendableMessageError';
}

/** A decoded message, or why the bytes are not one. */
export type DecodeResult =
  | { readonly message: WireMessage; readonly problem: null }
  | { readonly message: null; readonly problem: string };

type Fields = Record<string, unknown>;

/** The event as sent: `metadata` replaced by its JSON text in place, field order kept. */
function wireEvent(event: Fields): Fields {
  if (!Object.hasOwn(event, 'metadata')) return event;
  const fields: Fields = {};
  for (const key of Object.keys(event)) {
    if (key === 'metadata') fields[METADATA_JSON] = JSON.stringify(event.metadata);
    else fields[key] = event[key];
  }
  return fields;
}

/** The bytes of `message`; an UnsendableMessageError if it is malformed. */
export function encodeMessage(message: WireMessage): Uint8Array {
  const problem = messageProblem(message);
  if (problem !== null) throw new UnsendableMessageError(`cannot send a malformed message: ${problem}`);
  const record =
    message.type === 'events'
      ? {
          ...message,
          events: message.events.map((wire) => ({
            ...wire,
            event: wireEvent(wire.event as unknown as Fields),
          })),
        }
      : message;
  // msgpackr packs into a buffer it reuses for the next message; the socket may still queue this one.
  return new Uint8Array(packr.pack(record));
}

function copyBytes(value: unknown): unknown {
  return value instanceof Uint8Array ? new Uint8Array(value) : value;
}

/** A decoded value with its wire-only forms undone, or why they cannot be. */
type Restored = { readonly value: unknown; readonly problem: null } | { readonly problem: string };

function refused(problem: string): Restored {
  return { problem };
}

/** `event` with its metadata JSON text parsed back. */
function restoreEvent(event: unknown): Restored {
  if (!isPlainRecord(event)) return { value: event, problem: null };
  if (Object.hasOwn(event, 'metadata')) return refused('an event carries metadata other than as JSON text');
  if (!Object.hasOwn(event, METADATA_JSON)) return { value: event, problem: null };
  const text = event[METADATA_JSON];
  if (typeof text !== 'string') return refused('an event carries metadata JSON that is not a string');
  const fields: Fields = {};
  for (const key of Object.keys(event)) {
    if (key !== METADATA_JSON) {
      fields[key] = event[key];
      continue;
    }
    try {
      fields.metadata = JSON.parse(text);
    } catch (error) {
      return refused(
        `an event carries metadata that is not JSON: ${error instanceof Error ? error.message : error}`,
      );
    }
  }
  return { value: fields, problem: null };
}

/** The message with fresh byte fields and parsed metadata, or why it cannot be restored. */
function restore(decoded: unknown): Restored {
  if (!isPlainRecord(decoded)) return { value: decoded, problem: null };
  const message: Fields = { ...decoded };
  for (const field of ['nonce', 'signature', 'control', 'message'] as const) {
    if (Object.hasOwn(message, field)) message[field] = copyBytes(message[field]);
  }
  if (message.type === 'events' && Array.isArray(message.events)) {
    const events: unknown[] = [];
    for (const wire of message.events as unknown[]) {
      if (!isPlainRecord(wire)) {
        events.push(wire);
        continue;
      }
      const event = restoreEvent(wire.event);
      if (event.problem !== null) return event;
      events.push({
        ...wire,
        event: event.value,
        hash: copyBytes(wire.hash),
        signature: copyBytes(wire.signature),
      });
    }
    message.events = events;
  }
  return { value: message, problem: null };
}

/**
 * The message in `bytes`, shape-checked, or the problem with it. Nothing of `bytes` is kept: every
 * byte field of the message is a fresh Uint8Array.
 */
export function decodeMessage(bytes: Uint8Array): DecodeResult {
  let decoded: unknown;
  try {
    decoded = packr.unpack(bytes);
  } catch (error) {
    return { message: null, problem: `not MessagePack: ${error instanceof Error ? error.message : error}` };
  }
  const restored = restore(decoded);
  if (restored.problem !== null) return { message: null, problem: restored.problem };
  const problem = messageProblem(restored.value);
  return problem === null
    ? { message: restored.value as WireMessage, problem: null }
    : { message: null, problem };
}
