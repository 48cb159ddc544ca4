/**
 * `furrow micro` as a user runs it: the real CLI in a child process, the official node tracker sending
 * to it (POST and GET), and the Micro API answering as Snowplow Micro does (spec collector §6, 52–67).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  buildPageView,
  buildSelfDescribingEvent,
  buildStructEvent,
  newTracker,
} from '@snowplow/node-tracker';
import { startFurrow } from './helpers/furrow-process.js';
import { requireShared, sharedDir } from './helpers/shared.js';

describe('furrow micro with the official node tracker', () => {
  let furrow: Awaited<ReturnType<typeof startFurrow>> | undefined;
  let shared: string | null;

  before(async () => {
    shared = sharedDir();
    if (shared === null) return;
    // The mirror is read in place through a directory registry (--schemas), never copied.
    furrow = await startFurrow([
      'micro',
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--schemas',
      join(shared, 'iglu-central'),
    ]);
  });
  after(async () => {
    if (furrow === undefined) return;
    furrow.child.kill('SIGTERM');
    const [code] = await once(furrow.child, 'exit');
    assert.equal(code, 0, 'SIGTERM drains and exits 0');
  });

  const get = async (path: string) => (await fetch(`${furrow?.base}${path}`)).json() as Promise<any>;
  const post = async (path: string, body: unknown) =>
    (
      await fetch(`${furrow?.base}${path}`, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'Content-Type': 'application/json' },
      })
    ).json() as Promise<any>;

  test('52–55: a GET page ping is good, an invalid eid is bad, reset empties both', async (t) => {
    if (requireShared(t) === undefined || furrow === undefined) return;
    await get('/micro/reset');
    const px = await fetch(`${furrow.base}/i?e=pp&p=web&tv=lol`);
    assert.equal(px.status, 200);
    assert.deepEqual(await get('/micro/all'), { total: 1, good: 1, bad: 0 });
    const [good] = await get('/micro/good');
    assert.equal(good.eventType, 'page_ping');
    assert.equal(good.schema, 'iglu:com.snowplowanalytics.snowplow/page_ping/jsonschema/1-0-0');
    assert.equal(good.event.platform, 'web');
    assert.equal(good.event.v_tracker, 'lol');
    assert.deepEqual(good.event.contexts, {});
    assert.equal(good.event.unstruct_event, null);
    assert.equal(good.rawEvent.api.version, 'tp1');
    assert.equal(good.rawEvent.parameters.tv, 'lol');

    await get('/micro/reset');
    await fetch(`${furrow.base}/i?e=pp&p=web&tv=lol&eid=invalidEventId`);
    assert.deepEqual(await get('/micro/all'), { total: 1, good: 0, bad: 1 });
    const [bad] = await get('/micro/bad');
    assert.equal(bad.errors[0], 'Error while validating the event.');
    assert.match(bad.errors[1], /schema_violations/);
    assert.deepEqual(await post('/micro/reset', {}), { total: 0, good: 0, bad: 0 });
    assert.deepEqual(await get('/micro/all'), { total: 0, good: 0, bad: 0 });
  });

  for (const method of ['post', 'get'] as const) {
    test(`56–63: node tracker ${method.toUpperCase()} events arrive with Snowplow's shapes, stored before the 200`, async (t) => {
      if (requireShared(t) === undefined || furrow === undefined) return;
      await get('/micro/reset');
      const tracker = newTracker(
        { namespace: 'e2e', appId: 'micro-app', encodeBase64: method === 'get' },
        { endpoint: '127.0.0.1', port: furrow.port, protocol: 'http', eventMethod: method, bufferSize: 1 },
      );
      const webPage = {
        schema: 'iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0',
        data: { id: 'a8c0e0f4-7d6b-4d6e-9c39-2f0d6a1b9e11' },
      };
      tracker.track(buildPageView({ pageUrl: 'https://example.com/a', pageTitle: 'A' }), [webPage]);
      tracker.track(buildStructEvent({ category: 'c', action: 'a', value: 3 }));
      tracker.track(
        buildSelfDescribingEvent({
          event: {
            schema: 'iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1',
            data: { targetUrl: 'https://example.com/b' },
          },
        }),
        [webPage],
      );
      await tracker.flush();
      // No sleep: Furrow stores before it answers.
      assert.deepEqual(await get('/micro/all'), { total: 3, good: 3, bad: 0 });
      const all = await get('/micro/good');
      assert.deepEqual(
        all.map((e: any) => e.eventType),
        ['unstruct', 'struct', 'page_view'],
        'newest first',
      );
      assert.equal((await post('/micro/good', { limit: 1 })).length, 1);
      assert.equal((await post('/micro/good', { limit: 1 }))[0].eventType, 'unstruct');
      assert.equal((await post('/micro/good', { event_type: 'unstruct' })).length, 1);
      assert.equal((await post('/micro/good', { event_type: 'ue' })).length, 0);
      assert.equal(
        (
          await post('/micro/good', {
            schema: 'iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1',
          })
        ).length,
        1,
      );
      const withCtx = await post('/micro/good', {
        contexts: ['iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0'],
      });
      assert.deepEqual(withCtx.map((e: any) => e.eventType).sort(), ['page_view', 'unstruct']);
      assert.equal((await get('/micro/good?event_type=struct')).length, 1, 'filters by query string too');
      const [ue] = all;
      assert.equal(ue.event.unstruct_event.data.data.targetUrl, 'https://example.com/b');
      assert.equal(ue.event.contexts.schema, 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0');
      assert.match(ue.event.derived_tstamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      assert.equal(ue.event.app_id, 'micro-app');
      assert.equal(typeof ue.event.br_cookies === 'boolean' || ue.event.br_cookies === null, true);
      assert.equal(all[1].event.se_value, 3);
      assert.equal(ue.rawEvent.parameters.e, 'ue');
      assert.equal(ue.rawEvent.api.version, method === 'get' ? 'tp1' : 'tp2');
      assert.equal(ue.rawEvent.context.userId, ue.event.network_userid);
    });
  }

  test('60, 64–67: bad filters, batches, iglu, events, 404s', async (t) => {
    if (requireShared(t) === undefined || furrow === undefined) return;
    await get('/micro/reset');
    const body = JSON.stringify({
      schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
      data: [1, 2, 3].map((i) => ({ e: 'pv', p: 'web', tv: 'js', aid: `a${i}` })),
    });
    await fetch(`${furrow.base}/com.snowplowanalytics.snowplow/tp2`, {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal((await get('/micro/all')).good, 3);
    await fetch(`${furrow.base}/com.snowplowanalytics.snowplow/tp2`, {
      method: 'POST',
      body: '{"x":1}',
      headers: { 'Content-Type': 'application/json' },
    });
    await fetch(`${furrow.base}/i`);
    assert.equal(
      (await post('/micro/bad', { vendor: 'com.snowplowanalytics.snowplow', version: 'tp2' })).length,
      1,
    );
    const [tp2Bad] = await post('/micro/bad', { version: 'tp2' });
    assert.equal(tp2Bad.rawEvent, null);
    assert.equal(
      tp2Bad.errors[0],
      'Error while extracting event(s) from collector payload and validating it/them.',
    );
    const schema = await fetch(
      `${furrow.base}/micro/iglu/com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0`,
    );
    assert.equal(schema.status, 200);
    assert.equal(((await schema.json()) as any).self.version, '1-0-0');
    const missing = await fetch(`${furrow.base}/micro/iglu/com.acme/nothing/jsonschema/1-0-0`);
    assert.equal(missing.status, 404);
    assert.ok('value' in ((await missing.json()) as object));
    const events = await post('/micro/events', { page: 1, pageSize: 10, filters: [] });
    assert.equal(events.totalItems, 3);
    assert.ok(events.totalPages >= 1);
    assert.equal((await fetch(`${furrow.base}/micro/unknown`)).status, 404);
    assert.equal(await (await fetch(`${furrow.base}/health`)).text(), 'ok');
  });
});
