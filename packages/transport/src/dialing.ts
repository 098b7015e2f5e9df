/**
 * The dialing side of the transport: a WebSocket to a configured peer's URL that takes only
 * handshake-sized messages until the acceptor is proven, over TLS 1.3 with the node's certificate
 * when TLS is configured, and reports the remote address and the TLS channel binding on upgrade.
 */
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { normalizeAddress } from './admission.js';
import { HANDSHAKE_BYTES_MAX } from './limits.js';
import type { TransportTls } from './options.js';
import { channelBinding } from './sockets.js';

/**
 * Opens a WebSocket to `url`. `upgraded` gets the remote address (normalized) and the channel
 * binding (null on plain ws) once the HTTP upgrade succeeded, before the socket opens.
 */
export function dialSocket(
  url: string,
  options: { readonly tls: TransportTls | null; readonly handshakeTimeoutMs: number },
  upgraded: (address: string, channel: Uint8Array | null) => void,
): WebSocket {
  const { tls } = options;
  const ws = new WebSocket(url, {
    // The acceptor is not proven yet either: the frame limit comes with its signature.
    maxPayload: HANDSHAKE_BYTES_MAX,
    perMessageDeflate: false,
    handshakeTimeout: options.handshakeTimeoutMs,
    followRedirects: false,
    // TLS 1.3 only: its exporter is bound to the whole handshake (RFC 8446 §7.5), which the
    // channel binding of the transcript relies on.
    ...(tls === null ? {} : { ca: tls.ca, cert: tls.cert, key: tls.key, minVersion: 'TLSv1.3' as const }),
  });
  ws.on('upgrade', (response) => {
    const socket: Socket = response.socket;
    upgraded(normalizeAddress(socket.remoteAddress ?? 'unknown'), channelBinding(socket));
  });
  return ws;
}
