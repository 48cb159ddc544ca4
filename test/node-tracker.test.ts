/**
 * Real traffic from the official `@snowplow/node-tracker` (POST and GET, base64 on and off), captured
 * on a loopback server, enriched by Furrow, then read back with the official `snowplow-analytics-sdk`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildEcommerceTransaction,
  buildPagePing,
  buildPageView,
  buildSelfDescribingEvent,
  buildStructEvent,
  newTracker,
} from '@snowplow/node-tracker';
import sdk from 'snowplow-analytics-sdk';
import { FIELD_COUNT } from '../src/protocol/enriched-fields.js';
import { startCaptureServer } from './helpers/capture-server.js';
import { enrichAll, sharedEnricher } from './helpers/enricher.js';
import { requireShared } from './helpers/shared.js';

const WEB_PAGE = {
  schema: 'iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0',
  data: { id: 'a8c0e0f4-7d6b-4d6e-9c39-2f0d6a1b9e11' },
};
const LINK_CLICK = {
  schema: 'iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1',
  data: { targetUrl: 'https://example.com/docs?x=1', elementId: 'nav', elementClasses: ['a', 'b'] },
};

async function sendWithTracker(method: 'post' | 'get', encodeBase64: boolean) {
  const server = await startCaptureServer();
  const tracker = newTracker(
    { namespace: 'furrow-ns', appId: 'furrow-app', encodeBase64 },
    { endpoint: '127.0.0.1', port: server.port, protocol: 'http', eventMethod: method, bufferSize: 1 },
  );
  tracker.setDomainUserId('duid-123');
  tracker.setSessionIndex(3);
  tracker.track(
    buildPageView({
      pageUrl: 'https://shop.example.com/products?utm_source=news#top',
      pageTitle: 'Products',
      referrer: 'https://www.google.com/search?q=furrow',
    }),
    [WEB_PAGE],
  );
  tracker.track(
    buildPagePing({
      pageUrl: 'https://shop.example.com/products',
      minXOffset: 0,
      maxXOffset: 20,
      minYOffset: 100,
      maxYOffset: 400,
    }),
  );
  tracker.track(
    buildStructEvent({ category: 'shop', action: 'add', label: 'sku-1', property: 'red', value: 19.99 }),
  );
  tracker.track(buildSelfDescribingEvent({ event: LINK_CLICK }), [WEB_PAGE]);
  tracker.track(
    buildEcommerceTransaction({ orderId: 'o-1', total: 42.5, tax: 1.5, shipping: 4, currency: 'EUR' }),
  );
  await tracker.flush();
  await server.close();
  return server;
}

for (const [method, base64] of [
  ['post', false],
  ['post', true],
  ['get', true],
  ['get', false],
] as const) {
  test(`node-tracker ${method.toUpperCase()} (base64 ${base64}) events enrich and parse with the analytics SDK`, async (t) => {
    const shared = requireShared(t);
    if (shared === undefined) return;
    const server = await sendWithTracker(method, base64);
    assert.ok(server.requests.length >= 1, 'the tracker sent requests');
    if (method === 'get')
      assert.ok(server.requests.every((r) => r.method === 'GET' && r.url.startsWith('/i?')));
    else
      assert.ok(
        server.requests.every((r) => r.method === 'POST' && r.url === '/com.snowplowanalytics.snowplow/tp2'),
      );

    const collectorMs = Date.UTC(2025, 4, 6, 7, 8, 9, 10);
    const { good, bad } = await enrichAll(sharedEnricher(shared), server.payloads(collectorMs));
    assert.deepEqual(bad, [], 'no bad rows');
    assert.equal(good.length, 5);
    for (const line of good) assert.equal(line.split('\t').length, FIELD_COUNT);

    const events = good.map((l) => sdk.transform(l) as Record<string, any>);
    const byEvent = (name: string) => events.filter((e) => e.event === name);
    for (const e of events) {
      assert.equal(e.app_id, 'furrow-app');
      assert.equal(e.platform, 'srv');
      assert.equal(e.name_tracker, 'furrow-ns');
      assert.match(e.v_tracker, /^node-\d/);
      assert.equal(e.v_collector, 'furrow-test-collector');
      assert.equal(e.collector_tstamp, '2025-05-06T07:08:09.010Z');
      assert.match(e.event_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(e.domain_userid, 'duid-123');
      assert.equal(e.domain_sessionidx, 3);
      assert.equal(e.network_userid, 'c4b3b0a2-5f2e-4f6e-9d1a-2b3c4d5e6f70');
      assert.equal(e.user_ipaddress, '127.0.0.1');
      assert.ok(e.dvce_created_tstamp, 'dtm mapped');
      assert.ok(e.derived_tstamp, 'derived_tstamp set');
    }

    const [pv] = byEvent('page_view');
    assert.equal(pv.page_url, 'https://shop.example.com/products?utm_source=news#top');
    assert.equal(pv.page_urlscheme, 'https');
    assert.equal(pv.page_urlhost, 'shop.example.com');
    assert.equal(pv.page_urlport, 443);
    assert.equal(pv.page_urlpath, '/products');
    assert.equal(pv.page_urlquery, 'utm_source=news');
    assert.equal(pv.page_urlfragment, 'top');
    assert.equal(pv.page_title, 'Products');
    assert.equal(pv.refr_urlhost, 'www.google.com');
    assert.equal(pv.event_vendor, 'com.snowplowanalytics.snowplow');
    assert.equal(pv.event_name, 'page_view');
    assert.deepEqual(pv.contexts_com_snowplowanalytics_snowplow_web_page_1, [WEB_PAGE.data]);

    const [pp] = byEvent('page_ping');
    assert.equal(pp.pp_xoffset_max, 20);
    assert.equal(pp.pp_yoffset_max, 400);

    const [se] = byEvent('struct');
    assert.equal(se.se_category, 'shop');
    assert.equal(se.se_action, 'add');
    assert.equal(se.se_label, 'sku-1');
    assert.equal(se.se_property, 'red');
    assert.equal(se.se_value, '19.99');
    assert.equal(se.event_vendor, 'com.google.analytics');

    const [ue] = byEvent('unstruct');
    assert.deepEqual(ue.unstruct_event_com_snowplowanalytics_snowplow_link_click_1, LINK_CLICK.data);
    assert.equal(ue.event_name, 'link_click');
    assert.equal(ue.event_version, '1-0-1');

    const [tr] = byEvent('transaction');
    assert.equal(tr.tr_orderid, 'o-1');
    assert.equal(tr.tr_total, 42.5);
    assert.equal(tr.tr_currency, 'EUR');
  });
}
