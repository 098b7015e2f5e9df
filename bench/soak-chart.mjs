#!/usr/bin/env node
// The soak's memory curve as a chart (issue 18): reads the CSV that `npm run bench:soak -- --csv F`
// writes and renders it with uPlot (the CLI's charting dependency) in headless Chromium
// (playwright-core; Debian's /usr/bin/chromium or ALLOT_CHROMIUM), screenshotted to a PNG. The
// page itself is written beside the PNG as .html. Usage:
//   node bench/soak-chart.mjs --csv bench/results/soak-30min.csv --out docs/soak.png [--title T]
// bench/soak.mjs calls it with --chart PATH.png.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const WIDTH = 1100;
const HEIGHT = 460;

/** Parses the soak CSV into columns by mode: { retained: { second: [...], ... }, swept: ... }. */
export function readSoakCsv(text) {
  const [header, ...rows] = text.trim().split('\n');
  const names = header.split(',');
  const byMode = {};
  for (const row of rows) {
    const cells = row.split(',');
    if (cells.length !== names.length)
      throw new Error(`soak CSV: a row has ${cells.length} cells, not ${names.length}`);
    const mode = cells[0];
    byMode[mode] ??= Object.fromEntries(names.slice(1).map((name) => [name, []]));
    names.slice(1).forEach((name, i) => {
      byMode[mode][name].push(cells[i + 1] === '' ? null : Number(cells[i + 1]));
    });
  }
  return byMode;
}

/** The page: one chart, MiB over minutes, anonymous and file-backed RSS and the heap of each run. */
function page(byMode, title) {
  const require = createRequire(new URL('../packages/cli/package.json', import.meta.url));
  const script = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
  const style = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  if (/<\/script|<!--/i.test(script) || /<\/style/i.test(style))
    throw new Error('uPlot build contains </script>, <!-- or </style>: it cannot be inlined as it is');
  const MiB = 2 ** 20;
  // One x axis for both runs: the union of their sample times, each run null where it has none.
  const seconds = [...new Set(Object.values(byMode).flatMap((columns) => columns.second))].sort(
    (a, b) => a - b,
  );
  const series = [];
  const data = [seconds.map((s) => s / 60)];
  const lines = [
    ['rss_anon_bytes', 'anonymous RSS', 2],
    ['rss_file_bytes', 'file-backed RSS', 1],
    ['heap_used_bytes', 'heap used', 1],
  ];
  const colours = { retained: ['#c0392b', '#e59866', '#7b241c'], swept: ['#2471a3', '#85c1e9', '#1a5276'] };
  const label = { retained: 'retention 24 h', swept: 'retention 0' };
  for (const [mode, columns] of Object.entries(byMode)) {
    const at = new Map(columns.second.map((s, i) => [s, i]));
    lines.forEach(([column, name, width], i) => {
      if (columns[column] === undefined || columns[column].every((v) => v === null)) return;
      data.push(seconds.map((s) => (at.has(s) ? columns[column][at.get(s)] / MiB : null)));
      series.push({
        label: `${label[mode] ?? mode}: ${name}`,
        stroke: colours[mode]?.[i] ?? '#555',
        width,
        spanGaps: true,
      });
    });
  }
  const options = {
    title,
    width: WIDTH,
    height: HEIGHT,
    scales: { x: { time: false } },
    legend: { live: false },
    axes: [{ label: 'minutes' }, { label: 'MiB', size: 60 }],
    series: [{ label: 'minute' }, ...series],
  };
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>
<style>${style} body { font: 14px system-ui, sans-serif; margin: 8px; background: #fff; }</style></head>
<body><div id="chart"></div><script>${script}</script><script>
const options = ${JSON.stringify(options)};
new uPlot(options, ${JSON.stringify(data)}, document.getElementById('chart'));
document.body.dataset.ready = '1';
</script></body></html>`;
}

/** Writes PATH.png (and PATH.html) from the soak CSV. */
export async function renderSoakChart(csvPath, outPath, title) {
  const html = page(readSoakCsv(readFileSync(csvPath, 'utf8')), title);
  const htmlPath = outPath.replace(/\.png$/, '.html');
  writeFileSync(htmlPath, html);
  const executablePath = [process.env.ALLOT_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
    (path) => path !== undefined && existsSync(path),
  );
  if (executablePath === undefined)
    throw new Error('no Chromium for the chart: apt-get install chromium, or set ALLOT_CHROMIUM');
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  try {
    const tab = await browser.newPage({ viewport: { width: WIDTH + 16, height: HEIGHT + 90 } });
    await tab.setContent(html);
    await tab.waitForSelector('body[data-ready="1"]');
    await tab.locator('#chart').screenshot({ path: outPath });
  } finally {
    await browser.close();
  }
  return { png: outPath, html: htmlPath };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      csv: { type: 'string' },
      out: { type: 'string' },
      title: { type: 'string', default: 'Allot bench:soak — memory under steady load' },
    },
  });
  if (values.csv === undefined || values.out === undefined || !values.out.endsWith('.png')) {
    console.error('usage: node bench/soak-chart.mjs --csv FILE.csv --out FILE.png [--title T]');
    process.exit(2);
  }
  const written = await renderSoakChart(values.csv, values.out, values.title);
  console.log(`chart written to ${written.png} (page: ${written.html})`);
}
