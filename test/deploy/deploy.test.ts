/**
 * deploy/ as an operator would use it, checked without Docker or Kubernetes: every YAML parses,
 * every node config passes the node's own validation, ports agree from config to container to
 * Service to probe, every region's peers are exactly the other regions at their service names
 * over wss:// with the one public key that region has everywhere, the TLS files and the tokens
 * file are mounted from secrets where the configs name them, Prometheus scrapes every region
 * over HTTPS, and the Dockerfile builds on node:24 (the current LTS), runs as a non-root user and starts the CLI.
 * `deploy/keygen.mjs` replaces the example keys by new ones, makes a CA and a certificate per
 * region for its service names, and leaves a deployment that passes the same checks.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { publicKeyFromRaw, rawPublicKey, readRegionKey } from '@allot/store';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { type NodeConfig, validateConfig } from '../../packages/cli/src/config.js';

const DEPLOY = new URL('../../deploy/', import.meta.url).pathname;
const REPO = new URL('../../', import.meta.url).pathname;
const REGIONS = ['eu', 'us', 'ap'];
const run = promisify(execFile);

// Loose shapes of the manifests: only the fields these checks read.
interface ComposeService {
  build?: { context: string; dockerfile: string };
  image?: string;
  ports?: string[];
  volumes?: string[];
  secrets?: { source: string; target: string }[];
  profiles?: string[];
}
interface Compose {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  secrets?: Record<string, { file: string }>;
}
interface Probe {
  httpGet: { path: string; port: number; scheme?: string };
}
interface Container {
  image: string;
  args?: string[];
  ports: { containerPort: number }[];
  readinessProbe: Probe;
  livenessProbe: Probe;
  startupProbe?: Probe;
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
  securityContext?: { allowPrivilegeEscalation?: boolean };
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  spec?: {
    clusterIP?: string;
    selector?: Record<string, string>;
    ports?: { port: number; targetPort: number }[];
    serviceName?: string;
    replicas?: number;
    template?: {
      metadata: { labels: Record<string, string> };
      spec: {
        securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
        containers: Container[];
        volumes: { name: string; configMap?: { name: string }; secret?: { secretName: string } }[];
      };
    };
    volumeClaimTemplates?: { metadata: { name: string } }[];
  };
}

/** One region as a deployment configures it. */
interface Deployed {
  readonly config: NodeConfig;
  /** Where the other regions dial it: host (service name) and port. */
  readonly host: string;
  readonly port: number;
}

function readYaml(file: string): unknown {
  return parse(readFileSync(file, 'utf8'), { uniqueKeys: true, merge: true });
}

/** The compose deployment: each region's config, service name and container port. */
function composeRegions(deploy: string): Map<string, Deployed> {
  const compose = readYaml(join(deploy, 'compose.yaml')) as Compose;
  const regions = new Map<string, Deployed>();
  const hostPorts: number[] = [];
  const dataVolumes: string[] = [];
  for (const [name, service] of Object.entries(compose.services)) {
    const configMount = service.volumes?.find((volume) => volume.split(':')[1] === '/etc/allot/node.yaml');
    if (configMount === undefined) {
      expect(service.profiles, `${name} is not a region: opt-in only`).toBeDefined();
      continue;
    }
    const [source, , mode] = configMount.split(':') as [string, string, string | undefined];
    expect(mode, `${name}: config mounted read-only`).toBe('ro');
    const file = resolve(deploy, source);
    const config = validateConfig(readYaml(file), dirname(file));
    expect(config.region, `${name}: one service per region, named after it`).toBe(name);
    expect(config.listen.host).toBe('0.0.0.0');
    expect(service.build).toEqual({ context: '..', dockerfile: 'deploy/Dockerfile' });
    expect(
      statSync(resolve(deploy, service.build?.context ?? '', service.build?.dockerfile ?? '')).isFile(),
    ).toBe(true);

    expect(service.ports).toHaveLength(1);
    const [, host, container] = /^127\.0\.0\.1:(\d+):(\d+)$/.exec(service.ports?.[0] ?? '') ?? [];
    expect(Number(container), `${name}: published port is listen.port`).toBe(config.listen.port);
    hostPorts.push(Number(host));

    const data = service.volumes?.find((volume) => volume.split(':')[1] === config.dataDir);
    const volume = data?.split(':')[0] ?? '';
    expect(compose.volumes, `${name}: dataDir is a named volume`).toHaveProperty([volume]);
    dataVolumes.push(volume);

    expect(dirname(config.keyFile)).toBe('/run/secrets');
    const secret = service.secrets?.find((entry) => entry.target === basename(config.keyFile));
    expect(secret, `${name}: keyFile is a secret`).toBeDefined();
    expect(compose.secrets?.[secret?.source ?? '']?.file).toBe(`./secrets/${name}.key`);

    // The region's certificate and key, and the cluster CA, are secrets too.
    const tls = config.tls;
    if (tls === undefined) throw new Error(`${name}: no tls (its peers are not on loopback)`);
    const secretFiles = {
      cert: `./secrets/${name}-tls.crt`,
      key: `./secrets/${name}-tls.key`,
      ca: './secrets/ca.crt',
    };
    for (const field of ['cert', 'key', 'ca'] as const) {
      expect(dirname(tls[field])).toBe('/run/secrets');
      const entry = service.secrets?.find((each) => each.target === basename(tls[field]));
      expect(entry, `${name}: tls.${field} is a secret`).toBeDefined();
      expect(compose.secrets?.[entry?.source ?? '']?.file).toBe(secretFiles[field]);
    }

    regions.set(name, { config, host: name, port: config.listen.port });
  }
  expect(hostPorts.sort()).toEqual([7001, 7002, 7003]);
  expect(new Set(dataVolumes).size).toBe(dataVolumes.length);
  return regions;
}

/** The Kubernetes deployment: each region's config (from its ConfigMap), Service name and port. */
function kubernetesRegions(deploy: string): Map<string, Deployed> {
  const dir = join(deploy, 'kubernetes');
  const files = readdirSync(dir).filter((name) => /\.ya?ml$/.test(name));
  const manifests: Manifest[] = [];
  for (const name of files.filter((file) => file !== 'kustomization.yaml')) {
    for (const document of parseAllDocuments(readFileSync(join(dir, name), 'utf8'), { uniqueKeys: true })) {
      expect(document.errors, `${name} parses`).toEqual([]);
      manifests.push(document.toJS() as Manifest);
    }
  }
  const kustomization = readYaml(join(dir, 'kustomization.yaml')) as { resources: string[] };
  expect([...kustomization.resources].sort()).toEqual(
    files.filter((file) => file !== 'kustomization.yaml').sort(),
  );

  const byKind = (kind: string) => manifests.filter((manifest) => manifest.kind === kind);
  const regions = new Map<string, Deployed>();
  const statefulSets = byKind('StatefulSet');
  expect(statefulSets).toHaveLength(byKind('ConfigMap').length);
  for (const set of statefulSets) {
    const spec = set.spec ?? {};
    const pod = spec.template?.spec;
    const container = pod?.containers[0];
    if (pod === undefined || container === undefined) throw new Error(`${set.metadata.name}: no container`);
    expect(spec.replicas, `${set.metadata.name}: one node per region`).toBe(1);

    const configVolume = pod.volumes.find((volume) => volume.configMap !== undefined);
    const configMap = byKind('ConfigMap').find((map) => map.metadata.name === configVolume?.configMap?.name);
    const text = configMap?.data?.['node.yaml'];
    if (text === undefined) throw new Error(`${set.metadata.name}: no ConfigMap with node.yaml`);
    const document = parse(text, { uniqueKeys: true }) as { tokensFile?: string };
    // The tokens file is the Secret allot-tokens, made from tokens.example.yaml: validate with that.
    const tokensFile = document.tokensFile;
    if (tokensFile === undefined) throw new Error(`${set.metadata.name}: tokens are not in a Secret`);
    expect(text, 'no token in the ConfigMap').not.toMatch(/^\s+tokens:/m);
    const config = validateConfig({ ...document, tokensFile: join(deploy, 'tokens.example.yaml') }, '/');
    const port = config.listen.port;
    const tokensVolume = pod.volumes.find((volume) => volume.secret?.secretName === 'allot-tokens');
    expect(container.volumeMounts).toContainEqual({
      name: tokensVolume?.name,
      mountPath: dirname(tokensFile),
      readOnly: true,
    });
    const tls = config.tls;
    if (tls === undefined) throw new Error(`${set.metadata.name}: no tls (its peers are not on loopback)`);
    const tlsVolume = pod.volumes.find(
      (volume) => volume.secret?.secretName === `allot-${config.region}-tls`,
    );
    for (const field of ['cert', 'key', 'ca'] as const) {
      expect(container.volumeMounts, `tls.${field}`).toContainEqual({
        name: tlsVolume?.name,
        mountPath: dirname(tls[field]),
        readOnly: true,
      });
    }
    expect(container.args).toEqual(['node', '--config', '/etc/allot/node.yaml']);
    expect(container.volumeMounts).toContainEqual({
      name: configVolume?.name,
      mountPath: '/etc/allot',
      readOnly: true,
    });

    expect(container.ports.map((entry) => entry.containerPort)).toEqual([port]);
    // The node serves HTTPS (its tls config): the probes must speak it.
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port, scheme: 'HTTPS' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port, scheme: 'HTTPS' });
    if (container.startupProbe !== undefined)
      expect(container.startupProbe.httpGet).toEqual({ path: '/healthz', port, scheme: 'HTTPS' });

    const service = byKind('Service').find((entry) => entry.metadata.name === spec.serviceName);
    if (service === undefined) throw new Error(`${set.metadata.name}: no Service ${spec.serviceName}`);
    expect(service.spec?.ports?.map((entry) => [entry.port, entry.targetPort])).toEqual([[port, port]]);
    expect(spec.template?.metadata.labels).toMatchObject(service.spec?.selector ?? { missing: 'selector' });

    const claim = spec.volumeClaimTemplates?.[0]?.metadata.name;
    expect(container.volumeMounts).toContainEqual({ name: claim, mountPath: config.dataDir });
    const keyVolume = pod.volumes.find((volume) => volume.secret?.secretName?.endsWith('-key') === true);
    expect(keyVolume?.secret?.secretName).toBe(`allot-${config.region}-key`);
    expect(basename(config.keyFile)).toBe('region.key');
    expect(container.volumeMounts).toContainEqual({
      name: keyVolume?.name,
      mountPath: dirname(config.keyFile),
      readOnly: true,
    });

    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    expect(pod.securityContext?.runAsUser).not.toBe(0);
    expect(regions.has(config.region), `${config.region} configured once`).toBe(false);
    regions.set(config.region, { config, host: service.metadata.name, port });
  }
  return regions;
}

/** Peers are exactly the other regions, at their service names and ports; returns each region's key. */
function checkPeers(regions: Map<string, Deployed>): Map<string, string> {
  expect([...regions.keys()].sort()).toEqual([...REGIONS].sort());
  const clusters = new Set([...regions.values()].map(({ config }) => config.cluster));
  expect(clusters.size, 'one cluster id').toBe(1);
  const keys = new Map<string, string>();
  for (const [region, { config }] of regions) {
    expect(config.peers.map((peer) => peer.region).sort()).toEqual(
      REGIONS.filter((r) => r !== region).sort(),
    );
    for (const peer of config.peers) {
      const target = regions.get(peer.region) as Deployed;
      expect(peer.url).toBe(`wss://${target.host}:${target.port}/v1/replication`);
      const known = keys.get(peer.region);
      if (known !== undefined) expect(peer.publicKey, `${peer.region}'s key, at ${region}`).toBe(known);
      keys.set(peer.region, peer.publicKey);
    }
  }
  return keys;
}

/** Every check of a deploy/ folder; returns the public key of each region. */
function checkDeploy(deploy: string): Map<string, string> {
  const composeKeys = checkPeers(composeRegions(deploy));
  const kubernetesKeys = checkPeers(kubernetesRegions(deploy));
  expect(kubernetesKeys, 'the same key per region in compose and Kubernetes').toEqual(composeKeys);
  for (const [region, key] of composeKeys) {
    const raw = Buffer.from(key, 'base64');
    expect(raw.toString('base64'), `${region}: canonical base64`).toBe(key);
    expect(() => publicKeyFromRaw(new Uint8Array(raw)), `${region}: an Ed25519 public key`).not.toThrow();
  }
  expect(new Set(composeKeys.values()).size, 'a key per region').toBe(REGIONS.length);
  return composeKeys;
}

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('deploy/', () => {
  it('compose and Kubernetes: valid configs, ports that agree, peers by service name, one key per region', () => {
    checkDeploy(DEPLOY);
  });

  it('Prometheus scrapes /metrics of every compose region', () => {
    const prometheus = readYaml(join(DEPLOY, 'prometheus.yml')) as {
      scrape_configs: {
        metrics_path?: string;
        scheme?: string;
        tls_config?: { ca_file?: string };
        static_configs: { targets: string[]; labels?: { region?: string } }[];
      }[];
    };
    const compose = readYaml(join(DEPLOY, 'compose.yaml')) as Compose;
    const mounted = compose.services.prometheus?.volumes ?? [];
    const targets = prometheus.scrape_configs.flatMap((job) => {
      expect(job.metrics_path ?? '/metrics').toBe('/metrics');
      expect(job.scheme).toBe('https');
      expect(mounted).toContain(`./secrets/ca.crt:${job.tls_config?.ca_file}:ro`);
      return job.static_configs.flatMap((group) =>
        group.targets.map((target) => ({ target, region: group.labels?.region })),
      );
    });
    const regions = composeRegions(DEPLOY);
    expect(targets.sort((a, b) => a.target.localeCompare(b.target))).toEqual(
      [...regions.values()]
        .map(({ config, host, port }) => ({ target: `${host}:${port}`, region: config.region }))
        .sort((a, b) => a.target.localeCompare(b.target)),
    );
  });

  it('Dockerfile: node:24, a non-root user, the CLI as entrypoint, a health check, the node port', () => {
    const lines = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8')
      .replace(/\\\n/g, ' ')
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('#'));
    const instruction = (name: string) => lines.filter((line) => line.startsWith(`${name} `));
    const stages = instruction('FROM');
    expect(stages.length).toBeGreaterThan(0);
    for (const from of stages) expect(from).toMatch(/^FROM node:24(-slim)?( AS \w+)?$/);
    const final = lines.slice(lines.lastIndexOf(stages[stages.length - 1] as string));
    const users = final.filter((line) => line.startsWith('USER '));
    expect(users).toHaveLength(1);
    expect(users[0]).not.toMatch(/^USER (root|0)(:|$)/);
    const json = (name: string) => JSON.parse((instruction(name)[0] ?? '').slice(name.length + 1)) as unknown;
    expect(json('ENTRYPOINT')).toEqual(['node', 'packages/cli/bin/allot.js']);
    expect(statSync(join(REPO, 'packages/cli/bin/allot.js')).isFile()).toBe(true);
    expect(json('CMD')).toEqual(['node', '--config', '/etc/allot/node.yaml']);
    expect(instruction('EXPOSE')).toEqual(['EXPOSE 7001']);
    expect(instruction('HEALTHCHECK')[0]).toMatch(/\/healthz/);

    const ignored = readFileSync(join(DEPLOY, 'Dockerfile.dockerignore'), 'utf8').split('\n');
    for (const rule of ['**/node_modules', '**/dist', '.data', 'deploy/secrets', '**/*.key']) {
      expect(ignored).toContain(rule);
    }
  });

  it('keygen.mjs puts new keys in every config, keeps private keys out of them, and is idempotent', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'allot-deploy-'));
    dirs.push(parent);
    const copy = join(parent, 'deploy');
    cpSync(DEPLOY, copy, { recursive: true, filter: (source) => !source.includes('/secrets') });
    const before = checkDeploy(copy);
    const keygen = join(DEPLOY, 'keygen.mjs');
    await run(process.execPath, [keygen, '--deploy', copy], { cwd: REPO });
    const after = checkDeploy(copy);
    for (const region of REGIONS) {
      const keyFile = join(copy, 'secrets', `${region}.key`);
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      const key = Buffer.from(rawPublicKey(readRegionKey(keyFile))).toString('base64');
      expect(after.get(region)).toBe(key);
      expect(after.get(region)).not.toBe(before.get(region));
    }
    const snapshot = (dir: string) =>
      ['compose', 'kubernetes'].flatMap((sub) =>
        readdirSync(join(dir, sub)).map((name) => readFileSync(join(dir, sub, name), 'utf8')),
      );
    const written = snapshot(copy);
    expect(written.join('\n')).not.toContain('PRIVATE KEY');
    // A CA, and per region a certificate it issued for the region's compose and Kubernetes names.
    const ca = new X509Certificate(readFileSync(join(copy, 'secrets', 'ca.crt')));
    expect(ca.ca).toBe(true);
    for (const region of REGIONS) {
      const cert = new X509Certificate(readFileSync(join(copy, 'secrets', `${region}-tls.crt`)));
      expect(cert.checkIssued(ca) && cert.verify(ca.publicKey), region).toBe(true);
      for (const host of [region, `allot-${region}`, `allot-${region}.allot.svc.cluster.local`]) {
        expect(cert.checkHost(host), host).toBe(host);
      }
      expect(cert.checkHost(REGIONS.find((other) => other !== region) as string)).toBeUndefined();
      expect(statSync(join(copy, 'secrets', `${region}-tls.key`)).mode & 0o777).toBe(0o600);
    }
    expect(statSync(join(copy, 'secrets', 'ca.key')).mode & 0o777).toBe(0o600);
    const certificates = REGIONS.map((region) =>
      readFileSync(join(copy, 'secrets', `${region}-tls.crt`), 'utf8'),
    );
    await run(process.execPath, [keygen, '--deploy', copy], { cwd: REPO });
    expect(snapshot(copy)).toEqual(written);
    expect(REGIONS.map((region) => readFileSync(join(copy, 'secrets', `${region}-tls.crt`), 'utf8'))).toEqual(
      certificates,
    );
  });
});
