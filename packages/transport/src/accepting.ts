/**
 * The accepting side of the transport: upgrade requests for /v1/replication on the HTTP servers it
 * is attached to go through the upgrade gate (TLS client certificate, pending-handshake slots) and
 * become WebSockets that take only handshake-sized messages; other paths are left to other
 * listeners, or answered 404 when there is none.
 */
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Logger } from '@allot/replica';
import { type WebSocket, WebSocketServer } from 'ws';
import { HANDSHAKE_BYTES_MAX } from './limits.js';
import { REPLICATION_PATH } from './protocol.js';
import { refuseUpgrade, type UpgradeListener } from './sockets.js';
import { type Admission, UpgradeGate } from './upgrade-gate.js';

/** What the acceptor asks of the transport. */
export interface AcceptorPorts {
  /** True when no upgrade is taken: the transport is closed, or has no handlers yet. */
  readonly refusing: () => boolean;
  /** True once the transport is closed (an upgrade that completes after it is let go). */
  readonly stopped: () => boolean;
  /** A WebSocket upgraded through the gate, holding `admission`'s slot. */
  readonly accepted: (ws: WebSocket, admission: Admission) => void;
}

/** Takes replication upgrades on the HTTP servers it is attached to. */
export class Acceptor {
  /** The checks in front of the acceptor; the transport teaches it the addresses peers proved. */
  readonly gate: UpgradeGate;
  private readonly acceptor: WebSocketServer;
  private readonly servers: { server: HttpServer | HttpsServer; listener: UpgradeListener }[] = [];

  constructor(
    private readonly logger: Logger,
    tlsRequired: boolean,
    configuredAddresses: Iterable<string>,
    private readonly ports: AcceptorPorts,
  ) {
    this.gate = new UpgradeGate(logger, tlsRequired, configuredAddresses);
    this.acceptor = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      // Strangers get the handshake's limit: a larger message is refused by its header, unread.
      // An authenticated peer's socket is raised to frameBytesMax (setMaxPayload).
      maxPayload: HANDSHAKE_BYTES_MAX,
      // Compression would trade CPU on every frame for little, and opens the door to inflation bombs.
      perMessageDeflate: false,
    });
  }

  /** Listens to `server`'s upgrade requests. */
  attachTo(server: HttpServer | HttpsServer): void {
    const listener: UpgradeListener = (request, socket, head) =>
      this.onUpgrade(server, request, socket, head);
    server.on('upgrade', listener);
    this.servers.push({ server, listener });
  }

  /** Stops listening to every server's upgrades and closes the acceptor (open sockets stay open). */
  close(): void {
    for (const { server, listener } of this.servers) server.off('upgrade', listener);
    this.acceptor.close();
  }

  private onUpgrade(
    server: HttpServer | HttpsServer,
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): void {
    let path: string;
    try {
      path = new URL(request.url ?? '/', 'http://localhost').pathname;
    } catch {
      path = '';
    }
    if (path !== REPLICATION_PATH) {
      // Another listener may serve this path; with none, nobody would ever answer the socket.
      if (server.listenerCount('upgrade') <= 1) refuseUpgrade(socket, 404, 'Not Found');
      return;
    }
    if (this.ports.refusing()) {
      refuseUpgrade(socket, 503, 'Service Unavailable');
      return;
    }
    const admission = this.gate.admit(request, socket);
    if (admission === null) return;
    this.acceptor.handleUpgrade(request, socket, head, (ws) => {
      if (this.ports.stopped()) {
        admission.release();
        ws.terminate();
        return;
      }
      this.ports.accepted(ws, admission);
      this.logger.debug({ remote: admission.address }, 'replication connection accepted');
    });
  }
}
