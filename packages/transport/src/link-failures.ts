/**
 * The log lines of connections that failed: a peer refusing or unreachable for hours is logged
 * once, not at every redial, and a flood of strangers' failures once per kind (upgrade-gate.ts).
 */
import type { Logger } from '@allot/replica';
import type { Connection } from './connection.js';
import type { PeerState } from './peer-state.js';
import type { UpgradeGate } from './upgrade-gate.js';

/** Logs failed connections, each repeat of the same failure with the same peer at debug. */
export class LinkFailures {
  constructor(
    private readonly logger: Logger,
    private readonly gate: UpgradeGate,
    private readonly peerOf: (region: string) => PeerState | undefined,
  ) {}

  /** Logs why a connection that the peer (or the network) closed never came up. */
  closedInHandshake(connection: Connection, code: number, reason: string): void {
    // A close frame from the peer is its refusal; none (1005, 1006) means the network or the peer is gone.
    const refused = code !== 1005 && code !== 1006;
    const message = refused
      ? 'replication handshake refused by the peer'
      : connection.dialed
        ? 'peer unreachable, will retry'
        : 'replication connection lost during the handshake';
    const fields = {
      peer: connection.region,
      dialed: connection.dialed,
      code,
      reason,
      error: connection.error,
    };
    if (!refused && !connection.dialed) {
      // Someone connected and left before the handshake was through: not news.
      this.logger.debug(fields, message);
      return;
    }
    this.log(connection, refused ? 'warn' : 'info', fields, message);
  }

  /**
   * Logs a failed connection at `level`, or at debug when it is the same failure as the last one
   * with this peer: a peer refusing or unreachable for hours is logged once, not at every redial.
   */
  log(
    connection: Connection,
    level: 'info' | 'warn',
    fields: Record<string, unknown>,
    message: string,
  ): void {
    const peer = connection.region === null ? undefined : this.peerOf(connection.region);
    if (peer === undefined) {
      // A stranger: the first failure of each kind is news, a flood of them is not. Keyed by the
      // code only, as the reason may carry the stranger's text (the set stays a handful of keys).
      this.logger[this.gate.strangerLevel(`${message} ${String(fields.code)}`, level)](fields, message);
      return;
    }
    const failure = `${message} ${String(fields.code)} ${String(fields.reason)}`;
    const direction = connection.dialed ? 'dialed' : 'accepted';
    this.logger[failure === peer.lastFailure[direction] ? 'debug' : level](fields, message);
    peer.lastFailure[direction] = failure;
  }
}
