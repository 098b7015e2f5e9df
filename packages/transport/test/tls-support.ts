/**
 * Test support for links over TLS: a certificate authority made in the test with the `openssl`
 * command (EC P-256, valid for a day), node certificates it issues for loopback (IP 127.0.0.1 and
 * ::1, DNS localhost, for both server and client authentication), and the HTTPS server options a
 * node accepts replication upgrades with. Other packages' tests may import it (e.g. a TLS cluster
 * of real node processes).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueCertificateFiles, makeCertificateAuthorityFiles } from '../../../deploy/certificates.mjs';

/** PEM of a certificate and its private key. */
export interface CertificateFiles {
  readonly cert: string;
  readonly key: string;
}

/** A test certificate authority. */
export interface TestCertificateAuthority {
  /** The CA certificate (PEM): what nodes verify peers against. */
  readonly ca: string;
  /** Issues a node certificate for loopback named `commonName` (e.g. the region). */
  issue(commonName: string): CertificateFiles;
  /** The transport's `tls` option (and API.md's `tls`) for a node holding `node`. */
  tlsFor(node: CertificateFiles): { ca: string; cert: string; key: string };
}

/** A new CA named `name`, valid for a day; its files live in a temporary directory only while it issues. */
export function makeCertificateAuthority(name = 'allot-test-ca'): TestCertificateAuthority {
  const dir = mkdtempSync(join(tmpdir(), 'allot-ca-'));
  let ca: string;
  let caKey: string;
  try {
    makeCertificateAuthorityFiles(dir, { name, days: 1 });
    ca = readFileSync(join(dir, 'ca.crt'), 'utf8');
    caKey = readFileSync(join(dir, 'ca.key'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  let serial = 1;
  return {
    ca,
    issue(commonName) {
      const work = mkdtempSync(join(tmpdir(), 'allot-cert-'));
      try {
        writeCa(work, ca, caKey);
        issueCertificateFiles(work, {
          base: 'node',
          commonName,
          altNames: ['IP:127.0.0.1', 'IP:::1', 'DNS:localhost'],
          days: 1,
          serial: serial++,
        });
        return {
          cert: readFileSync(join(work, 'node.crt'), 'utf8'),
          key: readFileSync(join(work, 'node.key'), 'utf8'),
        };
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    },
    tlsFor(node) {
      return { ca, cert: node.cert, key: node.key };
    },
  };
}

function writeCa(dir: string, ca: string, caKey: string): void {
  writeFileSync(join(dir, 'ca.crt'), ca);
  writeFileSync(join(dir, 'ca.key'), caKey, { mode: 0o600 });
}

/**
 * Options of the HTTPS server a node serves its API and replication on: it asks every client for
 * a certificate and checks it against `ca`, but lets the request through either way (HTTP clients
 * have none); the transport refuses a replication upgrade whose certificate did not verify.
 */
export function httpsServerOptions(tls: { ca: string; cert: string; key: string }): ServerOptions {
  return {
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    requestCert: true,
    rejectUnauthorized: false,
    // The handshake binds to the TLS 1.3 exporter; peers dial with TLS 1.3 only.
    minVersion: 'TLSv1.3',
  };
}
