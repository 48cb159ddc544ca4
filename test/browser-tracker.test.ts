/**
 * The official `@snowplow/browser-tracker` in real headless Chromium (Debian's, driven by playwright-core)
 * sending to `furrow micro` and `furrow up` on another origin: CORS with credentials, the `sp` cookie, page views,
 * activity pings, link clicks, structured and self-describing events, POST and GET.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, requireChromium, startSite } from './helpers/browser.js';
import { queryWarehouse } from './helpers/duckdb.js';
import { startFurrow, stopFurrow } from './helpers/furrow-process.js';
import { requireShared } from './helpers/shared.js';

async function poll<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let v = await fn();
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 200));
    v = await fn();
  }
  return v;
}

for (const [method, target] of [
  ['post', 'micro'],
  ['get', 'micro'],
  ['post', 'up'],
] as const) {
  test(`browser tracker (${method.toUpperCase()}) in Chromium → furrow ${target}`, async (t) => {
    const shared = requireShared(t);
    const exe = requireChromium(t);
    if (shared === undefined || exe === undefined) return;
    const dataDir = await mkdtemp(join(tmpdir(), 'furrow-browser-'));
    const furrow = await startFurrow([
      target,
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--schemas',
      join(shared, 'iglu-central'),
      ...(target === 'up' ? ['--data-dir', dataDir] : []),
    ]);
    let stopped = false;
    const collector = `http://localhost:${furrow.port}`;
    const site = await startSite(collector, method);
    const browser = await chromium.launch({ executablePath: exe, args: CHROMIUM_ARGS });
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      const failed: string[] = [];
      page.on('requestfailed', (r) => failed.push(`${r.url()} ${r.failure()?.errorText}`));
      page.on('response', (r) => {
        if (r.url().startsWith(collector) && r.status() !== 200) failed.push(`${r.url()} ${r.status()}`);
      });
      await page.goto(site.url);
      await page.waitForFunction(() => (globalThis as { furrowReady?: boolean }).furrowReady === true);
      // Activity: scroll so the heartbeat sends page pings.
      for (let i = 0; i < 6; i++) {
        await page.mouse.wheel(0, 300);
        await page.waitForTimeout(400);
      }
      await page.click('#docs');
      const get = async (path: string) => (await fetch(`${collector}${path}`)).json() as Promise<any>;
      const good = await poll(
        () => get('/micro/good'),
        (events: any[]) => {
          const types = new Set(events.map((e) => e.event.event_name));
          return ['page_view', 'page_ping', 'link_click', 'event', 'site_search'].every((n) => types.has(n));
        },
      );
      const byName = (n: string) => good.filter((e: any) => e.event.event_name === n);
      assert.deepEqual(await get('/micro/bad'), [], 'no bad events');
      assert.deepEqual(failed, [], 'no tracker request failed');

      const [pv] = byName('page_view');
      assert.equal(pv.event.app_id, 'browser-app');
      assert.equal(pv.event.platform, 'web');
      assert.equal(pv.event.page_url, site.url);
      assert.equal(pv.event.page_title, 'Furrow test page');
      assert.match(pv.event.v_tracker, /^js-/);
      assert.ok(pv.event.br_viewwidth > 0 && pv.event.dvce_screenwidth > 0);
      assert.equal(
        pv.event.useragent,
        await page.evaluate(
          () => (globalThis as unknown as { navigator: { userAgent: string } }).navigator.userAgent,
        ),
      );
      assert.equal(
        pv.contexts.includes('iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0'),
        true,
      );
      const pageViewId = pv.event.contexts.data.find((c: any) => c.schema.includes('/web_page/')).data.id;

      const pings = byName('page_ping');
      assert.ok(pings.length >= 1);
      assert.ok(
        pings.some((p: any) => p.event.pp_yoffset_max > 0),
        'scroll offsets recorded',
      );
      for (const p of pings)
        assert.equal(
          p.event.contexts.data.find((c: any) => c.schema.includes('/web_page/')).data.id,
          pageViewId,
        );

      const [click] = byName('link_click');
      assert.equal(click.event.unstruct_event.data.data.elementId, 'docs');
      assert.deepEqual(click.event.unstruct_event.data.data.elementClasses, ['nav', 'primary']);
      assert.equal(click.event.unstruct_event.data.data.targetUrl, `${site.url}#docs-section`);

      const [se] = byName('event');
      assert.equal(se.eventType, 'struct');
      assert.equal(se.event.se_category, 'checkout');
      assert.equal(se.event.se_value, 42.5);

      const [search] = byName('site_search');
      assert.deepEqual(search.event.unstruct_event.data.data.terms, ['furrow', 'snowplow']);
      assert.ok(
        search.contexts.includes('iglu:com.snowplowanalytics.snowplow/geolocation_context/jsonschema/1-0-0'),
      );

      // The collector's cookie reached the browser and is the network user id of every event.
      const cookies = await context.cookies(collector);
      const sp = cookies.find((c) => c.name === 'sp');
      assert.ok(sp, `sp cookie set (${JSON.stringify(cookies)})`);
      const nuids = new Set(good.map((e: any) => e.event.network_userid));
      assert.ok(nuids.has(sp.value), 'network_userid equals the sp cookie');
      const domainUserIds = new Set(good.map((e: any) => e.event.domain_userid));
      assert.equal(domainUserIds.size, 1);

      if (target === 'up') {
        // The same events, loaded into DuckDB once furrow up has drained and stopped. The page keeps
        // sending pings while it is open, so close it first and compare against the settled store.
        await browser.close();
        let last = -1;
        let settled: any[] = [];
        for (let i = 0; i < 40; i++) {
          settled = await get('/micro/good');
          if (settled.length === last) break;
          last = settled.length;
          await new Promise((r) => setTimeout(r, 500));
        }
        const settledByName = (n: string) => settled.filter((e: any) => e.event.event_name === n);
        assert.equal(await stopFurrow(furrow.child), 0);
        stopped = true;
        const rows = await queryWarehouse(
          join(dataDir, 'warehouse.duckdb'),
          `select event_name, count(*)::int as n, min(network_userid) as nuid, max(network_userid) as nuid2,
                  max(unstruct_event->>'$.data.data.targetUrl') as target
             from atomic.events group by 1 order by 1`,
        );
        const byEvent = Object.fromEntries(rows.map((r) => [String(r.event_name), r]));
        for (const name of ['page_view', 'page_ping', 'link_click', 'event', 'site_search']) {
          assert.equal(
            byEvent[name]?.n,
            settledByName(name).length,
            `${name} rows in DuckDB match /micro/good`,
          );
        }
        assert.equal(byEvent.link_click.target, `${site.url}#docs-section`);
        for (const r of rows) {
          assert.equal(r.nuid, sp.value, 'network_userid in the warehouse is the sp cookie');
          assert.equal(r.nuid2, sp.value);
        }
      }
    } finally {
      await browser.close();
      await site.close();
      if (!stopped) await stopFurrow(furrow.child);
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}
