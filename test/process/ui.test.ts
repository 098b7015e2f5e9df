/**
 * The status page (GET /ui) in a real headless Chromium against three real node processes: it asks
 * for a token, renders the links, version vector and a tenant, updates when a debit lands at
 * another region, shows user data as text (never as HTML), and shows a link going down when a peer
 * stops. Saves a screenshot to docs/ui.png. Skipped, with one line, where no Chromium is installed.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { useProcessCluster } from './cluster-process.js';
import { call, eventually, TOKENS } from './node-process.js';

const REGIONS = ['eu', 'us', 'ap'] as const;

/** Debian's chromium, or the browser named by ALLOT_CHROMIUM. */
const CHROMIUM = [process.env.ALLOT_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (path): path is string => path !== undefined && path !== '' && existsSync(path),
);

if (CHROMIUM === undefined) {
  console.warn('ui.test.ts skipped: no Chromium found (apt-get install chromium, or set ALLOT_CHROMIUM)');
}

const SCREENSHOT = new URL('../../docs/ui.png', import.meta.url).pathname;

/** Metadata that would run script if the page ever used it as HTML. */
const HOSTILE_NOTE = '<img src=x onerror="window.__pwned=1">';

describe.skipIf(CHROMIUM === undefined)('the status page in a real browser', () => {
  const processes = useProcessCluster(REGIONS);
  const url = processes.url;

  async function allConnected(): Promise<void> {
    await eventually(
      () =>
        Promise.all(
          REGIONS.map(async (region) => (await call(url(region), TOKENS.auditor, 'GET', '/v1/cluster')).body),
        ),
      (all) =>
        all.every((view) =>
          (view as { peers: { connected: boolean }[] }).peers.every((peer) => peer.connected),
        ),
    );
  }

  it('renders, follows a debit at another region, escapes user data, and shows a stopped peer', async () => {
    await allConnected();
    const granted = await call(url('eu'), TOKENS.admin, 'POST', '/v1/tenants/acme/grants', {
      grantId: 'g-ui',
      amount: 90_000,
    });
    expect(granted.status).toBe(201);
    await eventually(
      () => call(url('us'), TOKENS.auditor, 'GET', '/v1/tenants/acme/balance'),
      (answer) => answer.status === 200,
    );

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const failures: string[] = [];
      page.on('pageerror', (error) => failures.push(error.message));
      // The wrong token's reads of the tenant are held back until the right token is in use: their
      // 401s come late, as they did on a loaded machine (the page forgot the new token for them).
      const WRONG = 'not-a-token-of-this-cluster';
      let releaseLate: () => void = () => {};
      const lateMayGo = new Promise<void>((resolve) => {
        releaseLate = resolve;
      });
      const lateAnswered: Promise<unknown>[] = [];
      await page.route('**/v1/tenants/**', async (route) => {
        if (route.request().headers().authorization !== `Bearer ${WRONG}`) return route.continue();
        lateAnswered.push(route.request().response());
        await lateMayGo;
        await route.continue();
      });
      await page.goto(`${url('eu')}/ui?tenant=acme`);

      // No token yet: the page asks for one; a wrong one is refused in words.
      await page.locator('#token-form').waitFor({ state: 'visible' });
      await page.fill('#token', WRONG);
      await page.press('#token', 'Enter');
      await page.locator('#token-message', { hasText: '401' }).waitFor();
      await page.fill('#token', TOKENS.auditor);
      await page.press('#token', 'Enter');
      await page.locator('#token-form').waitFor({ state: 'hidden' });
      expect(lateAnswered.length).toBeGreaterThan(0);
      releaseLate();
      await Promise.all(lateAnswered);
      // The late refusals of the old token change nothing: the page keeps the new one. (Their
      // responses are in; a moment in the page lets its handlers run.)
      await page.evaluate('new Promise((resolve) => setTimeout(resolve, 200))');
      expect(
        await page.evaluate(
          "[sessionStorage.getItem('allot-ui-token'), document.getElementById('token-form').hidden]",
        ),
      ).toEqual([TOKENS.auditor, true]);
      await page.unroute('**/v1/tenants/**');

      // The cluster: this node, both links up, the version vector.
      await expect.poll(() => page.textContent('#node-region'), { timeout: 10_000 }).toBe('eu');
      await page.locator('tr[data-peer="us"][data-link="up"]').waitFor();
      await page.locator('tr[data-peer="ap"][data-link="up"]').waitFor();
      // Only eu has written yet (the grant): one origin in the vector.
      expect(await page.locator('#vector tr[data-origin]').count()).toBe(1);
      expect(await page.textContent('#stranded')).toBe(
        'None: no lost incarnation holds rights or active holds.',
      );

      // The tenant: its balance and rights at every region.
      const balance = page.locator('dd[data-figure="balance"]');
      await expect.poll(() => balance.textContent(), { timeout: 10_000 }).toBe('90,000');
      for (const region of REGIONS)
        await page.locator(`#tenant-regions tr[data-region="${region}"]`).waitFor();

      // The node has the stream: the page follows it rather than polling.
      await expect.poll(() => page.textContent('#live'), { timeout: 10_000 }).toBe('live from the stream');

      // A debit lands at us: the page at eu shows it without a reload.
      const debited = await call(url('us'), TOKENS.service, 'POST', '/v1/tenants/acme/debits', {
        amount: 7,
        idempotencyKey: 'ui-debit-1',
        metadata: { note: HOSTILE_NOTE },
      });
      expect(debited.status).toBe(201);
      await expect.poll(() => balance.textContent(), { timeout: 20_000 }).toBe('89,993');
      const debitRow = page.locator('#tenant-events tr[data-kind="debit"]');
      await debitRow.first().waitFor({ timeout: 20_000 });
      // Shown as the JSON text it is (quotes escaped), not as markup.
      expect(await debitRow.first().textContent()).toContain(JSON.stringify(HOSTILE_NOTE));
      // us has written now: its origin joins the vector.
      await expect
        .poll(() => page.locator('#vector tr[data-origin^="us#"]').count(), { timeout: 10_000 })
        .toBe(1);
      expect(await page.evaluate('window.__pwned')).toBeUndefined();
      expect(await page.locator('img').count()).toBe(0);

      // A peer stops: its link shows down, the other stays up.
      const ap = processes.cluster().nodes.get('ap');
      ap?.child.kill('SIGTERM');
      await ap?.exited;
      await page.locator('tr[data-peer="ap"][data-link="down"]').waitFor({ timeout: 20_000 });
      expect(await page.locator('tr[data-peer="us"]').getAttribute('data-link')).toBe('up');
      expect(await page.textContent('#links-summary')).toBe('1 of 2 links up');

      expect(failures).toEqual([]);
      mkdirSync(new URL('../../docs/', import.meta.url).pathname, { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
