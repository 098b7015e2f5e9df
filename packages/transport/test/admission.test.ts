import { describe, expect, it } from 'vitest';
import { HandshakeSlots, isLoopbackHost, literalAddresses, normalizeAddress } from '../src/admission.js';
import {
  HANDSHAKES_PENDING_MAX,
  HANDSHAKES_PENDING_PER_ADDRESS_MAX,
  HANDSHAKES_RESERVED_FOR_PEERS,
} from '../src/limits.js';

const limits = {
  total: HANDSHAKES_PENDING_MAX,
  reservedForPeers: HANDSHAKES_RESERVED_FOR_PEERS,
  perAddress: HANDSHAKES_PENDING_PER_ADDRESS_MAX,
};

describe('handshake slots', () => {
  it(`gives one address ${HANDSHAKES_PENDING_PER_ADDRESS_MAX} slots, and one more once one is released`, () => {
    const slots = new HandshakeSlots(limits);
    for (let i = 0; i < HANDSHAKES_PENDING_PER_ADDRESS_MAX; i++)
      expect(slots.take('10.0.0.9', false)).toBeNull();
    expect(slots.take('10.0.0.9', false)).toBe('address-full');
    expect(slots.take('10.0.0.8', false)).toBeNull();
    slots.release('10.0.0.9', false);
    expect(slots.take('10.0.0.9', false)).toBeNull();
    expect(slots.held).toBe(HANDSHAKES_PENDING_PER_ADDRESS_MAX + 1);
  });

  it('keeps the reserve for known peer addresses, and caps everything at the total', () => {
    const slots = new HandshakeSlots(limits);
    const strangers = HANDSHAKES_PENDING_MAX - HANDSHAKES_RESERVED_FOR_PEERS;
    for (let i = 0; i < strangers; i++) expect(slots.take(`10.1.0.${i}`, false)).toBeNull();
    expect(slots.take('10.2.0.1', false)).toBe('full');
    // Peers are not capped per address (a loopback cluster shares one) but by the total.
    for (let i = 0; i < HANDSHAKES_RESERVED_FOR_PEERS; i++) expect(slots.take('127.0.0.1', true)).toBeNull();
    expect(slots.take('127.0.0.1', true)).toBe('full');
    slots.release('10.1.0.0', false);
    // A freed stranger slot is not a reserved one: a peer may take it, and then nobody else.
    expect(slots.take('127.0.0.1', true)).toBeNull();
    expect(slots.take('10.2.0.1', false)).toBe('full');
    slots.release('127.0.0.1', true);
    slots.release('127.0.0.1', true);
    expect(slots.take('10.2.0.1', false)).toBeNull();
    expect(slots.held).toBe(HANDSHAKES_PENDING_MAX - 1);
  });

  it('refuses a reserve that leaves nothing for anyone else', () => {
    expect(() => new HandshakeSlots({ total: 4, reservedForPeers: 4, perAddress: 1 })).toThrow(/reserved/);
  });
});

describe('addresses', () => {
  it('spells an IPv4-mapped address as IPv4', () => {
    expect(normalizeAddress('::ffff:10.0.0.2')).toBe('10.0.0.2');
    expect(normalizeAddress('FE80::1')).toBe('fe80::1');
  });

  it('knows loopback hosts, and nothing else', () => {
    for (const host of [
      'localhost',
      'LOCALHOST',
      '127.0.0.1',
      '127.255.0.9',
      '[::1]',
      '::1',
      '[::ffff:127.0.0.1]',
    ]) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of [
      '10.0.0.2',
      '128.0.0.1',
      'eu',
      'localhost.evil.com',
      '127.0.0.1.nip.io',
      '[::2]',
      '::',
    ]) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
  });

  it('takes the addresses of IP literals and localhost from URL hosts, none from names', () => {
    expect(literalAddresses('10.0.0.2')).toEqual(['10.0.0.2']);
    expect(literalAddresses('[::1]')).toEqual(['::1']);
    expect(literalAddresses('localhost')).toEqual(['127.0.0.1', '::1']);
    expect(literalAddresses('allot-eu')).toEqual([]);
  });
});
