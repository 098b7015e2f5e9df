/**
 * The status page (GET /ui) as one self-contained HTML document: inline CSS and script, no external
 * asset, no URL. The document holds no ledger data; the script reads the API with the operator's
 * token. `uiPage` also returns the hashes the content security policy allows the inline parts by.
 */
import { createHash } from 'node:crypto';
import {
  EVENTS_PAGE_MAX,
  UI_EVENT_PAGES_MAX,
  UI_EVENTS_SHOWN,
  UI_POLL_MS,
  UI_REFRESH_DELAY_MS,
  UI_STREAM_RETRY_MS_MAX,
  UI_STREAM_RETRY_MS_MIN,
} from '../limits.js';
import { UI_SCRIPT } from './page-script.js';

const UI_STYLE = `
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #fff; --muted: #5b6570; --line: #d0d7de;
  --good: #1a7f37; --bad: #cf222e; --head: #f6f8fa; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #8d96a0;
  --line: #30363d; --good: #3fb950; --bad: #f85149; --head: #161b22; } }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; padding: 1rem 1.5rem; font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; gap: 0.5rem 1.5rem; align-items: baseline; border-bottom: 1px solid var(--line); padding-bottom: 0.5rem; }
h1 { font-size: 1.3rem; margin: 0; }
h2 { font-size: 1.05rem; margin: 1.2rem 0 0.4rem; }
h3 { font-size: 0.95rem; margin: 0.9rem 0 0.3rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(26rem, 1fr)); gap: 0 2rem; }
table { border-collapse: collapse; margin: 0.2rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: 0.2rem 0.6rem; text-align: left; vertical-align: top; }
th { background: var(--head); font-weight: 600; }
.n { text-align: right; font-variant-numeric: tabular-nums; }
.url, .detail { font-family: ui-monospace, monospace; font-size: 12px; word-break: break-all; }
.up, .good { color: var(--good); font-weight: 600; }
.down, .bad { color: var(--bad); font-weight: 600; }
.note, .muted { color: var(--muted); }
dl { display: grid; grid-template-columns: max-content max-content; gap: 0.1rem 1rem; margin: 0.3rem 0; }
dt { color: var(--muted); } dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; font-weight: 600; }
form { display: flex; gap: 0.5rem; align-items: center; flex-wrap: wrap; margin: 0.6rem 0; }
input { font: inherit; padding: 0.25rem 0.4rem; min-width: 18rem; }
button { font: inherit; padding: 0.25rem 0.8rem; }
code { font-family: ui-monospace, monospace; }
`;

/** The page's settings, embedded as JSON for the script (numbers from limits.ts). */
const UI_CONFIG = {
  pollMs: UI_POLL_MS,
  refreshDelayMs: UI_REFRESH_DELAY_MS,
  eventsShown: UI_EVENTS_SHOWN,
  eventsPageLimit: EVENTS_PAGE_MAX,
  eventPagesMax: UI_EVENT_PAGES_MAX,
  streamRetryMsMin: UI_STREAM_RETRY_MS_MIN,
  streamRetryMsMax: UI_STREAM_RETRY_MS_MAX,
};

const UI_BODY = `
<header><h1>Allot status</h1><span>cluster <b id="cluster-name">…</b></span>
<span>this node: region <b id="node-region">…</b>, origin <code id="node-origin">…</code></span>
<span id="links-summary"></span><span id="status" class="muted"></span></header>
<form id="token-form" hidden autocomplete="off">
<label for="token">API token</label><input id="token" type="password" required>
<button type="submit">Use</button><span id="token-message" class="bad"></span>
<p class="note">Any role's bearer token (events and the stream need auditor or admin). It is kept in this
tab's sessionStorage only and sent to this node alone.</p>
</form>
<main id="main" hidden>
<div class="grid">
<section><h2>Links to other regions</h2><div id="peers"></div></section>
<section><h2>Version vector of this node</h2><div id="vector"></div></section>
<section><h2>Stranded rights</h2><div id="stranded"></div>
<h3>Grant conflicts</h3><div id="conflicts"></div></section>
</div>
<section><h2>Tenant</h2>
<form id="tenant-form"><label for="tenant-input">tenant id</label><input id="tenant-input" required>
<button type="submit">Show</button><span id="tenant-problem" class="bad"></span>
<button type="button" id="forget">Forget token</button></form>
<div id="tenant" hidden>
<h3><span id="tenant-name"></span> <span id="live"></span></h3>
<p id="tenant-as-of" class="muted"></p>
<div class="grid"><div><div id="tenant-figures"></div><h3>Rights and overdraft per region</h3><div id="tenant-regions"></div></div>
<div><h3>Grants</h3><div id="tenant-grants"></div><p id="tenant-vector" class="muted"></p></div></div>
<ul id="alerts"></ul>
<h3>Recent events (newest first)</h3><p id="events-note" class="muted"></p><div id="tenant-events"></div>
</div>
</section>
</main>`;

/** The status page and the CSP hashes of its inline script and style. */
export interface UiPage {
  readonly html: string;
  readonly scriptHash: string;
  readonly styleHash: string;
}

const sha256 = (text: string): string =>
  `sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}`;

/** JSON that cannot end the <script> element it sits in. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Builds the status page (once per app: it depends on nothing but constants). */
export function uiPage(): UiPage {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>Allot status</title>
<style>${UI_STYLE}</style></head>
<body>${UI_BODY}
<script type="application/json" id="allot-ui-config">${scriptJson(UI_CONFIG)}</script>
<script>${UI_SCRIPT}</script>
</body></html>
`;
  return { html, scriptHash: sha256(UI_SCRIPT), styleHash: sha256(UI_STYLE) };
}
