import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Resolver } from '../../iglu/types.js';
import { adapterFailures } from '../../protocol/bad-rows.js';
import type { CollectorPayload } from '../../protocol/collector-payload.js';
import { FURROW_PROCESSOR } from '../../protocol/processor.js';
import { tp1Adapter } from './tp1.js';
import type { AdapterContext, AdapterResult } from './types.js';

const noIglu: Resolver = {
  check: () => assert.fail('tp1 never asks Iglu'),
  lookupSchema: () => assert.fail('tp1 never asks Iglu'),
};
const ctx: AdapterContext = { resolver: noIglu, maxJsonDepth: 50 };

function payload(over: Partial<CollectorPayload> = {}): CollectorPayload {
  return {
    schema: 'iglu:com.snowplowanalytics.snowplow/CollectorPayload/thrift/1-0-0',
    ipAddress: '10.0.0.1',
    timestamp: 1_700_000_000_000,
    encoding: 'UTF-8',
    collector: 'ssc-3.2.0-kinesis',
    path: '/i',
    headers: ['Host: c.example'],
    ...over,
  };
}

describe('tp1 adapter', () => {
  it('turns the querystring into one raw event carrying the collector context', () => {
    const res = tp1Adapter.toRawEvents(
      payload({
        querystring: 'e=pv&p=web&uid=alex+123&e=pp&x',
        userAgent: 'UA',
        refererUri: 'http://r/',
        hostname: 'c.example',
        networkUserId: 'a729d278-110a-4ac6-845b-d1f12ce45ac7',
      }),
      ctx,
    ) as AdapterResult;
    assert.ok(res.ok);
    assert.equal(res.events.length, 1);
    const ev = res.events[0];
    assert.deepEqual(
      [...ev.parameters],
      [
        ['e', 'pp'],
        ['p', 'web'],
        ['uid', 'alex 123'],
        ['x', null],
      ],
    );
    assert.deepEqual(
      { ...ev, parameters: undefined },
      {
        vendor: 'com.snowplowanalytics.snowplow',
        version: 'tp1',
        parameters: undefined,
        contentType: null,
        loaderName: 'ssc-3.2.0-kinesis',
        encoding: 'UTF-8',
        hostname: 'c.example',
        timestamp: 1_700_000_000_000,
        ipAddress: '10.0.0.1',
        useragent: 'UA',
        refererUri: 'http://r/',
        headers: ['Host: c.example'],
        userId: 'a729d278-110a-4ac6-845b-d1f12ce45ac7',
      },
    );
  });

  it('V49: GET /i with an empty querystring is an adapter failure', () => {
    for (const querystring of [undefined, '', '&&']) {
      const res = tp1Adapter.toRawEvents(payload({ querystring }), ctx) as AdapterResult;
      assert.deepEqual(res, {
        ok: false,
        type: 'adapter_failures',
        messages: [
          { field: 'querystring', value: null, expectation: 'empty querystring: not a valid URI redirect' },
        ],
      });
    }
    const res = tp1Adapter.toRawEvents(payload(), ctx) as AdapterResult;
    assert.ok(!res.ok);
    const row = adapterFailures(
      FURROW_PROCESSOR,
      0,
      tp1Adapter.vendor,
      tp1Adapter.version,
      res.messages,
      payload(),
    );
    assert.equal(row.schema, 'iglu:com.snowplowanalytics.snowplow.badrows/adapter_failures/jsonschema/1-0-0');
    assert.equal(row.data.failure.vendor, 'com.snowplowanalytics.snowplow');
    assert.equal(row.data.failure.version, 'tp1');
  });

  it('reports an unparseable querystring instead of throwing', () => {
    const res = tp1Adapter.toRawEvents(payload({ querystring: 'e=%zz' }), ctx) as AdapterResult;
    assert.ok(!res.ok);
    assert.equal(res.type, 'adapter_failures');
    assert.match(JSON.stringify(res.messages), /Malformed escape pair/);
  });
});
