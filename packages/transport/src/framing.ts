/**
 * Framing and backpressure on one authenticated socket: a frame is encoded and bounded in bytes, a
 * `segments` run too long for one frame goes as consecutive frames of whole segments (split-run.ts),
 * and nothing is written past the send buffer's bound: a full buffer answers false, never queues.
 */
import { type ReplicationFrame, SEGMENTS_PER_FRAME_MAX } from '@allot/replica';
import { WebSocket } from 'ws';
import { encodeMessage, UnsendableMessageError } from './codec.js';
import type { WireMessage } from './protocol.js';
import { splitRun } from './split-run.js';

/** The bounds a socket's writes keep to. */
export interface FramingLimits {
  readonly frameBytesMax: number;
  readonly sendBufferBytesMax: number;
}

/**
 * Sends `frame` on `ws`, all of its pieces or none; false when the socket is not open or its send
 * buffer cannot take them. A frame that cannot be sent at all throws UnsendableMessageError (a bug
 * of the sender).
 */
export function sendFrame(ws: WebSocket, frame: ReplicationFrame, limits: FramingLimits): boolean {
  if (ws.readyState !== WebSocket.OPEN) return false;
  if (ws.bufferedAmount >= limits.sendBufferBytesMax) return false;
  const pieces = framePieces(frame, limits.frameBytesMax);
  const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
  if (ws.bufferedAmount + total > limits.sendBufferBytesMax) return false;
  for (const piece of pieces) ws.send(piece);
  return true;
}

/** The encoded messages `frame` goes as: one, or a long `segments` run split at whole segments. */
export function framePieces(frame: ReplicationFrame, frameBytesMax: number): readonly Uint8Array[] {
  if (frame.type === 'segments' && frame.segments.length > SEGMENTS_PER_FRAME_MAX) {
    return splitSegments(frame, frameBytesMax);
  }
  const bytes = encodeMessage(frame);
  if (bytes.length <= frameBytesMax) return [bytes];
  if (frame.type === 'segments') return splitSegments(frame, frameBytesMax);
  throw new UnsendableMessageError(
    `a ${frame.type} frame of ${bytes.length} bytes is over the frame limit of ${frameBytesMax}`,
  );
}

function splitSegments(
  frame: Extract<ReplicationFrame, { type: 'segments' }>,
  frameBytesMax: number,
): readonly Uint8Array[] {
  const split = splitRun(frame, frameBytesMax, encodeMessage);
  if (split.problem !== null) throw new UnsendableMessageError(split.problem);
  return split.pieces;
}

/**
 * Sends a transport message (handshake, ping, pong). They are tiny, but a peer flooding pings must
 * not grow our buffer past its bound: with the buffer full, the message is skipped (false; the
 * round trip just waits).
 */
export function postMessage(ws: WebSocket, message: WireMessage, sendBufferBytesMax: number): boolean {
  if (ws.readyState !== WebSocket.OPEN) return false;
  if (ws.bufferedAmount >= sendBufferBytesMax) return false;
  ws.send(encodeMessage(message));
  return true;
}
