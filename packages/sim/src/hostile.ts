/**
 * A hostile wire (issue 15): while a `hostile` fault lasts, what one region sends on a link is
 * tampered with before the peer's transport sees it. The tampering works on the frame's bytes as a
 * real transport would carry them (MessagePack with the project's msgpackr options), so every frame
 * type, present or future, is covered without knowing its fields:
 * - `replay`: a frame sent earlier on the same connection arrives again (not one of an earlier
 *   connection: the real transport binds a connection to its TLS channel, so no wire can carry a
 *   frame into another; swarm seed 5343 replayed ap's events that its lost write-ahead log
 *   destroyed into ap's next connection, after ap had written other events under those seqs);
 * - `reorder`: the frame overtakes several frames in flight (beyond TCP's ordering);
 * - `truncate`: only a prefix of its bytes arrives;
 * - `flip`: one bit of its bytes is flipped;
 * - `unknown-origin`: each occurrence of the sender's origin in its bytes names an incarnation nobody
 *   started, of its region or of a region nobody configured (same length, so the frame still parses);
 * - `impersonate`: each occurrence of the sender's origin names another region's incarnation
 *   (signatures made by the sender then do not verify for that region);
 * - `forged-control`: an extra control frame whose update sets a policy the API refuses.
 * Bytes that no longer decode, or decode to a frame that fails the shape check, are refused as the
 * real transport refuses them (the link closes); the rest reach the replica, which must verify them.
 * Deterministic: every choice comes from the direction's own seeded stream.
 */
import { ControlDocument, frameProblem, MSGPACKR_OPTIONS, type ReplicationFrame } from '@allot/replica';
import { Packr } from 'msgpackr';
import { HOSTILE_RECENT_FRAMES, HOSTILE_REORDER_DEPTH_MAX } from './limits.js';
import type { RandomStream } from './rng.js';

const packr = new Packr(MSGPACKR_OPTIONS);
const utf8 = new TextEncoder();

/** The ways a hostile wire tampers with a frame. */
export const TAMPERINGS = [
  'replay',
  'reorder',
  'truncate',
  'flip',
  'unknown-origin',
  'impersonate',
  'forged-control',
] as const;

/** One way a hostile wire tampers with a frame. */
export type Tampering = (typeof TAMPERINGS)[number];

/** What arrives instead of the frame sent. */
export type Tampered =
  /** Frames to deliver (the first `overtakes` frames in flight are overtaken by the first). */
  | { readonly kind: 'deliver'; readonly frames: readonly ReplicationFrame[]; readonly overtakes: number }
  /** Bytes the transport refuses: the receiver closes the link. */
  | { readonly kind: 'refuse'; readonly reason: string };

/** The policy a forged control update carries: refused by the API (negative overdraft). */
export function forgedPolicy(region: string): {
  overdraft: Record<string, number>;
  weights: Record<string, number>;
  blocked: boolean;
} {
  return { overdraft: { [region]: -1_000_000 }, weights: {}, blocked: false };
}

/** The JSON of `value` with sorted keys: how forged and final policies are compared. */
export function policyText(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item !== null && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(
          Object.entries(item as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)),
        )
      : item,
  );
}

/** Every Uint8Array (msgpackr decodes bin as Buffer views) as a fresh Uint8Array. */
function ownBytes(value: unknown): unknown {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) return value.map(ownBytes);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (key === '__proto__')
        Object.defineProperty(out, key, {
          value: ownBytes(item),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      else out[key] = ownBytes(item);
    }
    return out;
  }
  return value;
}

/** The frame in `bytes`, or why the receiving transport refuses them. */
export function decodeFrame(bytes: Uint8Array): { frame: ReplicationFrame } | { problem: string } {
  let decoded: unknown;
  try {
    decoded = packr.unpack(bytes);
  } catch (error) {
    return { problem: `not MessagePack: ${error instanceof Error ? error.message : String(error)}` };
  }
  const frame = ownBytes(decoded);
  const problem = frameProblem(frame);
  return problem === null ? { frame: frame as ReplicationFrame } : { problem };
}

/** The bytes of `frame` as the wire carries them. */
export function encodeFrame(frame: ReplicationFrame): Uint8Array {
  return new Uint8Array(packr.pack(frame));
}

/** `bytes` with every occurrence of `from` replaced by `to` (same length); null when none. */
export function replaceAll(bytes: Uint8Array, from: Uint8Array, to: Uint8Array): Uint8Array | null {
  if (from.length !== to.length || from.length === 0) return null;
  const out = bytes.slice();
  let found = false;
  outer: for (let i = 0; i + from.length <= out.length; i++) {
    for (let j = 0; j < from.length; j++) if (out[i + j] !== from[j]) continue outer;
    out.set(to, i);
    found = true;
    i += from.length - 1;
  }
  return found ? out : null;
}

/** `text` with each letter or digit 2–7 rotated 7 places in the base-32 alphabet (same length, same charset). */
function rotate(text: string): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return [...text]
    .map((char) => {
      const at = alphabet.indexOf(char);
      return at < 0 ? char : alphabet[(at + 7) % alphabet.length];
    })
    .join('');
}

/**
 * An origin of `origin`'s length that no node started: an unknown incarnation of its region, or
 * (`region`) an incarnation of a region nobody configured.
 */
export function unknownOrigin(origin: string, region = false): string {
  const hash = origin.indexOf('#');
  const name = origin.slice(0, hash);
  return `${region ? rotate(name) : name}#${rotate(origin.slice(hash + 1))}`;
}

/** The hostile side of one direction of a link. */
export class HostileDirection {
  /** Frames tampered with so far. */
  tampered = 0;
  /** The JSON of every policy a forged control update carried. */
  readonly forgedPolicies = new Set<string>();
  private readonly recent: Uint8Array[] = [];
  /** The connection `recent` was sent on (the link's epoch). */
  private connection = -1;

  constructor(
    private readonly rng: RandomStream,
    /** The sender's current origin, and the origins of other regions (for impersonation). */
    private readonly origins: () => { readonly own: string | null; readonly others: readonly string[] },
    private readonly tenants: readonly string[],
  ) {}

  /** What arrives when `frame` is sent on this direction now, on connection `connection`. */
  tamper(frame: ReplicationFrame, connection: number): Tampered {
    if (connection !== this.connection) {
      this.connection = connection;
      this.recent.length = 0;
    }
    const bytes = encodeFrame(frame);
    this.recent.push(bytes);
    if (this.recent.length > HOSTILE_RECENT_FRAMES) this.recent.shift();
    const how = this.rng.pick(TAMPERINGS);
    this.tampered += 1;
    switch (how) {
      case 'replay': {
        const old = this.recent[this.rng.int(0, this.recent.length - 1)] as Uint8Array;
        return this.deliver([bytes, old], 0);
      }
      case 'reorder':
        return this.deliver([bytes], this.rng.int(2, HOSTILE_REORDER_DEPTH_MAX));
      case 'truncate':
        return this.deliver([bytes.subarray(0, this.rng.int(0, bytes.length - 1))], 0);
      case 'flip': {
        const bit = this.rng.int(0, bytes.length * 8 - 1);
        const flipped = bytes.slice();
        flipped[bit >>> 3] = (flipped[bit >>> 3] as number) ^ (1 << (bit & 7));
        return this.deliver([flipped], 0);
      }
      case 'unknown-origin':
      case 'impersonate': {
        const { own, others } = this.origins();
        if (own === null) return this.deliver([bytes], 0);
        const sameLength = others.filter((other) => other.length === own.length);
        const name =
          how === 'unknown-origin' || sameLength.length === 0
            ? unknownOrigin(own)
            : this.rng.pick(sameLength);
        const forged = replaceAll(bytes, utf8.encode(own), utf8.encode(name));
        return this.deliver([forged ?? bytes], 0);
      }
      case 'forged-control': {
        const tenant = this.tenants.length === 0 ? 'tenant-0' : this.rng.pick(this.tenants);
        const policy = forgedPolicy(this.origins().own?.split('#')[0] ?? 'eu');
        const forger = new ControlDocument(this.rng.nextUint32());
        forger.doc.getMap('control').set(`policy/${tenant}`, policy);
        this.forgedPolicies.add(policyText(policy));
        const control = encodeFrame({
          type: 'control',
          message: ControlDocument.updateMessage(forger.encodeState()),
        });
        return this.deliver([bytes, control], 0);
      }
    }
  }

  /** Decodes each of `wires` as the receiving transport would; the first that fails refuses them all. */
  private deliver(wires: readonly Uint8Array[], overtakes: number): Tampered {
    const frames: ReplicationFrame[] = [];
    for (const wire of wires) {
      const decoded = decodeFrame(wire);
      if ('problem' in decoded) return { kind: 'refuse', reason: decoded.problem };
      frames.push(decoded.frame);
    }
    return { kind: 'deliver', frames, overtakes };
  }
}
