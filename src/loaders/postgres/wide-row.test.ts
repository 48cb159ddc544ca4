import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  capIdentifier,
  entityColumn,
  forEachContext,
  snakeCase,
  unstructEvent,
  vendorPart,
  withSchemaVersion,
} from './wide-row.js';

const CONTEXTS = 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1';

function collect(json: string): [string, string][] {
  const out: [string, string][] = [];
  forEachContext(json, (schema, data) => out.push([schema, data]));
  return out;
}

describe('wide-row naming', () => {
  it("snake-cases names as schema-ddl does and vendors as Snowplow's loaders do", () => {
    assert.equal(snakeCase('PerformanceTiming'), 'performance_timing');
    assert.equal(snakeCase('HTTPHeader'), 'http_header');
    assert.equal(snakeCase('web_page'), 'web_page');
    assert.equal(snakeCase('add-to-cart'), 'add_to_cart');
    assert.equal(snakeCase('Add-To-Cart'), 'add_to_cart');
    assert.equal(snakeCase('link_click2Event'), 'link_click2_event');
    assert.equal(vendorPart('com.snowplowanalytics.self-desc'), 'com_snowplowanalytics_self_desc');
    assert.equal(vendorPart('com.Acme'), 'com_acme');
  });

  it('names contexts and unstruct_event columns by vendor, name and major', () => {
    assert.deepEqual(
      entityColumn('contexts', 'iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0'),
      {
        column: 'contexts_com_snowplowanalytics_snowplow_web_page_1',
        version: '1-0-0',
      },
    );
    assert.deepEqual(entityColumn('contexts', 'iglu:org.w3/PerformanceTiming/jsonschema/1-0-0'), {
      column: 'contexts_org_w3_performance_timing_1',
      version: '1-0-0',
    });
    assert.deepEqual(
      entityColumn('unstruct_event', 'iglu:com.snowplowanalytics.self-desc/schema/jsonschema/12-3-4'),
      {
        column: 'unstruct_event_com_snowplowanalytics_self_desc_schema_12',
        version: '12-3-4',
      },
    );
    assert.equal(entityColumn('contexts', 'not an iglu uri'), null);
    assert.equal(entityColumn('contexts', 'iglu:com.acme/x/jsonschema/01-0-0'), null);
  });

  it('caps long names at the identifier limit with a stable hash, keeping distinct schemas distinct', () => {
    const a = entityColumn(
      'contexts',
      `iglu:com.example.very.long.vendor.name/${'a'.repeat(40)}_one/jsonschema/1-0-0`,
    );
    const b = entityColumn(
      'contexts',
      `iglu:com.example.very.long.vendor.name/${'a'.repeat(40)}_two/jsonschema/1-0-0`,
    );
    assert.ok(a !== null && b !== null);
    assert.equal(a.column.length, 63);
    assert.equal(b.column.length, 63);
    assert.notEqual(a.column, b.column);
    assert.equal(a.column.slice(0, 54), b.column.slice(0, 54));
    assert.equal(capIdentifier('short', 63), 'short');
    assert.equal(capIdentifier('x'.repeat(70), 63), capIdentifier('x'.repeat(70), 63));
  });
});

describe('wide-row scanning', () => {
  it('slices each entity of a contexts value without re-serialising it', () => {
    const json = `{"schema":"${CONTEXTS}","data":[{"schema":"iglu:a/b/jsonschema/1-0-0","data":{"big":12345678901234567890,"s":"x\\"}y"}},{"data":[1,{"a":"]"}],"schema":"iglu:a\\/c/jsonschema/1-0-0"}]}`;
    assert.deepEqual(collect(json), [
      ['iglu:a/b/jsonschema/1-0-0', '{"big":12345678901234567890,"s":"x\\"}y"}'],
      ['iglu:a/c/jsonschema/1-0-0', '[1,{"a":"]"}]'],
    ]);
    assert.deepEqual(collect(`{"schema":"${CONTEXTS}","data":[]}`), []);
    assert.deepEqual(
      collect(
        ` { "data" : [ { "schema" : "iglu:a/b/jsonschema/1-0-0" , "data" : null } ] , "schema":"${CONTEXTS}" } `,
      ),
      [['iglu:a/b/jsonschema/1-0-0', 'null']],
    );
  });

  it('takes the last of duplicate keys, as JSON.parse does', () => {
    const json = `{"schema":"${CONTEXTS}","data":[{"schema":"iglu:a/b/jsonschema/1-0-0","data":1,"data":2}]}`;
    assert.deepEqual(collect(json), [['iglu:a/b/jsonschema/1-0-0', '2']]);
    // compact layouts that look like the fast path's until their end
    const e = (data: string) => `{"schema":"iglu:a/b/jsonschema/1-0-0","data":${data}}`;
    assert.deepEqual(collect(`{"schema":"${CONTEXTS}","data":[${e('{"x":1}')}],"data":[${e('[2]')}]}`), [
      ['iglu:a/b/jsonschema/1-0-0', '[2]'],
    ]);
    assert.deepEqual(
      collect(
        `{"schema":"${CONTEXTS}","data":[{"schema":"iglu:a/b/jsonschema/1-0-0","data":{"x":1},"data":[3]}]}`,
      ),
      [['iglu:a/b/jsonschema/1-0-0', '[3]']],
    );
    assert.deepEqual(
      collect(
        `{"schema":"${CONTEXTS}","data":[${e('{}')},{"schema":"iglu:a\\/c/jsonschema/1-0-0","data":{}}]}`,
      ),
      [
        ['iglu:a/b/jsonschema/1-0-0', '{}'],
        ['iglu:a/c/jsonschema/1-0-0', '{}'],
      ],
    );
  });

  it('extracts the self-describing event of an unstruct_event value', () => {
    const json =
      '{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"schema":"iglu:com.acme/click/jsonschema/1-0-0","data":{"x":"\\\\"}}}';
    assert.deepEqual(unstructEvent(json), {
      schema: 'iglu:com.acme/click/jsonschema/1-0-0',
      data: '{"x":"\\\\"}',
    });
  });

  it('throws on shapes the caller should have rejected', () => {
    assert.throws(() => collect('{"schema":"x","data":{}}'), SyntaxError);
    assert.throws(() => collect('{"schema":"x","data":[{"data":1}]}'), SyntaxError);
    assert.throws(() => unstructEvent('{"schema":"x"}'), SyntaxError);
  });

  it('agrees with JSON.parse on arbitrary entity data, compact or indented', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            schema: fc.constantFrom('iglu:a/b/jsonschema/1-0-0', 'iglu:c/d/jsonschema/2-0-1'),
            data: fc.jsonValue(),
          }),
          {
            maxLength: 4,
          },
        ),
        fc.boolean(),
        (entities, indent) => {
          const value = { schema: CONTEXTS, data: entities };
          const json = indent ? JSON.stringify(value, null, 2) : JSON.stringify(value);
          const got = collect(json);
          assert.equal(got.length, entities.length);
          got.forEach(([schema, data], i) => {
            assert.equal(schema, entities[i].schema);
            assert.deepEqual(JSON.parse(data), JSON.parse(JSON.stringify(entities[i].data)));
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('adds _schema_version to object data only', () => {
    assert.equal(withSchemaVersion('{"a":1}', '1-0-0'), '{"_schema_version":"1-0-0","a":1}');
    assert.equal(withSchemaVersion('{ }', '1-0-0'), '{"_schema_version":"1-0-0"}');
    assert.equal(withSchemaVersion('[1]', '1-0-0'), '[1]');
    assert.equal(withSchemaVersion('null', '1-0-0'), 'null');
    assert.deepEqual(JSON.parse(withSchemaVersion('{"a":{"b":[]}}', '2-1-0')), {
      _schema_version: '2-1-0',
      a: { b: [] },
    });
  });
});
