#!/usr/bin/env node
// Makes one Ed25519 key per region for deploy/ and writes each region's public key into every
// config that names it (deploy/compose/*.yaml, the node.yaml of deploy/kubernetes/*.yaml).
// Run from the repository root after `npm ci` (it calls the built `allot keygen`):
//   node deploy/keygen.mjs [--deploy <dir>] [--secrets <dir>]
// Private keys go to <secrets>/<region>.key (default deploy/secrets, mode 0600, git-ignored).
// A key file that exists is kept and its public key used, so running it again changes nothing.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';

const CLI = fileURLToPath(new URL('../packages/cli/bin/allot.js', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));
const { values } = parseArgs({
  options: { deploy: { type: 'string', default: here }, secrets: { type: 'string' } },
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
