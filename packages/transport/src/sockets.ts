/**
 * What the transport needs of sockets beyond the ws API: the TLS channel binding, raising a
 * socket's message limit after authentication, close reasons that fit a close frame, and bare HTTP
 * refusals of an upgrade.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { RawData, WebSocket } from 'ws';
import { CHANNEL_BINDING_BYTES, CLOSE_REASON_BYTES_MAX } from './limits.js';
import { CHANNEL_EXPORTER_LABEL } from './protocol.js';

/** `reason` cut to what a close frame may carry (printable ASCII, so no character is split). */
export function closeReason(reason: string): string {
  return reason.replace(/[^\x20-\x7e]/g, '?').slice(0, CLOSE_REASON_BYTES_MAX);
}

/**
 * The TLS exporter value of `socket` (CHANNEL_EXPORTER_LABEL), the same at both ends of one TLS
 * session; null for a plain socket.
 */
export function channelBinding(socket: unknown): Uint8Array | null {
  if (!(socket instanceof TLSSocket)) return null;
  return new Uint8Array(
    socket.exportKeyingMaterial(CHANNEL_BINDING_BYTES, CHANNEL_EXPORTER_LABEL, Buffer.alloc(0)),
  );
}

/**
 * Sets the largest message `ws` accepts from now on. `ws` fixes it per socket when the socket is
 * made; a socket starts at the handshake's limit and gets the frame limit once its peer is
 * authenticated. This reaches into ws's receiver (ws is pinned, and the limit tests fail if the field moves).
 */
export function setMaxPayload(ws: WebSocket, bytes: number): void {
  const receiver = (ws as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver;
  if (receiver === undefined || typeof receiver._maxPayload !== 'number') {
    throw new Error('this version of ws has no per-socket maxPayload to raise after the handshake');
  }
  receiver._maxPayload = bytes;
}

/** The bytes of a ws message as one Uint8Array. */
export function rawBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

/** A listener of an HTTP server's `upgrade` event. */
export type UpgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** Answers an upgrade request with a bare HTTP status and closes the socket once it is written. */
export function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
