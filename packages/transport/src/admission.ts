/**
 * Who may open a handshake (DESIGN.md §4, issue 9 item 4): accepted connections not yet
 * authenticated hold a slot each. Strangers share all but a reserve of the slots, and each of their
 * addresses at most a few; connections from a known peer address (a configured peer URL's IP, or
 * one a peer authenticated from) may also use the reserve and are not capped per address. Pure
 * bookkeeping: the transport asks before upgrading and releases when a connection leaves its
 * handshake (up or closed).
 */
import { isIP } from 'node:net';

/** The bounds of the slots (limits.ts has the defaults and why). */
export interface SlotLimits {
  readonly total: number;
  readonly reservedForPeers: number;
  readonly perAddress: number;
}

/** Why an upgrade gets no slot, or null when it got one. */
export type SlotRefusal = 'full' | 'address-full' | null;

/**
 * `address` as one spelling: an IPv4 address mapped into IPv6 (`::ffff:127.0.0.1`, what a
 * dual-stack server reports) as plain IPv4, IPv6 in lower case.
 */
export function normalizeAddress(address: string): string {
  const lower = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  return mapped === null ? lower : (mapped[1] as string);
}

/** True for a loopback host of a URL: localhost, 127.0.0.0/8 or ::1 (brackets allowed). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const normalized = normalizeAddress(bare);
  if (normalized === 'localhost') return true;
  if (isIP(normalized) === 4) return normalized.startsWith('127.');
  return isIP(normalized) === 6 && /^(0{0,4}:){7}0{0,3}1$|^::1$/.test(normalized);
}

/** The addresses a URL host stands for without a DNS lookup: an IP literal, or localhost's two. */
export function literalAddresses(host: string): string[] {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare.toLowerCase() === 'localhost') return ['127.0.0.1', '::1'];
  return isIP(bare) === 0 ? [] : [normalizeAddress(bare)];
}

/** The pending-handshake slots of one acceptor. */
export class HandshakeSlots {
  private readonly byAddress = new Map<string, number>();
  private strangers = 0;
  private peers = 0;

  constructor(private readonly limits: SlotLimits) {
    if (limits.reservedForPeers >= limits.total) {
      throw new TypeError('the slots reserved for peers must leave some for everyone else');
    }
  }

  /** Slots held in all. */
  get held(): number {
    return this.strangers + this.peers;
  }

  /** Takes a slot for a connection from `address` (`knownPeer`: a known peer address), if any is free. */
  take(address: string, knownPeer: boolean): SlotRefusal {
    if (this.held >= this.limits.total) return 'full';
    if (knownPeer) {
      this.peers++;
      return null;
    }
    if (this.strangers >= this.limits.total - this.limits.reservedForPeers) return 'full';
    const fromAddress = this.byAddress.get(address) ?? 0;
    if (fromAddress >= this.limits.perAddress) return 'address-full';
    this.byAddress.set(address, fromAddress + 1);
    this.strangers++;
    return null;
  }

  /** Gives back the slot `take` gave for the same arguments. */
  release(address: string, knownPeer: boolean): void {
    if (knownPeer) {
      this.peers--;
      return;
    }
    this.strangers--;
    const fromAddress = (this.byAddress.get(address) ?? 1) - 1;
    if (fromAddress === 0) this.byAddress.delete(address);
    else this.byAddress.set(address, fromAddress);
  }
}
