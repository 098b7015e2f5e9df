/**
 * The script report.html runs in the browser: it reads the embedded ChartData and draws the charts
 * with the inlined uPlot, all on one time axis (cursor and zoom shared), fault periods shaded and
 * each convergence after a heal marked. It is plain ES2020 in a string because it runs in a page,
 * not in Node; report.test.ts parses it, and `allot simulate` output is looked at in a browser.
 * Names from the run reach the page only through textContent, never as HTML.
 */
export const REPORT_SCRIPT = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('allot-data').textContent);
  var PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf',
    '#bcbd22', '#7f7f7f'];
  var FAULT_FILL = {
    isolate: 'rgba(214,39,40,0.13)', halves: 'rgba(214,39,40,0.13)', ring: 'rgba(214,39,40,0.13)',
    bridge: 'rgba(214,39,40,0.13)', 'one-way': 'rgba(214,39,40,0.10)', flapping: 'rgba(214,39,40,0.10)',
    crash: 'rgba(255,127,14,0.18)', 'disk-loss': 'rgba(140,86,75,0.20)', pause: 'rgba(255,127,14,0.12)',
    'clock-drift': 'rgba(148,103,189,0.13)', 'clock-step': 'rgba(148,103,189,0.9)'
  };
  var charts = [];
  var syncing = false;

  function colour(region) {
    return PALETTE[data.regions.indexOf(region) % PALETTE.length];
  }

  /** Shades fault periods and marks convergence points behind every chart's series. */
  function drawBackground(u) {
    var ctx = u.ctx;
    var top = u.bbox.top;
    var height = u.bbox.height;
    var left = u.bbox.left;
    var right = u.bbox.left + u.bbox.width;
    var px = window.devicePixelRatio || 1;
    ctx.save();
    data.faults.forEach(function (fault) {
      var x0 = Math.max(left, u.valToPos(fault.startS, 'x', true));
      var x1 = Math.min(right, u.valToPos(fault.endS, 'x', true));
      if (x1 < left || x0 > right) return;
      ctx.fillStyle = FAULT_FILL[fault.kind] || 'rgba(0,0,0,0.08)';
      ctx.fillRect(x0, top, Math.max(x1 - x0, 2 * px), height);
    });
    ctx.setLineDash([4 * px, 3 * px]);
    ctx.strokeStyle = 'rgba(44,160,44,0.9)';
    ctx.lineWidth = 1.5 * px;
    data.convergence.forEach(function (point) {
      var x = u.valToPos(point.convergedS, 'x', true);
      if (x < left || x > right) return;
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
    });
    ctx.restore();
  }

  /** Zooming one chart zooms them all: one time axis. */
  function shareScale(u, key) {
    if (key !== 'x' || syncing) return;
    syncing = true;
    var min = u.scales.x.min;
    var max = u.scales.x.max;
    charts.forEach(function (other) {
      if (other !== u) other.setScale('x', { min: min, max: max });
    });
    syncing = false;
  }

  function width() {
    return Math.max(480, document.getElementById('charts').clientWidth - 8);
  }

  /** Counts and latencies start at 0; an empty chart still gets a y axis. */
  function fromZero(u, min, max) {
    return [0, max > 0 ? max * 1.08 : 1];
  }

  /** Balances may go negative (overdraft); a flat line still gets some room. */
  function padded(u, min, max) {
    if (min == null || max == null) return [0, 1];
    var pad = Math.max((max - min) * 0.06, Math.abs(max) * 0.01, 1);
    return [min - pad, max + pad];
  }

  function chart(id, title, yLabel, series, columns, yRange) {
    var holder = document.getElementById(id);
    var options = {
      title: title,
      width: width(),
      height: 230,
      cursor: { sync: { key: 'allot' }, drag: { x: true, y: false } },
      scales: { x: { time: false, range: [0, data.endS] }, y: { range: yRange || fromZero } },
      axes: [{ label: 'simulated seconds' }, { label: yLabel, size: 70 }],
      series: [{ label: 't (s)' }].concat(series),
      hooks: { drawClear: [drawBackground], setScale: [shareScale] }
    };
    var u = new uPlot(options, columns, holder);
    charts.push(u);
    return u;
  }

  function regionLines(series, label, style) {
    return data.regions.map(function (region) {
      var line = { label: region + (label ? ' ' + label : ''), stroke: colour(region), width: 1.25, spanGaps: false };
      if (style) for (var key in style) line[key] = style[key];
      return line;
    });
  }

  function regionColumns(bySeries) {
    return data.regions.map(function (region) {
      return bySeries[region];
    });
  }

  function tenantBalance(tenant) {
    return [tenant.t, tenant.truth].concat(regionColumns(tenant.balance), [tenant.bound]);
  }

  function tenantRights(tenant) {
    return [tenant.t].concat(regionColumns(tenant.rights));
  }

  var rates = data.rates;
  var stepped = uPlot.paths && uPlot.paths.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined;
  var tenantCharts = null;

  if (data.tenants.length > 0) {
    var first = data.tenants[0];
    tenantCharts = {
      balance: chart('chart-balance', 'Balance: each region\'s view against the truth', 'credits',
        [{ label: 'truth', stroke: '#111', width: 2.5 }].concat(regionLines(null, 'view'),
          [{ label: 'S1 bound (−Σ overdraft)', stroke: '#555', width: 1.5, dash: [2, 4] }]),
        tenantBalance(first), padded),
      rights: chart('chart-rights', 'Rights held per region', 'credits',
        regionLines(null, 'rights', stepped ? { paths: stepped } : null), tenantRights(first), padded)
    };
    var select = document.getElementById('tenant');
    data.tenants.forEach(function (tenant, index) {
      var option = document.createElement('option');
      option.value = String(index);
      option.textContent = tenant.tenant + '  (largest view − truth: ' + tenant.divergenceMax + ')';
      select.appendChild(option);
    });
    function showTenant() {
      var tenant = data.tenants[Number(select.value)];
      var min = charts[charts.length - 1].scales.x.min;
      var max = charts[charts.length - 1].scales.x.max;
      tenantCharts.balance.setData(tenantBalance(tenant), false);
      tenantCharts.rights.setData(tenantRights(tenant), false);
      syncing = true;
      tenantCharts.balance.setScale('x', { min: min, max: max });
      tenantCharts.rights.setScale('x', { min: min, max: max });
      syncing = false;
    }
    select.addEventListener('change', showTenant);
    // report.html#tenant=<name> opens on that tenant: a link to share.
    var wanted = /^#tenant=(.*)$/.exec(window.location.hash);
    if (wanted) {
      var name = decodeURIComponent(wanted[1]);
      var found = data.tenants.findIndex(function (tenant) { return tenant.tenant === name; });
      if (found > 0) {
        select.value = String(found);
        setTimeout(showTenant, 0);
      }
    }
  }

  chart('chart-accepted', 'Accepted debits per second', 'debits/s', regionLines(null, 'accepted'),
    [rates.t].concat(regionColumns(rates.accepted)));
  chart('chart-declined', 'Declined debits per second (dashed: of which false-declined)', 'debits/s',
    regionLines(null, 'declined').concat(regionLines(null, 'false-declined', { dash: [6, 4] })),
    [rates.t].concat(regionColumns(rates.declined), regionColumns(rates.falseDeclined)));
  var anyUnavailable = data.regions.some(function (region) {
    return rates.unavailable[region].some(function (count) { return count > 0; });
  });
  if (anyUnavailable) {
    chart('chart-unavailable', 'Debits unanswered (region crashed or paused) per second', 'debits/s',
      regionLines(null, 'unavailable'), [rates.t].concat(regionColumns(rates.unavailable)));
  } else {
    document.getElementById('chart-unavailable').textContent = 'Every debit was answered: no region was down or paused under load.';
  }
  chart('chart-latency', 'Debit latency per region (solid p99, dashed p50)', 'ms',
    regionLines(null, 'p99').concat(regionLines(null, 'p50', { dash: [6, 4] })),
    [data.latency.t].concat(regionColumns(data.latency.p99), regionColumns(data.latency.p50)));

  var resizing = 0;
  window.addEventListener('resize', function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () {
      charts.forEach(function (u) {
        u.setSize({ width: width(), height: 230 });
      });
    }, 100);
  });
  document.body.setAttribute('data-charts', String(charts.length));
})();
`;
