/**
 * The export layout's one-form rule (audit-layout.ts): a manifest or a key written in any other
 * spelling of the same meaning is refused, so that no byte of an export can change unseen.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AUDIT_FORMAT,
  AUDIT_FORMAT_V1,
  type AuditManifest,
  base64Of,
  CHECKPOINT_FILE,
  keysText,
  ManifestError,
  manifestText,
  parseKeysText,
  parseManifest,
  publicKeyOfBase64,
  segmentFileOf,
} from '../src/audit-layout.js';

const ORIGIN = 'eu#abcdefgh';
const MANIFEST: AuditManifest = {
  format: AUDIT_FORMAT,
  cluster: 'acme-credits',
  region: 'eu',
  takenAt: '2026-11-30T23:59:59.123Z',
  origins: [
    {
      origin: ORIGIN,
      file: segmentFileOf(ORIGIN),
      segments: [
        { firstSeq: 1, lastSeq: 3, bytes: 120, hash: 'a'.repeat(64), signature: 'b'.repeat(128) },
        { firstSeq: 4, lastSeq: 4, bytes: 40, hash: 'c'.repeat(64), signature: 'd'.repeat(128) },
      ],
    },
  ],
  checkpoint: null,
};

const WITH_CHECKPOINT: AuditManifest = {
  ...MANIFEST,
  checkpoint: {
    file: CHECKPOINT_FILE,
    bytes: 777,
    vector: { [ORIGIN]: 3, 'us#zzzzzzzz': 9 },
    hash: 'e'.repeat(64),
    signature: 'f'.repeat(128),
  },
};

describe('the export layout', () => {
  it('reads back the manifest it writes, and names a segment file without the origin’s #', () => {
    expect(parseManifest(manifestText(MANIFEST))).toEqual(MANIFEST);
    expect(segmentFileOf(ORIGIN)).toBe('segments/eu.abcdefgh.seg');
  });

  it('reads a v2 manifest with a checkpoint, and a v1 manifest (no checkpoint field) as written before', () => {
    expect(parseManifest(manifestText(WITH_CHECKPOINT))).toEqual(WITH_CHECKPOINT);
    const v1: AuditManifest = { ...MANIFEST, format: AUDIT_FORMAT_V1 };
    delete (v1 as { checkpoint?: unknown }).checkpoint;
    expect(manifestText(v1)).not.toContain('checkpoint');
    expect(parseManifest(manifestText(v1))).toEqual(v1);
    // A v1 manifest may not carry a checkpoint, nor a v2 one lack the field.
    expect(() => parseManifest(manifestText(WITH_CHECKPOINT).replace(AUDIT_FORMAT, AUDIT_FORMAT_V1))).toThrow(
      ManifestError,
    );
    expect(() => parseManifest(manifestText(v1).replace(AUDIT_FORMAT_V1, AUDIT_FORMAT))).toThrow(
      ManifestError,
    );
  });

  it('refuses another spelling or meaning of the checkpoint entry', () => {
    const text = manifestText(WITH_CHECKPOINT);
    const variants = [
      text.replace('"us#zzzzzzzz": 9', '"us#zzzzzzzz":9'),
      text.replace('{"eu#abcdefgh": 3, "us#zzzzzzzz": 9}', '{"us#zzzzzzzz": 9, "eu#abcdefgh": 3}'),
      text.replace('"eu#abcdefgh": 3', '"eu#abcdefgh": 0'),
      text.replace('"hash": "eeee', '"hash": "EEEE'),
      text.replace('"checkpoint.bin"', '"checkpoint.dat"'),
      text.replace('"bytes": 777', '"bytes": 0'),
    ];
    for (const variant of variants) {
      expect(variant).not.toBe(text);
      expect(() => parseManifest(variant), variant).toThrow(ManifestError);
    }
  });

  it('refuses another spelling of the same manifest: spacing, key order, hex case, time form', () => {
    const text = manifestText(MANIFEST);
    const variants = [
      JSON.stringify(JSON.parse(text)),
      text.replace('\n', '\r\n'),
      text.replace('"hash": "aaaa', '"hash": "AAAA'),
      text.replace('.123Z', '.123z'),
      text.replace('"format"', '"cluster": "x", "format"'),
      `${text}\n`,
      text.replace('"firstSeq": 4', '"firstSeq": 4.0'),
    ];
    for (const variant of variants) expect(() => parseManifest(variant), variant).toThrow(ManifestError);
  });

  it('has one base64 spelling per key: padding bits that decoders ignore are refused', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (key) => {
        const text = base64Of(key);
        expect(publicKeyOfBase64(text)).toEqual(key);
        // The last character before '=' carries 4 bits of the key and 2 padding bits.
        const last = text[42] as string;
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
        const sibling = alphabet[alphabet.indexOf(last) ^ 1] as string;
        expect(publicKeyOfBase64(`${text.slice(0, 42)}${sibling}=`)).toBeNull();
      }),
    );
    expect(publicKeyOfBase64('short=')).toBeNull();
  });

  it('writes keys.yaml sorted, one region a line, and reads only that form', () => {
    const keys = { us: new Uint8Array(32).fill(2), eu: new Uint8Array(32).fill(1) };
    const text = keysText(keys);
    expect(text.split('\n')[0]?.startsWith('eu: ')).toBe(true);
    expect(parseKeysText(text)).toEqual(keys);
    const [first, second] = text.trimEnd().split('\n');
    for (const variant of [
      `${second}\n${first}\n`,
      text.trimEnd(),
      text.replace('eu: ', 'eu:  '),
      `${text}${first}\n`,
    ])
      expect(() => parseKeysText(variant), variant).toThrow(ManifestError);
  });
});
