import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Resolver } from '../../iglu/types.js';
import type { CollectorPayload } from '../../protocol/collector-payload.js';
import { igluWebhookAdapter } from './iglu-webhook.js';
import type { AdapterResult } from './types.js';

const noIglu: Resolver = {
  check: () => assert.fail('the Iglu webhook validates later, in enrich'),
  lookupSchema: () => assert.fail('the Iglu webhook validates later, in enrich'),
};

function run(over: Partial<CollectorPayload>): AdapterResult {
  const p: CollectorPayload = {
    schema: 'iglu:com.snowplowanalytics.snowplow/CollectorPayload/thrift/1-0-0',
    ipAddress: '10.0.0.1',
    timestamp: 1_700_000_000_000,
    encoding: 'UTF-8',
    collector: 'ssc-3.2.0-kinesis',
    path: '/com.snowplowanalytics.iglu/v1',
    ...over,
  };
  const res = igluWebhookAdapter.toRawEvents(p, { resolver: noIglu, maxJsonDepth: 50 });
  assert.ok(!(res instanceof Promise));
  return res;
}

function events(res: AdapterResult): Array<Record<string, string | null>> {
  assert.ok(res.ok, JSON.stringify(res));
  for (const e of res.events) {
    assert.equal(e.vendor, 'com.snowplowanalytics.iglu');
    assert.equal(e.version, 'v1');
  }
  return res.events.map((e) => Object.fromEntries(e.parameters));
}

function failures(res: AdapterResult): unknown[] {
  assert.ok(!res.ok);
  assert.equal(res.type, 'adapter_failures');
  return res.messages;
}

const CAMPAIGN = 'iglu:com.acme/campaign/jsonschema/1-0-0';
const UE = 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0';

describe('Iglu webhook adapter', () => {
  it('V42: GET with `schema`: the other parameters are the data, empty strings null', () => {
    const [ev] = events(
      run({
        querystring: `schema=${CAMPAIGN}&user=6353af9b-e288-4cf3-9f1c-b377a9c84dac&name=download&publisher_name=Organic&source=&tracking_id=&ad_unit=`,
      }),
    );
    assert.equal(ev.tv, 'com.snowplowanalytics.iglu-v1');
    assert.equal(ev.e, 'ue');
    assert.equal(ev.p, 'app');
    assert.deepEqual(JSON.parse(ev.ue_pr!), {
      schema: UE,
      data: {
        schema: CAMPAIGN,
        data: {
          name: 'download',
          source: null,
          ad_unit: null,
          tracking_id: null,
          publisher_name: 'Organic',
          user: '6353af9b-e288-4cf3-9f1c-b377a9c84dac',
        },
      },
    });
    assert.deepEqual(Object.keys(ev), ['tv', 'e', 'p', 'ue_pr']);
  });

  it('GET: request parameters stay out of the data; nuid, aid, cv, eid, ttm, url and p are carried over', () => {
    const [ev] = events(
      run({ querystring: `schema=${CAMPAIGN}&aid=app1&nuid=n&cv=c&p=mob&eid=e1&ttm=1&url=u&name=x&other` }),
    );
    assert.deepEqual(ev, {
      tv: 'com.snowplowanalytics.iglu-v1',
      e: 'ue',
      p: 'mob',
      ue_pr: JSON.stringify({
        schema: UE,
        data: { schema: CAMPAIGN, data: { eid: 'e1', ttm: '1', url: 'u', name: 'x', other: null } },
      }),
      aid: 'app1',
      nuid: 'n',
      cv: 'c',
      eid: 'e1',
      ttm: '1',
      url: 'u',
    });
  });

  it('POST JSON object → one event, array → one per element', () => {
    const one = events(
      run({ querystring: `schema=${CAMPAIGN}`, body: '{"a":1}', contentType: 'application/json' }),
    );
    assert.equal(one.length, 1);
    assert.equal(one[0].p, 'app');
    assert.deepEqual(JSON.parse(one[0].ue_pr!).data, { schema: CAMPAIGN, data: { a: 1 } });
    const many = events(
      run({
        querystring: `schema=${CAMPAIGN}`,
        body: '[{"a":1},{"a":2}]',
        contentType: 'application/json; charset=utf-8',
      }),
    );
    assert.deepEqual(
      many.map((e) => JSON.parse(e.ue_pr!).data.data),
      [{ a: 1 }, { a: 2 }],
    );
    assert.deepEqual(
      failures(run({ querystring: `schema=${CAMPAIGN}`, body: '[]', contentType: 'application/json' })),
      [{ field: 'body', value: '[]', expectation: 'empty array of events' }],
    );
    const [nj] = failures(
      run({ querystring: `schema=${CAMPAIGN}`, body: '{', contentType: 'application/json' }),
    ) as Array<Record<string, unknown>>;
    assert.equal(nj.field, 'body');
    assert.match(String(nj.error), /^invalid json: /);
  });

  it('POST form body → an object of strings, platform srv', () => {
    const [ev] = events(
      run({
        querystring: `schema=${CAMPAIGN}&aid=a`,
        body: 'name=download&source=x+y&flag',
        contentType: 'application/x-www-form-urlencoded',
      }),
    );
    assert.equal(ev.p, 'srv');
    assert.equal(ev.aid, 'a');
    assert.deepEqual(JSON.parse(ev.ue_pr!).data.data, { name: 'download', source: 'x y' });
  });

  it('POST a self-describing body without `schema`', () => {
    const [ev] = events(
      run({
        body: JSON.stringify({ schema: CAMPAIGN, data: { name: 'n' } }),
        contentType: 'application/json',
        querystring: 'aid=x',
      }),
    );
    assert.deepEqual(JSON.parse(ev.ue_pr!), { schema: UE, data: { schema: CAMPAIGN, data: { name: 'n' } } });
    assert.equal(ev.p, 'app');
    assert.equal(ev.aid, 'x');
    assert.deepEqual(failures(run({ body: '{"name":"n"}', contentType: 'application/json' })), [
      { json: { name: 'n' }, error: 'INVALID_DATA_PAYLOAD' },
    ]);
    assert.deepEqual(failures(run({ body: 'a=b', contentType: 'application/x-www-form-urlencoded' })), [
      {
        field: 'contentType',
        value: 'application/x-www-form-urlencoded',
        expectation: 'expected one of application/json, application/json; charset=utf-8',
      },
    ]);
  });

  it('failures: neither schema nor body, body without content type, bad schema, unsupported content type', () => {
    assert.deepEqual(failures(run({})), [
      { field: 'schema', value: null, expectation: 'empty `schema` field' },
      { field: 'body', value: null, expectation: 'empty body' },
    ]);
    assert.deepEqual(failures(run({ querystring: `schema=${CAMPAIGN}`, body: '{}' })), [
      {
        field: 'contentType',
        value: null,
        expectation:
          'expected one of application/json, application/json; charset=utf-8, application/x-www-form-urlencoded',
      },
    ]);
    assert.deepEqual(failures(run({ querystring: 'schema=com.acme/campaign/1-0-0' })), [
      { field: 'schema', value: 'com.acme/campaign/1-0-0', expectation: 'INVALID_IGLUURI' },
    ]);
    assert.deepEqual(failures(run({ querystring: 'schema=iglu:com.acme/campaign/jsonschema/1-0' })), [
      { field: 'schema', value: 'iglu:com.acme/campaign/jsonschema/1-0', expectation: 'INVALID_IGLUURI' },
    ]);
    assert.deepEqual(failures(run({ querystring: 'schema=iglu:com.acme/campaign/jsonschema/1-01-0' })), [
      {
        field: 'schema',
        value: 'iglu:com.acme/campaign/jsonschema/1-01-0',
        expectation: 'INVALID_SCHEMAVER',
      },
    ]);
    assert.deepEqual(
      failures(run({ querystring: `schema=${CAMPAIGN}`, body: 'x', contentType: 'text/plain' })),
      [
        {
          field: 'contentType',
          value: 'text/plain',
          expectation:
            'expected one of application/json, application/json; charset=utf-8, application/x-www-form-urlencoded',
        },
      ],
    );
  });
});
