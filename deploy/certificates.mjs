// Certificates for the TLS links between regions, made with the `openssl` command (EC P-256): a
// cluster CA, and node certificates it issues for both server and client authentication (a node is
// a server to its peers and clients, and a client when it dials a peer). Used by deploy/keygen.mjs
// and by the tests that run nodes over TLS, so both make the same kind of certificate.
import { execFileSync } from 'node:child_process';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** Runs openssl in `cwd` (a failure throws with its error output). */
function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Writes a new CA into `dir` as `ca.key` (0600) and `ca.crt`, named `name`, valid for `days`.
 * @param {string} dir
 * @param {{ name: string, days: number }} options
 */
export function makeCertificateAuthorityFiles(dir, { name, days }) {
  openssl(
    [
      'req',
      '-x509',
      ...EC_KEY,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      String(days),
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  chmodSync(join(dir, 'ca.key'), 0o600);
}

/**
 * Issues `<base>.key` (0600) and `<base>.crt` in `dir`, signed by the `ca.key`/`ca.crt` there, for
 * `commonName` with the subject alternative names `altNames` (e.g. `DNS:localhost`, `IP:127.0.0.1`).
 * @param {string} dir
 * @param {{ base: string, commonName: string, altNames: readonly string[], days: number, serial: number }} options
 */
export function issueCertificateFiles(dir, { base, commonName, altNames, days, serial }) {
  const extensions = join(dir, `${base}.cnf`);
  const request = `${base}.csr`;
  writeFileSync(
    extensions,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth,clientAuth',
      `subjectAltName=${altNames.join(',')}`,
    ].join('\n'),
  );
  try {
    openssl(
      ['req', '-new', ...EC_KEY, '-keyout', `${base}.key`, '-out', request, '-subj', `/CN=${commonName}`],
      dir,
    );
    openssl(
      [
        'x509',
        '-req',
        '-in',
        request,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-set_serial',
        String(serial),
        '-days',
        String(days),
        '-extfile',
        extensions,
        '-out',
        `${base}.crt`,
      ],
      dir,
    );
  } finally {
    rmSync(extensions, { force: true });
    rmSync(join(dir, request), { force: true });
  }
  chmodSync(join(dir, `${base}.key`), 0o600);
}
