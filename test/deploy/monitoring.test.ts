/**
 * deploy/'s monitoring as an operator would use it: the alert rules pass `promtool check rules`
 * and their unit tests (`promtool test rules`), cover each condition of issue 14, and the Grafana
 * dashboard and the rules query only metrics a node exposes (or that the parts being built alongside
 * add: ASSUMED_ELSEWHERE); compose provisions the dashboard and mounts the rules where
 * prometheus.yml reads them. The promtool checks are skipped, with one line saying so, where
 * promtool is not installed (`.ci/run` installs Debian's `prometheus` package, which has it).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { realtimeNode } from '../../packages/server/test/realtime/support.js';
import { call, grant } from '../../packages/server/test/support.js';

const DEPLOY = new URL('../../deploy/', import.meta.url).pathname;
const RULES = join(DEPLOY, 'prometheus/alerts.yml');
const RULE_TESTS = join(DEPLOY, 'prometheus/alerts.test.yml');
const DASHBOARD = join(DEPLOY, 'grafana/dashboards/allot.json');

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
if (!promtool) {
  console.log('SKIPPED: promtool check rules / test rules (promtool is not installed; .ci/run installs it)');
}

/**
 * Metrics the dashboard and rules use that another part adds (issue 12's borrowing, branch `holds`);
 * each is accepted when the node does not expose it yet.
 */
const ASSUMED_ELSEWHERE = new Set([
  'allot_debit_declines_total',
  'allot_debits_waited_total',
  'allot_debit_wait_seconds',
]);

/** The alerts issue 14 asks for, by the condition each watches. */
const REQUIRED_ALERTS = {
  'a region cut off': 'AllotRegionCutOff',
  'lag growing': 'AllotReplicationLagGrowing',
  'store failures': 'AllotStoreFailures',
  'a log shorter than peers’': 'AllotLogShorterThanPeers',
  'outbox backing up': 'AllotWebhookOutboxBackingUp',
  'overdraft near its limit': 'AllotOverdraftNearLimit',
};

interface RuleFile {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
}
interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: { expr: string }[];
}

function run(args: string[]): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { encoding: 'utf8', cwd: join(DEPLOY, 'prometheus') });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** The metric names a PromQL expression reads (histogram series by their family name). */
function metricsOf(expr: string): string[] {
  return [...expr.matchAll(/\ballot_[a-z_]+\b/g)].map(([name]) => name.replace(/_(bucket|sum|count)$/, ''));
}

/**
 * The metric families of a node's /metrics (with its stream, alerts and webhooks wired, as `allot
 * node` runs it) after a grant and a debit; peers' gauges have no samples but are typed.
 */
async function exposedFamilies(): Promise<Set<string>> {
  const node = await realtimeNode();
  try {
    await grant(node.app, 'acme', 'g1', 10);
    await call(node.app, 'POST', '/v1/tenants/acme/debits', {
      who: 'service',
      body: { amount: 1, idempotencyKey: 'k' },
    });
    const text = (await call(node.app, 'GET', '/metrics', { who: null })).body;
    return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map(([, name]) => name as string));
  } finally {
    await node.close();
  }
}

describe('alert rules', () => {
  const rules = parse(readFileSync(RULES, 'utf8')) as RuleFile;
  const all = rules.groups.flatMap((group) => group.rules);

  it('cover each condition of issue 14', () => {
    const alerts = all.flatMap((rule) => (rule.alert === undefined ? [] : [rule.alert]));
    for (const [condition, alert] of Object.entries(REQUIRED_ALERTS)) {
      expect(alerts, condition).toContain(alert);
    }
  });

  it.skipIf(!promtool)('pass promtool check rules', () => {
    const { status, output } = run(['check', 'rules', RULES]);
    expect(output).toMatch(/SUCCESS/);
    expect(status).toBe(0);
  });

  it.skipIf(!promtool)('pass their unit tests (promtool test rules), one for each alert at least', () => {
    const tested = readFileSync(RULE_TESTS, 'utf8');
    for (const rule of all)
      if (rule.alert !== undefined) expect(tested).toContain(`alertname: ${rule.alert}`);
    const { status, output } = run(['test', 'rules', RULE_TESTS]);
    expect(output).toMatch(/SUCCESS/);
    expect(status).toBe(0);
  });
});

describe('the Grafana dashboard and the rules', () => {
  it('query only metrics a node exposes or another part adds, and their recording rules', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { uid: string; panels: Panel[] };
    const rules = parse(readFileSync(RULES, 'utf8')) as RuleFile;
    const recorded = new Set(
      rules.groups.flatMap((group) => group.rules.flatMap((rule) => rule.record ?? [])),
    );
    const exprs = [
      ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr)),
      ...rules.groups.flatMap((group) => group.rules.map((rule) => rule.expr)),
    ];
    const exposed = await exposedFamilies();
    const used = new Set(exprs.flatMap(metricsOf));
    const unknown = [...used].filter((name) => !exposed.has(name) && !ASSUMED_ELSEWHERE.has(name));
    expect(unknown).toEqual([]);
    for (const record of recorded) expect(exprs.some((expr) => expr.includes(record))).toBe(true);
    // The metrics API.md names are each on the dashboard.
    for (const name of [
      'allot_debits_total',
      'allot_debit_duration_seconds',
      'allot_commit_batch_size',
      'allot_replication_lag_events',
      'allot_peer_connected',
      'allot_rights_moved_total',
      'allot_overdraft_in_use',
      'allot_stranded_rights',
    ]) {
      expect(used, name).toContain(name);
    }
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('are provisioned by compose: Grafana reads the dashboard, Prometheus the rules', () => {
    const compose = parse(readFileSync(join(DEPLOY, 'compose.yaml'), 'utf8')) as {
      services: Record<string, { volumes?: string[]; profiles?: string[] }>;
    };
    const prometheus = parse(readFileSync(join(DEPLOY, 'prometheus.yml'), 'utf8')) as {
      rule_files: string[];
    };
    for (const file of prometheus.rule_files) {
      expect(compose.services.prometheus?.volumes).toContain(`./prometheus/alerts.yml:${file}:ro`);
    }
    const grafana = compose.services.grafana;
    expect(grafana?.profiles).toEqual(['metrics']);
    const provider = parse(
      readFileSync(join(DEPLOY, 'grafana/provisioning/dashboards/allot.yaml'), 'utf8'),
    ) as { providers: { options: { path: string } }[] };
    const path = provider.providers[0]?.options.path;
    expect(grafana?.volumes).toContain(`./grafana/dashboards:${path}:ro`);
    expect(grafana?.volumes).toContain(
      './grafana/provisioning/dashboards:/etc/grafana/provisioning/dashboards:ro',
    );
    const datasource = parse(
      readFileSync(join(DEPLOY, 'grafana/provisioning/datasources/prometheus.yaml'), 'utf8'),
    ) as { datasources: { url: string }[] };
    expect(datasource.datasources[0]?.url).toBe('http://prometheus:9090');
  });
});
