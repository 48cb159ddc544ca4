import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Resolver } from '../../iglu/types.js';
import { adapterFailures } from '../../protocol/bad-rows.js';
import type { CollectorPayload } from '../../protocol/collector-payload.js';
import { FURROW_PROCESSOR } from '../../protocol/processor.js';
import { adapterFor, parseApiPath, routeCollectorPayload } from './registry.js';
import type { AdapterResult } from './types.js';

const acceptAll: Resolver = {
  check: () => ({ ok: true }),
  lookupSchema: async () => ({ ok: false, error: { error: 'ResolutionError', lookupHistory: [] } }),
};

function payload(path: string | undefined, over: Partial<CollectorPayload> = {}): CollectorPayload {
  return {
    schema: 'iglu:com.snowplowanalytics.snowplow/CollectorPayload/thrift/1-0-0',
    ipAddress: '10.0.0.1',
    timestamp: Date.UTC(2025, 3, 30, 10, 5),
    encoding: 'UTF-8',
    collector: 'ssc-3.2.0-kinesis',
    path,
    ...over,
  };
}

async function route(p: CollectorPayload): Promise<AdapterResult> {
  return await routeCollectorPayload(p, { resolver: acceptAll, maxJsonDepth: 50 });
}

describe('parseApiPath', () => {
  it('reads (/)vendor/version(/)', () => {
    assert.deepEqual(parseApiPath('/com.snowplowanalytics.snowplow/tp2'), {
      vendor: 'com.snowplowanalytics.snowplow',
      version: 'tp2',
    });
    assert.deepEqual(parseApiPath('com.acme/v1/'), { vendor: 'com.acme', version: 'v1' });
    assert.deepEqual(parseApiPath('/r/tp2'), { vendor: 'r', version: 'tp2' });
  });

  it('maps the legacy pixel paths to tp1', () => {
    const tp1 = { vendor: 'com.snowplowanalytics.snowplow', version: 'tp1' };
    for (const path of ['/i', '/i?e=pv', '/ice.png', '/ice.png?e=pv'])
      assert.deepEqual(parseApiPath(path), tp1, path);
  });

  it('rejects every other shape', () => {
    for (const path of ['', '/', '/a', '/a/b/c', '//b', '/a//', '/in', 'i'])
      assert.equal(parseApiPath(path), null, path);
  });
});

describe('adapterFor', () => {
  it('knows the built-in adapters', () => {
    for (const [v, ver] of [
      ['com.snowplowanalytics.snowplow', 'tp1'],
      ['com.snowplowanalytics.snowplow', 'tp2'],
      ['r', 'tp2'],
      ['com.snowplowanalytics.iglu', 'v1'],
    ]) {
      const a = adapterFor(v, ver);
      assert.ok(a, `${v}/${ver}`);
      assert.equal(a.vendor, v);
      assert.equal(a.version, ver);
    }
    assert.equal(adapterFor('com.sandgrod', 'v3'), undefined);
  });
});

describe('routeCollectorPayload', () => {
  it('routes by path', async () => {
    const tp1 = await route(payload('/i', { querystring: 'e=pv' }));
    assert.ok(tp1.ok);
    assert.equal(tp1.events[0].version, 'tp1');
    const tp2 = await route(payload('/com.snowplowanalytics.snowplow/tp2', { querystring: 'e=pv' }));
    assert.ok(tp2.ok);
    assert.equal(tp2.events[0].version, 'tp2');
    const r = await route(payload('/r/tp2', { querystring: 'u=x' }));
    assert.ok(r.ok);
    assert.equal(r.events[0].vendor, 'r');
  });

  it('V49 through the router: /i with no querystring', async () => {
    assert.deepEqual(await route(payload('/i')), {
      ok: false,
      type: 'adapter_failures',
      messages: [
        { field: 'querystring', value: null, expectation: 'empty querystring: not a valid URI redirect' },
      ],
    });
  });

  it('V50: an unsupported vendor/version is an adapter failure', async () => {
    const p = payload('/com.sandgrod/v3', { body: '{}', contentType: 'application/json' });
    const res = await route(p);
    assert.deepEqual(res, {
      ok: false,
      type: 'adapter_failures',
      messages: [
        {
          field: 'vendor/version',
          value: 'com.sandgrod/v3',
          expectation: 'vendor/version combination is not supported',
        },
      ],
    });
    assert.ok(!res.ok);
    const row = adapterFailures(FURROW_PROCESSOR, p.timestamp, 'com.sandgrod', 'v3', res.messages, p);
    assert.deepEqual(row.data.failure, {
      timestamp: '2025-04-30T10:05:00Z',
      vendor: 'com.sandgrod',
      version: 'v3',
      messages: res.messages,
    });
  });

  it('does not crash on a path the loader should have rejected', async () => {
    for (const path of [undefined, '/a/b/c']) {
      const res = await route(payload(path));
      assert.equal(res.ok, false);
    }
  });
});
