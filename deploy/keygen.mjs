#!/usr/bin/env node
// Makes one Ed25519 key per region for deploy/ and writes each region's public key into every
// config that names it (deploy/compose/*.yaml, the node.yaml of deploy/kubernetes/*.yaml); then
// the TLS material of the links between regions: a cluster CA and, per region, a certificate for
// its compose and Kubernetes service names (made with the `openssl` command, EC P-256).
// Run from the repository root after `npm ci` (it calls the built `allot keygen`):
//   node deploy/keygen.mjs [--deploy <dir>] [--secrets <dir>] [--days <n>]
// Into <secrets> (default deploy/secrets, git-ignored): <region>.key (the region key, 0600),
// ca.key and ca.crt (the CA), <region>-tls.key and <region>-tls.crt (the region's certificate).
// A file that exists is kept (and its public key used), so running it again changes nothing.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { issueCertificateFiles, makeCertificateAuthorityFiles } from './certificates.mjs';

const CLI = fileURLToPath(new URL('../packages/cli/bin/allot.js', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));
const { values } = parseArgs({
  options: {
    deploy: { type: 'string', default: here },
    secrets: { type: 'string' },
    days: { type: 'string', default: '825' },
  },
});
const deploy = resolve(values.deploy);
const secrets = resolve(values.secrets ?? join(deploy, 'secrets'));

/** The raw Ed25519 public key of a PKCS#8 PEM private key file, base64 (as `allot keygen` prints it). */
function publicKeyOf(file) {
  const der = createPublicKey(createPrivateKey(readFileSync(file))).export({ format: 'der', type: 'spki' });
  return der.subarray(der.length - 32).toString('base64');
}

const files = [
  ...readdirSync(join(deploy, 'compose')).map((name) => join(deploy, 'compose', name)),
  ...readdirSync(join(deploy, 'kubernetes')).map((name) => join(deploy, 'kubernetes', name)),
].filter((file) => /\.ya?ml$/.test(file));

// The public key each region has now, read from the peers of the compose configs.
const current = new Map();
for (const name of readdirSync(join(deploy, 'compose'))) {
  const config = parse(readFileSync(join(deploy, 'compose', name), 'utf8'));
  if (!current.has(config.region)) current.set(config.region, null);
  for (const peer of config.peers ?? []) current.set(peer.region, peer.publicKey);
}

mkdirSync(secrets, { recursive: true, mode: 0o700 });
for (const [region, old] of current) {
  const keyFile = join(secrets, `${region}.key`);
  const fresh = existsSync(keyFile)
    ? publicKeyOf(keyFile)
    : execFileSync(process.execPath, [CLI, 'keygen', '--out', keyFile], { encoding: 'utf8' }).trim();
  if (old === null || old === fresh) {
    console.log(`${region}: ${fresh} (${keyFile}; configs already had it)`);
    continue;
  }
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    if (text.includes(old)) writeFileSync(file, text.replaceAll(old, fresh));
  }
  console.log(`${region}: ${fresh} (${keyFile}; written into the configs in place of ${old})`);
}

/**
 * Names a region's certificate holds: its compose service, its Kubernetes Service (short, in the
 * namespace `allot`, and fully qualified), and loopback for a node checked from its own host.
 */
function serviceNames(region) {
  const service = `allot-${region}`;
  return [
    `DNS:${region}`,
    `DNS:${service}`,
    `DNS:${service}.allot.svc`,
    `DNS:${service}.allot.svc.cluster.local`,
    'DNS:localhost',
    'IP:127.0.0.1',
  ];
}

if (!existsSync(join(secrets, 'ca.crt'))) {
  makeCertificateAuthorityFiles(secrets, { name: 'allot cluster CA', days: Number(values.days) });
  console.log(`tls: a new cluster CA (${join(secrets, 'ca.crt')})`);
}
let serial = Date.now();
for (const region of current.keys()) {
  const cert = `${region}-tls.crt`;
  if (existsSync(join(secrets, cert))) continue;
  issueCertificateFiles(secrets, {
    base: `${region}-tls`,
    commonName: region,
    altNames: serviceNames(region),
    days: Number(values.days),
    serial: serial++,
  });
  console.log(`${region}: tls certificate for ${serviceNames(region).join(', ')} (${join(secrets, cert)})`);
}
