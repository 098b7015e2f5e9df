/**
 * Who may start a replication handshake (issue 9 items 4 and 6): an upgrade over TLS needs a client
 * certificate the server verified against the cluster CA (and with `tls` configured, a plain one
 * is refused), then a pending-handshake slot (admission.ts) for its remote address. Addresses of
 * configured peer URLs, and those a peer authenticated from, may use the slots reserved for peers.
 * Refusals are answered with a bare HTTP status; each kind is logged at warn once until a
 * handshake gets through again, so a flood cannot flood the log.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { Logger } from '@allot/replica';
import { HandshakeSlots, normalizeAddress } from './admission.js';
import {
  HANDSHAKES_PENDING_MAX,
  HANDSHAKES_PENDING_PER_ADDRESS_MAX,
  HANDSHAKES_RESERVED_FOR_PEERS,
  PEER_ADDRESSES_MAX,
} from './limits.js';
import { channelBinding, refuseUpgrade } from './sockets.js';

/** An upgrade let through: it holds a slot until `release` (called at most once to effect). */
export interface Admission {
  readonly address: string;
  /** The TLS exporter value of its socket, or null on plain ws. */
  readonly channel: Uint8Array | null;
  /** Gives the slot back; later calls do nothing. */
  release(): void;
}

/** The checks in front of the acceptor. */
export class UpgradeGate {
  private readonly slots = new HandshakeSlots({
    total: HANDSHAKES_PENDING_MAX,
    reservedForPeers: HANDSHAKES_RESERVED_FOR_PEERS,
    perAddress: HANDSHAKES_PENDING_PER_ADDRESS_MAX,
  });
  private readonly configured: ReadonlySet<string>;
  /** Per region, the addresses it authenticated from, newest last. */
  private readonly learned = new Map<string, string[]>();
  /** Kinds of refusal logged at warn since a handshake last got through. */
  private readonly logged = new Set<string>();

  constructor(
    private readonly logger: Logger,
    /** True when `tls` is configured: plain upgrades are refused. */
    private readonly tlsRequired: boolean,
    configuredAddresses: Iterable<string>,
  ) {
    this.configured = new Set(configuredAddresses);
  }

  /** Lets `request` through with a slot, or answers `socket` with a refusal (logged) and returns null. */
  admit(request: IncomingMessage, socket: Duplex): Admission | null {
    const address = normalizeAddress(request.socket.remoteAddress ?? 'unknown');
    const tlsSocket = request.socket instanceof TLSSocket ? request.socket : null;
    if (tlsSocket === null && this.tlsRequired) {
      this.refuse(socket, 403, 'Forbidden', address, 'replication upgrade refused: not over TLS');
      return null;
    }
    if (tlsSocket !== null && !tlsSocket.authorized) {
      // The server asked for a client certificate and checked it against the cluster's CA.
      this.refuse(
        socket,
        403,
        'Forbidden',
        address,
        'replication upgrade refused: no client certificate from the cluster CA',
        { error: String(tlsSocket.authorizationError ?? 'none') },
      );
      return null;
    }
    const knownPeer = this.isKnownPeer(address);
    const refusal = this.slots.take(address, knownPeer);
    if (refusal !== null) {
      this.refuse(
        socket,
        503,
        'Service Unavailable',
        address,
        refusal === 'full'
          ? 'replication upgrade refused: too many handshakes in flight'
          : 'replication upgrade refused: too many handshakes in flight from this address',
        { pending: this.slots.held },
      );
      return null;
    }
    let released = false;
    const release = () => {
      if (!released) this.slots.release(address, knownPeer);
      released = true;
    };
    // Whatever becomes of the upgrade, the slot goes with the socket at the latest.
    socket.once('close', release);
    return { address, channel: channelBinding(tlsSocket), release };
  }

  /** `region` authenticated from `address`: its next handshakes from there may use the reserve. */
  learn(region: string, address: string): void {
    const addresses = (this.learned.get(region) ?? []).filter((known) => known !== address);
    addresses.push(address);
    if (addresses.length > PEER_ADDRESSES_MAX) addresses.shift();
    this.learned.set(region, addresses);
    // A handshake got through: the next refusal of each kind is news again.
    this.logged.clear();
  }

  /**
   * The level to log a failure of a stranger at: warn the first time a `kind` is seen since a
   * handshake last got through, debug after. Kinds must be few (no text a stranger chose).
   */
  strangerLevel(kind: string, level: 'info' | 'warn'): 'debug' | 'info' | 'warn' {
    if (this.logged.has(kind)) return 'debug';
    this.logged.add(kind);
    return level;
  }

  private isKnownPeer(address: string): boolean {
    if (this.configured.has(address)) return true;
    for (const addresses of this.learned.values()) if (addresses.includes(address)) return true;
    return false;
  }

  private refuse(
    socket: Duplex,
    status: number,
    text: string,
    address: string,
    message: string,
    fields: Record<string, unknown> = {},
  ): void {
    this.logger[this.strangerLevel(message, 'warn')]({ remote: address, status, ...fields }, message);
    refuseUpgrade(socket, status, text);
  }
}
