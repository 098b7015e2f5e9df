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
 * - Events travel inside segments (core's segment codec): msgpackr sees only their bytes, so it
 *   never re-encodes an event (nor debit metadata, which it would alter: a `__proto__` key, lone
 *   surrogates), and a segment arrives as the very bytes its origin signed.
 */
import { isPlainRecord, MSGPACKR_OPTIONS } from '@allot/replica';
import { Packr } from 'msgpackr';
import { messageProblem, type WireMessage } from './protocol.js';

const packr = new Packr(MSGPACKR_OPTIONS);

/** The sender was about to send a message that no peer would accept: a bug, never a peer's fault. */
export class UnsendableMessageError extends Error {
  override readonly name = 'UnsendableMessageError';
}

/** A decoded message, or why the bytes are not one. */
export type DecodeResult =
  | { readonly message: WireMessage; readonly problem: null }
  | { readonly message: null; readonly problem: string };

type Fields = Record<string, unknown>;

/** The bytes of `message`; an UnsendableMessageError if it is malformed. */
export function encodeMessage(message: WireMessage): Uint8Array {
  const problem = messageProblem(message);
  if (problem !== null) throw new UnsendableMessageError(`cannot send a malformed message: ${problem}`);
  // msgpackr packs into a buffer it reuses for the next message; the socket may still queue this one.
  return new Uint8Array(packr.pack(message));
}

function copyBytes(value: unknown): unknown {
  return value instanceof Uint8Array ? new Uint8Array(value) : value;
}

/** The message with fresh byte fields (nothing kept of the read buffer). */
function restore(decoded: unknown): unknown {
  if (!isPlainRecord(decoded)) return decoded;
  const message: Fields = { ...decoded };
  for (const field of ['nonce', 'signature', 'control', 'message', 'hash', 'bytes'] as const) {
    if (Object.hasOwn(message, field)) message[field] = copyBytes(message[field]);
  }
  if (message.type === 'segments' && Array.isArray(message.segments)) {
    message.segments = (message.segments as unknown[]).map((wire) =>
      isPlainRecord(wire)
        ? { ...wire, bytes: copyBytes(wire.bytes), signature: copyBytes(wire.signature) }
        : wire,
    );
  }
  return message;
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
  const problem = messageProblem(restored);
  return problem === null ? { message: restored as WireMessage, problem: null } : { message: null, problem };
}
