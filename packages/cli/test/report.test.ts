import type { HistoryRecord, Scenario, SimulationResult } from '@allot/sim';
import { describe, expect, it } from 'vitest';
import { summarise } from '../src/commands/simulate.js';
import { type ChartData, chartData, REPORT_POINTS_MAX } from '../src/report/chart-data.js';
import { REPORT_SCRIPT } from '../src/report/client-script.js';
import { escapeHtml, renderReport } from '../src/report/report.js';

const EVIL = '</script><img src=x onerror=alert(1)>';

const scenario: Scenario = {
  name: 'hand-made',
  description: `Two regions, cut off for 10 s. <b>not bold</b> ${EVIL}`,
  regions: ['eu', 'us'],
  durationS: 30,
  quietS: 10,
  rebalancing: 'adaptive',
  network: { delayMs: { min: 20, max: 40 }, loss: 0, duplicate: 0, reorder: 0 },
  tenants: [
    {
      tenant: 'acme',
      grants: [{ grantId: 'g-1', amount: 1000, region: 'eu', atS: 0 }],
      rates: [{ region: 'eu', perSecond: 2, shape: 'steady' }],
      debitAmount: { min: 1, max: 3 },
    },
    {
      tenant: EVIL,
      grants: [{ grantId: 'g-2', amount: 50, region: 'us', atS: 0 }],
      rates: [{ region: 'us', perSecond: 1, shape: 'steady' }],
      debitAmount: { min: 1, max: 1 },
    },
  ],
  faults: [{ kind: 'isolate', region: 'us', atS: 10, forS: 10 }],
};

const history: HistoryRecord[] = [
  { type: 'grant', t: 0, region: 'eu', tenant: 'acme', grantId: 'g-1', amount: 1000, result: 'accepted' },
  { type: 'grant', t: 0, region: 'us', tenant: EVIL, grantId: 'g-2', amount: 50, result: 'accepted' },
  ...Array.from({ length: 30 }, (_, second): HistoryRecord[] => [
    {
      type: 'debit',
      t: second * 1000 + 100,
      region: 'eu',
      tenant: 'acme',
      key: `k-${second}`,
      amount: 2,
      result: 'accepted',
      falseDecline: false,
      latencyMs: 1 + (second % 3),
    },
    {
      type: 'debit',
      t: second * 1000 + 500,
      region: 'us',
      tenant: EVIL,
      key: `e-${second}`,
      amount: 1,
      result: second >= 12 && second < 20 ? 'declined' : 'accepted',
      falseDecline: second >= 12 && second < 20,
      latencyMs: 0.5,
    },
    {
      type: 'sample',
      t: second * 1000,
      tenant: 'acme',
      truth: 1000 - 2 * second,
      views: {
        eu: { balance: 1000 - 2 * second, rights: 500 - 2 * second },
        us: { balance: second >= 10 && second < 20 ? 980 : 1000 - 2 * second, rights: 500 },
      },
    },
    {
      type: 'sample',
      t: second * 1000,
      tenant: EVIL,
      truth: 50 - second,
      views: { eu: { balance: 50 - second, rights: 25 }, us: { balance: 50 - second, rights: 25 - second } },
    },
  ]).flat(),
  { type: 'fault', t: 10_000, kind: 'isolate', phase: 'start', detail: 'us cut off from eu' },
  { type: 'fault', t: 20_000, kind: 'isolate', phase: 'end', detail: 'us cut off from eu' },
  { type: 'converged', t: 21_250, afterHealMs: 1250 },
];

const result: SimulationResult = {
  scenario,
  seed: 7,
  replay: `npx allot simulate simulations/hand-made.yaml --seed 7 ${EVIL}`,
  verdicts: [
    { invariant: 'S1', name: 'no overspend beyond the bound', holds: true, violations: 0 },
    {
      invariant: 'S4',
      name: 'convergence',
      holds: false,
      violations: 1,
      first: { t: 21_000, detail: `eu and us differ on ${EVIL}` },
      worst: { t: 21_000, detail: 'versions differ by 3 events' },
    },
  ],
  ok: false,
  metrics: {
    perRegion: {
      eu: { accepted: 30, declined: 0, falseDeclined: 0, latencyMsP50: 2, latencyMsP99: 3 },
      us: { accepted: 22, declined: 8, falseDeclined: 8, latencyMsP50: 0.5, latencyMsP99: 0.5 },
    },
    convergenceMs: [1250],
    messages: 400,
    bytes: 40_000,
    messagesPerDebit: 6.67,
    bytesPerDebit: 666.7,
    rightsUtilisation: { acme: 0.12, [EVIL]: 0.6 },
    simulatedSeconds: 40,
    wallSeconds: 0.2,
  },
  history,
  historyHash: 'ab'.repeat(32),
};

/** The embedded chart data, as the page's script reads it. */
function embedded(html: string): ChartData {
  const match = /<script type="application\/json" id="allot-data">([^<]*)<\/script>/.exec(html);
  expect(match).not.toBeNull();
  return JSON.parse((match as RegExpExecArray)[1] as string) as ChartData;
}

describe('renderReport', () => {
  const html = renderReport(result);

  it('is self-contained: no URL, no external script, stylesheet or image', () => {
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/<script[^>]*\ssrc=/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/<img\b/i);
    expect(html).not.toMatch(/@import|url\(/i);
    // uPlot is inlined
    expect(html).toContain('var uPlot=function()');
    expect(html).toContain('.uplot');
  });

  it('escapes every name: a tenant called </script> cannot end a script element', () => {
    // the three scripts of the page (error box, uPlot, the data, the charts) and nothing else
    expect(html.match(/<\/script>/g)).toHaveLength(4);
    expect(html).toContain(escapeHtml(EVIL));
    expect(html).toContain('&lt;b&gt;not bold&lt;/b&gt;');
    expect(html).not.toContain('<b>not bold</b>');
    const data = embedded(html);
    expect(data.tenants.map((tenant) => tenant.tenant)).toEqual(['acme', EVIL]);
  });

  it('shows the verdicts with the first and worst violation, and the replay command', () => {
    expect(html).toContain('1 invariant violated');
    expect(html).toMatch(/<tr class="bad"><td>✗<\/td><td>S4<\/td>/);
    expect(html).toContain('21.000 s');
    expect(html).toContain('versions differ by 3 events');
    expect(html).toContain('npx allot simulate simulations/hand-made.yaml --seed 7');
    expect(html).toContain('200.0× real time');
  });

  it('contains the series: balance against truth, rights, outcomes per second, latency, faults, heals', () => {
    const data = embedded(html);
    expect(data.regions).toEqual(['eu', 'us']);
    const acme = data.tenants[0];
    expect(acme?.t).toHaveLength(30);
    expect(acme?.truth[15]).toBe(970);
    expect(acme?.balance.us?.[15]).toBe(980);
    expect(acme?.rights.eu?.[15]).toBe(470);
    expect(acme?.divergenceMax).toBe(18);
    expect(data.rates.accepted.eu?.[5]).toBe(1);
    expect(data.rates.declined.us?.[15]).toBe(1);
    expect(data.rates.falseDeclined.us?.[15]).toBe(1);
    expect(data.rates.falseDeclined.us?.[5]).toBe(0);
    expect(data.latency.p99.eu?.[2]).toBe(3);
    expect(data.faults).toEqual([
      { kind: 'isolate', startS: 10, endS: 20, detail: 'us cut off from eu', open: false },
    ]);
    expect(data.convergence).toEqual([{ healS: 20, convergedS: 21.25, final: false }]);
    for (const id of ['balance', 'rights', 'accepted', 'declined', 'unavailable', 'latency']) {
      expect(html).toContain(`<div id="chart-${id}"></div>`);
    }
  });

  it('keeps long histories to REPORT_POINTS_MAX points per series, and keeps the worst divergence', () => {
    const samples: HistoryRecord[] = Array.from({ length: 50_000 }, (_, index) => ({
      type: 'sample' as const,
      t: index * 10,
      tenant: 'acme',
      truth: 1000,
      views: {
        eu: { balance: index === 31_337 ? 1 : 1000, rights: 500 },
        us: { balance: 1000, rights: 500 },
      },
    }));
    const long = chartData({
      ...result,
      scenario: { ...scenario, durationS: 500, quietS: 0 },
      history: samples,
    });
    const acme = long.tenants[0];
    expect(acme?.t.length).toBeLessThanOrEqual(REPORT_POINTS_MAX);
    expect(acme?.balance.eu).toContain(1);
    expect(acme?.divergenceMax).toBe(999);
    expect(long.rates.t.length).toBeLessThanOrEqual(REPORT_POINTS_MAX);
  });

  it('bins a run longer than REPORT_POINTS_MAX seconds into wider buckets', () => {
    const long = chartData({ ...result, scenario: { ...scenario, durationS: 10_000 }, history: [] });
    expect(long.bucketS).toBe(6);
    expect(long.rates.t.length).toBeLessThanOrEqual(REPORT_POINTS_MAX);
  });

  it('pairs each end with its start, also when faults of one kind overlap and say it in other words', () => {
    const data = chartData({
      ...result,
      history: [
        {
          type: 'fault',
          t: 1000,
          kind: 'crash',
          phase: 'start',
          detail: 'us crashes: what it had not committed is lost',
        },
        {
          type: 'fault',
          t: 2000,
          kind: 'crash',
          phase: 'start',
          detail: 'eu crashes: what it had not committed is lost',
        },
        {
          type: 'fault',
          t: 2500,
          kind: 'isolate',
          phase: 'start',
          detail: 'ap cut off from every other region',
        },
        { type: 'fault', t: 3000, kind: 'crash', phase: 'end', detail: 'eu restarts on what its disk kept' },
        {
          type: 'fault',
          t: 4000,
          kind: 'isolate',
          phase: 'end',
          detail: 'healed: ap cut off from every other region',
        },
        { type: 'fault', t: 5000, kind: 'crash', phase: 'end', detail: 'us restarts on what its disk kept' },
        { type: 'converged', t: 6000, afterHealMs: 1000, healAt: 5000 },
        { type: 'converged', t: 6000, afterHealMs: 1000, healAt: 5000 },
        { type: 'converged', t: 9000, afterHealMs: 4000, healAt: 5000, final: true },
      ],
    });
    expect(data.faults.map((fault) => [fault.kind, fault.startS, fault.endS, fault.open])).toEqual([
      ['crash', 1, 5, false],
      ['crash', 2, 3, false],
      ['isolate', 2.5, 4, false],
    ]);
    expect(data.convergence).toEqual([
      { healS: 5, convergedS: 6, final: false },
      { healS: 5, convergedS: 9, final: true },
    ]);
  });

  it("shades a fault that never ended to the run's end, and a clock step as an instant", () => {
    const data = chartData({
      ...result,
      history: [
        { type: 'fault', t: 5000, kind: 'clock-step', phase: 'start', detail: 'us +2000 ms' },
        { type: 'fault', t: 8000, kind: 'crash', phase: 'start', detail: 'eu' },
      ],
    });
    expect(data.faults).toEqual([
      { kind: 'clock-step', startS: 5, endS: 5, detail: 'us +2000 ms', open: false },
      { kind: 'crash', startS: 8, endS: 40, detail: 'eu', open: true },
    ]);
  });

  it("the page's chart script is valid JavaScript", () => {
    expect(() => new Function(REPORT_SCRIPT)).not.toThrow();
  });
});

describe('convergence in the terminal and in report.html (issue 14: they disagreed)', () => {
  // Three faults healed at 20 s (one convergence each, the same instant), one at 25 s, and S4's
  // final convergence, watched only from the quiet period's start (30 s).
  const healed: SimulationResult = {
    ...result,
    history: [
      ...history.filter((record) => record.type !== 'converged'),
      { type: 'converged', t: 21_250, afterHealMs: 1250, healAt: 20_000 },
      { type: 'converged', t: 21_250, afterHealMs: 1250, healAt: 20_000 },
      { type: 'converged', t: 21_250, afterHealMs: 1250, healAt: 20_000 },
      { type: 'converged', t: 25_400, afterHealMs: 400, healAt: 25_000 },
      { type: 'converged', t: 30_070, afterHealMs: 10_070, healAt: 20_000, final: true },
    ],
    metrics: { ...result.metrics, convergenceMs: [1250, 1250, 1250, 400] },
  };
  const terminal = summarise(healed);
  const html = renderReport(healed);
  const text = html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');

  it('shows each heal once, with the same times in both', () => {
    expect(terminal).toContain(
      'convergence after each heal: 1.250 s (healed at 20.000 s), 0.400 s (healed at 25.000 s)\n',
    );
    expect(text).toContain('20.000 s 21.250 s 1.250 s 25.000 s 25.400 s 0.400 s');
    expect(terminal.match(/1\.250 s/g)).toHaveLength(1);
  });

  it("reports S4's final convergence on its own line, from the quiet period's start, in the same words", () => {
    const final =
      'every node identical from 30.070 s, 0.070 s after the workload, the faults and the expiries ended at 30.000 s (S4)';
    expect(terminal).toContain(`  final: ${final}\n`);
    expect(text).toContain(`Final: ${final}.`);
    // Not a convergence "after a heal": the 10.070 s since the last heal appears in neither.
    expect(terminal).not.toContain('10.070');
    expect(text).not.toContain('10.070 s');
  });
});
