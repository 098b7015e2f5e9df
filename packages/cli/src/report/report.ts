/**
 * report.html: one self-contained page per run — uPlot (JS and CSS) and the data inlined, no
 * network needed to open it. Verdicts and metrics are tables rendered here; the charts are drawn in
 * the browser by REPORT_SCRIPT from the embedded ChartData.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { SimulationResult, Verdict } from '@allot/sim';
import { chartData, type FaultPeriod } from './chart-data.js';
import { REPORT_SCRIPT } from './client-script.js';
import { convergenceLines, secondsText } from './convergence.js';

const HTML_ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ENTITIES[char] as string);
}

/**
 * JSON that is safe inside a <script> element: `<`, `>` and `&` as \u escapes so no `</script>` or
 * `<!--` can end or bend the element, and U+2028/9 for old parsers.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

interface UplotAssets {
  readonly script: string;
  readonly style: string;
}

let uplotAssets: UplotAssets | undefined;

/**
 * uPlot's minified JS and CSS, read once from the installed package. The banner's link is written
 * without its scheme (the MIT notice is kept) so that the page has no URL at all; anything that
 * could end the <script> or <style> element it goes into is refused loudly.
 */
function uplot(): UplotAssets {
  if (uplotAssets !== undefined) return uplotAssets;
  const require = createRequire(import.meta.url);
  const script = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8').replace(
    /^\/\*! https?:\/\//,
    '/*! ',
  );
  const style = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  if (/<\/script|<!--/i.test(script) || /<\/style/i.test(style)) {
    throw new Error('uPlot build contains </script>, <!-- or </style>: it cannot be inlined as it is');
  }
  uplotAssets = { script, style };
  return uplotAssets;
}

const PAGE_STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; padding: 16px 24px;
  max-width: 1400px; color: #1b1b1b; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 22px 0 6px; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 10px; font-size: 13px; font-weight: 600;
  vertical-align: middle; margin-left: 8px; }
.pass { background: #d9f2dc; color: #12621c; } .fail { background: #f9d7d7; color: #8a1111; }
.description { white-space: pre-wrap; margin: 6px 0 10px; max-width: 100ch; }
table { border-collapse: collapse; margin: 4px 0 8px; font-size: 13px; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.bad td { background: #fff1f1; }
code, .mono { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code.replay { display: inline-block; background: #f3f3f3; padding: 3px 8px; border-radius: 4px; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; margin: 6px 0; font-size: 13px; }
dt { color: #555; } dd { margin: 0; }
.legend span { display: inline-block; margin-right: 14px; font-size: 12.5px; }
.swatch { display: inline-block; width: 14px; height: 10px; margin-right: 4px; vertical-align: baseline; }
#charts .u-title { font-size: 14px; font-weight: 600; }
#charts > div { margin-bottom: 10px; }
.row { display: flex; flex-wrap: wrap; gap: 0 40px; align-items: flex-start; }
.row dl { max-width: 560px; }
.error { background: #f9d7d7; color: #8a1111; padding: 8px; display: none; }
`;

/** A simulated time in ms as seconds with millisecond precision. */
function at(ms: number): string {
  return `${(ms / 1000).toFixed(3)} s`;
}

function verdictRow(verdict: Verdict): string {
  const violation = (found: Verdict['first']): string =>
    found === undefined
      ? ''
      : `<span class="mono">${escapeHtml(at(found.t))}</span> ${escapeHtml(found.detail)}`;
  return `<tr${verdict.holds ? '' : ' class="bad"'}><td>${verdict.holds ? '✓' : '✗'}</td><td>${escapeHtml(
    verdict.invariant,
  )}</td><td>${escapeHtml(verdict.name)}</td><td class="n">${verdict.violations}</td><td>${violation(
    verdict.first,
  )}</td><td>${violation(verdict.worst)}</td><td>${escapeHtml(verdict.note ?? '')}</td></tr>`;
}

function number(value: number, digits = 0): string {
  return Number.isFinite(value)
    ? value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '–';
}

function metricsTables(result: SimulationResult): string {
  const { metrics } = result;
  const regionRows = Object.entries(metrics.perRegion)
    .map(
      ([region, line]) =>
        `<tr><td>${escapeHtml(region)}</td><td class="n">${number(line.accepted)}</td><td class="n">${number(
          line.declined,
        )}</td><td class="n">${number(line.falseDeclined)}</td><td class="n">${number(
          line.latencyMsP50,
          1,
        )}</td><td class="n">${number(line.latencyMsP99, 1)}</td></tr>`,
    )
    .join('');
  // The same points and words as the terminal summary (convergence.ts).
  const convergence = convergenceLines(result.history, result.scenario);
  const convergenceRows =
    convergence.heals.length === 0
      ? '<tr><td colspan="3">no heal recorded</td></tr>'
      : convergence.heals
          .map(
            (point) =>
              `<tr><td class="n">${secondsText(point.healS)}</td><td class="n">${secondsText(
                point.convergedS,
              )}</td><td class="n">${secondsText(point.convergedS - point.healS)}</td></tr>`,
          )
          .join('');
  const finalLine =
    convergence.final === null
      ? '<p>S4: the nodes were not all identical at the end of the run.</p>'
      : `<p>Final: ${escapeHtml(convergence.final)}.</p>`;
  const utilisation = Object.entries(metrics.rightsUtilisation)
    .map(([tenant, share]) => `${escapeHtml(tenant)} ${number(share * 100, 1)} %`)
    .join(', ');
  const net = metrics.network;
  const network =
    net === undefined
      ? ''
      : escapeHtml(
          [
            `${number(net.lost)} frames lost`,
            `${number(net.duplicated)} duplicated`,
            `${number(net.reordered)} reordered`,
            `${number(net.resets)} link resets`,
            `${number(net.timeouts)} peer timeouts`,
            `${number(net.connects)} connects`,
            ...Object.entries(net.drops).map(([reason, count]) => `${number(count)} closed: ${reason}`),
          ].join(', '),
        );
  const speed = metrics.wallSeconds > 0 ? metrics.simulatedSeconds / metrics.wallSeconds : Number.NaN;
  return `<section>
<h2>Debits per region</h2>
<table><thead><tr><th>region</th><th class="n">accepted</th><th class="n">declined</th><th class="n">false-declined</th><th class="n">p50 ms</th><th class="n">p99 ms</th></tr></thead>
<tbody>${regionRows}</tbody></table>
<dl>
<dt>messages / debit</dt><dd>${number(metrics.messagesPerDebit, 2)} (${number(metrics.messages)} messages)</dd>
<dt>bytes / debit</dt><dd>${number(metrics.bytesPerDebit, 1)} (${number(metrics.bytes)} bytes)</dd>
<dt>rights utilisation</dt><dd>${utilisation || '–'}</dd>${
    metrics.rightsMoved === undefined
      ? ''
      : `<dt>rights moved</dt><dd>${number(metrics.rightsMoved)} credits</dd>`
  }${network === '' ? '' : `<dt>network</dt><dd>${network}</dd>`}
<dt>speed</dt><dd>${number(metrics.simulatedSeconds, 1)} simulated s in ${number(metrics.wallSeconds, 2)} wall s (${number(speed, 1)}× real time)</dd>
</dl>
</section>
<section>
<h2>Convergence after each heal</h2>
<table><thead><tr><th class="n">healed at</th><th class="n">converged at</th><th class="n">took</th></tr></thead>
<tbody>${convergenceRows}</tbody></table>
${finalLine}
</section>`;
}

function faultTable(faults: readonly FaultPeriod[]): string {
  if (faults.length === 0) return '<p>No faults were injected.</p>';
  const rows = faults
    .map(
      (fault) =>
        `<tr><td>${escapeHtml(fault.kind)}</td><td class="n">${number(fault.startS, 3)} s</td><td class="n">${
          fault.startS === fault.endS
            ? '(instant)'
            : `${number(fault.endS, 3)} s${fault.open ? ' (never healed)' : ''}`
        }</td><td>${escapeHtml(fault.detail)}</td></tr>`,
    )
    .join('');
  return `<table><thead><tr><th>fault</th><th class="n">from</th><th class="n">to</th><th>detail</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** Renders one run as a self-contained HTML page (no network needed to open it). */
export function renderReport(result: SimulationResult): string {
  const { scenario } = result;
  const data = chartData(result);
  const assets = uplot();
  const title = `Allot simulation: ${scenario.name}, seed ${result.seed}`;
  const failed = result.verdicts.filter((verdict) => !verdict.holds).length;
  const badge = result.ok
    ? '<span class="badge pass">all invariants hold</span>'
    : `<span class="badge fail">${failed} invariant${failed === 1 ? '' : 's'} violated</span>`;
  const omitted =
    data.tenantsOmitted > 0
      ? ` (${data.tenantsOmitted} quieter tenants left out; the busiest ${data.tenants.length} are shown)`
      : '';
  const tenantPicker =
    data.tenants.length > 0
      ? `<p><label>Tenant: <select id="tenant"></select></label>${escapeHtml(omitted)}</p>
<div id="chart-balance"></div><div id="chart-rights"></div>`
      : '<p>No balance samples were recorded.</p>';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${assets.style}</style>
<style>${PAGE_STYLE}</style>
</head>
<body>
<div class="error" id="error"></div>
<script>window.addEventListener('error', function (event) { var box = document.getElementById('error'); box.style.display = 'block'; box.textContent = 'The report could not draw its charts: ' + event.message; });</script>
<h1>${escapeHtml(scenario.name)} <span class="mono">seed ${result.seed}</span>${badge}</h1>
<p class="description">${escapeHtml(scenario.description)}</p>
<p>Replay exactly: <code class="replay">${escapeHtml(result.replay)}</code></p>
<dl>
<dt>regions</dt><dd>${escapeHtml(scenario.regions.join(', '))} (rebalancing ${escapeHtml(scenario.rebalancing)})</dd>
<dt>duration</dt><dd>${number(scenario.durationS)} s of load, then ${number(scenario.quietS)} s quiet</dd>
<dt>network</dt><dd>delay ${number(scenario.network.delayMs.min)}–${number(scenario.network.delayMs.max)} ms, loss ${number(
    scenario.network.loss * 100,
    2,
  )} %, duplicate ${number(scenario.network.duplicate * 100, 2)} %, reorder ${number(scenario.network.reorder * 100, 2)} %</dd>
<dt>history hash</dt><dd class="mono">${escapeHtml(result.historyHash)}</dd>
</dl>
<h2>Invariants</h2>
<table><thead><tr><th></th><th>invariant</th><th>what</th><th class="n">violations</th><th>first violation</th><th>worst violation</th><th>note</th></tr></thead>
<tbody>${result.verdicts.map(verdictRow).join('')}</tbody></table>
<div class="row">
${metricsTables(result)}
<section>
<h2>Faults</h2>
${faultTable(data.faults)}
</section>
</div>
<h2>Over time</h2>
<p class="legend"><span><i class="swatch" style="background:rgba(214,39,40,0.25)"></i>partition</span><span><i class="swatch" style="background:rgba(255,127,14,0.3)"></i>crash / pause</span><span><i class="swatch" style="background:rgba(140,86,75,0.35)"></i>disk loss</span><span><i class="swatch" style="background:rgba(148,103,189,0.3)"></i>clock drift / step</span><span><i class="swatch" style="border-top:2px dashed rgb(44,160,44);height:0"></i>converged after a heal</span>
Drag across a chart to zoom every chart; double-click to zoom out.${
    data.bucketS > 1 ? ` Rates and latencies are per ${data.bucketS} s bucket.` : ''
  }</p>
<div id="charts">
${tenantPicker}
<div id="chart-accepted"></div><div id="chart-declined"></div><div id="chart-unavailable"></div><div id="chart-latency"></div>
</div>
<p style="color:#777;font-size:12px">Self-contained: uPlot 1.6.32 (MIT, © Leon Sorokin) and the data are inlined; no network is needed.</p>
<script type="application/json" id="allot-data">${jsonForScript(data)}</script>
<script>${assets.script}</script>
<script>${REPORT_SCRIPT}</script>
</body>
</html>
`;
}
