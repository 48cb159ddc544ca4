import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Resolver } from '../../iglu/types.js';
import { decodeBase64Lenient, encodeBase64Url } from '../../protocol/base64.js';
import type { CollectorPayload } from '../../protocol/collector-payload.js';
import { redirectAdapter } from './redirect.js';
import type { AdapterResult } from './types.js';

const noIglu: Resolver = {
  check: () => assert.fail('the redirect adapter never asks Iglu'),
  lookupSchema: () => assert.fail('the redirect adapter never asks Iglu'),
};

function run(querystring?: string): AdapterResult {
  const p: CollectorPayload = {
    schema: 'iglu:com.snowplowanalytics.snowplow/CollectorPayload/thrift/1-0-0',
    ipAddress: '10.0.0.1',
    timestamp: 1_700_000_000_000,
    encoding: 'UTF-8',
    collector: 'ssc-3.2.0-kinesis',
    path: '/r/tp2',
    querystring,
  };
  const res = redirectAdapter.toRawEvents(p, { resolver: noIglu, maxJsonDepth: 50 });
  assert.ok(!(res instanceof Promise));
  return res;
}

function params(res: AdapterResult): Record<string, string | null> {
  assert.ok(res.ok, JSON.stringify(res));
  assert.equal(res.events.length, 1);
  assert.equal(res.events[0].vendor, 'r');
  assert.equal(res.events[0].version, 'tp2');
  return Object.fromEntries(res.events[0].parameters);
}

const U = 'https://github.com/snowplow/snowplow';
const REDIRECT = {
  schema: 'iglu:com.snowplowanalytics.snowplow/uri_redirect/jsonschema/1-0-0',
  data: { uri: U },
};

describe('redirect adapter', () => {
  it('V40: without `e` the redirect is the event; cx stays as it is', () => {
    const res = run(`u=${U}&cx=dGVzdHRlc3R0ZXN0`);
    assert.deepEqual(params(res), {
      cx: 'dGVzdHRlc3R0ZXN0',
      e: 'ue',
      ue_pr:
        '{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"schema":"iglu:com.snowplowanalytics.snowplow/uri_redirect/jsonschema/1-0-0","data":{"uri":"https://github.com/snowplow/snowplow"}}}',
      tv: 'r-tp2',
      p: 'web',
    });
    assert.ok(res.ok);
    assert.deepEqual([...res.events[0].parameters.keys()], ['cx', 'e', 'ue_pr', 'tv', 'p']);
  });

  it('V41: with `e` and an empty `co`, a new contexts entity list is created', () => {
    assert.deepEqual(params(run(`u=${U}&e=se&aid=ads&co=`)), {
      e: 'se',
      aid: 'ads',
      co: '{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1","data":[{"schema":"iglu:com.snowplowanalytics.snowplow/uri_redirect/jsonschema/1-0-0","data":{"uri":"https://github.com/snowplow/snowplow"}}]}',
      tv: 'r-tp2',
      p: 'web',
    });
    // no co at all: same
    assert.equal(params(run(`u=${U}&e=se`)).co, params(run(`u=${U}&e=se&co=`)).co);
  });

  it('prepends the redirect to an existing co', () => {
    const co = JSON.stringify({
      schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0',
      data: [{ schema: 'iglu:com.acme/x/jsonschema/1-0-0', data: { a: 1 } }],
    });
    const out = params(run(`e=pv&u=${encodeURIComponent(U)}&co=${encodeURIComponent(co)}&p=mob`));
    assert.deepEqual(JSON.parse(out.co!), {
      schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0',
      data: [REDIRECT, { schema: 'iglu:com.acme/x/jsonschema/1-0-0', data: { a: 1 } }],
    });
    assert.equal(out.p, 'mob');
    assert.equal('u' in out, false);
  });

  it('prepends the redirect to an existing cx, decoded and re-encoded', () => {
    const cx = encodeBase64Url(
      JSON.stringify({
        schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0',
        data: [{ schema: 'iglu:com.acme/x/jsonschema/1-0-0', data: { b: 'ü' } }],
      }),
    );
    const out = params(run(`e=pv&u=${U}&cx=${cx}`));
    assert.equal('co' in out, false);
    assert.match(out.cx!, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(JSON.parse(decodeBase64Lenient(out.cx!)).data, [
      REDIRECT,
      { schema: 'iglu:com.acme/x/jsonschema/1-0-0', data: { b: 'ü' } },
    ]);
  });

  it('an existing co that is not JSON is a violation', () => {
    const res = run(`e=pv&u=${U}&co=oops`);
    assert.ok(!res.ok);
    assert.equal(res.type, 'tracker_protocol_violations');
    const [m] = res.messages as unknown as Array<Record<string, unknown>>;
    assert.equal(m.field, 'co');
    assert.equal(m.value, 'oops');
    assert.match(String(m.error), /^invalid json: /);
  });

  it('a missing `u` is a violation listing the parameters', () => {
    assert.deepEqual(run('e=pv&aid&p=web'), {
      ok: false,
      type: 'tracker_protocol_violations',
      messages: [
        {
          field: 'querystring',
          value: 'e=pv&aid=null&p=web',
          expectation: 'missing `u` parameter: not a valid URI redirect',
        },
      ],
    });
    assert.equal(run('u&e=pv').ok, false);
  });

  it('an empty querystring is a violation', () => {
    assert.deepEqual(run(undefined), {
      ok: false,
      type: 'tracker_protocol_violations',
      messages: [
        { field: 'querystring', value: null, expectation: 'empty querystring: not a valid URI redirect' },
      ],
    });
  });
});
