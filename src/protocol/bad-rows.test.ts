import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import AjvModule from 'ajv-draft-04';
import { sharedDir } from '../../test/helpers/shared.js';
import {
  adapterFailures,
  BAD_ROW_SCHEMAS,
  collectorPayloadFormatViolation,
  collectorPayloadToBadRowPayload,
  enrichmentFailures,
  formatIsoInstant,
  loaderParsingError,
  rawEventToBadRowPayload,
  schemaViolations,
  sizeViolation,
  trackerProtocolViolations,
} from './bad-rows.js';
import type { CollectorPayload } from './collector-payload.js';
import { FIELD_NAMES } from './enriched-fields.js';
import { FURROW_PROCESSOR } from './processor.js';
import type { RawEvent } from './raw-event.js';

type AjvClass = typeof AjvModule.default;
const Ajv: AjvClass = ((AjvModule as unknown as { default?: AjvClass }).default ??
  AjvModule) as unknown as AjvClass;

const SHARED = sharedDir();
const SCHEMAS_DIR = join(SHARED ?? resolve(process.cwd(), '../shared'), 'iglu-central/schemas');

function skipReason(): string | undefined {
  if (existsSync(SCHEMAS_DIR)) return undefined;
  const reason = `bad-row schemas not found at ${SCHEMAS_DIR} (run from the repo root next to ../shared, or set FURROW_SHARED)`;
  if (process.env.CI === 'true') throw new Error(reason);
  console.log(`# skipped: ${reason}`);
  return reason;
}

// Just enough of a loader for this test: the file named by the URI, minus the Iglu meta-schema reference.
const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);

function assertValid(row: { schema: string; data: unknown }): void {
  const [, path] = /^iglu:(.+)$/.exec(row.schema)!;
  const { $schema: _ignored, ...schema } = JSON.parse(readFileSync(join(SCHEMAS_DIR, path), 'utf8'));
  const validate = ajv.compile(schema);
  const ok = validate(JSON.parse(JSON.stringify(row.data)));
  assert.ok(ok, `${row.schema}: ${ajv.errorsText(validate.errors)}`);
}

const T = Date.UTC(2025, 3, 30, 10, 5, 0);

const payload: CollectorPayload = {
  schema: 'iglu:com.snowplowanalytics.snowplow/CollectorPayload/thrift/1-0-0',
  ipAddress: '10.0.0.1',
  timestamp: T,
  encoding: 'UTF-8',
  collector: 'ssc-3.2.0-kinesis',
  userAgent: 'Mozilla/5.0',
  path: '/com.snowplowanalytics.snowplow/tp2',
  querystring: 'aid=shop&x',
  body: 'not json',
  headers: ['Host: c.example', 'text/plain'],
  contentType: 'text/plain',
  hostname: 'c.example',
  networkUserId: 'a729d278-110a-4ac6-845b-d1f12ce45ac7',
};

const raw: RawEvent = {
  vendor: 'com.snowplowanalytics.snowplow',
  version: 'tp2',
  parameters: new Map<string, string | null>([
    ['e', 'pv'],
    ['x', null],
  ]),
  contentType: 'application/json',
  loaderName: 'ssc-3.2.0-kinesis',
  encoding: 'UTF-8',
  hostname: null,
  timestamp: T + 7,
  ipAddress: '10.0.0.1',
  useragent: null,
  refererUri: null,
  headers: [],
  userId: null,
};

const enriched: Record<string, unknown> = Object.fromEntries(FIELD_NAMES.map((n) => [n, null]));
Object.assign(enriched, { app_id: 'shop', event: 'page_view', dvce_screenwidth: 1920, geo_latitude: 37.4 });

const igluError = {
  schemaKey: 'iglu:com.acme/x/jsonschema/1-0-0',
  error: {
    error: 'ValidationError',
    dataReports: [
      { message: '$.sku: is missing but it is required', path: '$', keyword: 'required', targets: ['sku'] },
    ],
  },
};

describe('formatIsoInstant', () => {
  it('prints like java.time.Instant.toString', () => {
    assert.equal(formatIsoInstant(T), '2025-04-30T10:05:00Z');
    assert.equal(formatIsoInstant(T + 7), '2025-04-30T10:05:00.007Z');
    assert.equal(formatIsoInstant(0), '1970-01-01T00:00:00Z');
    assert.equal(formatIsoInstant(Date.UTC(10000, 0, 1)), '+10000-01-01T00:00:00Z');
    assert.equal(formatIsoInstant(Date.UTC(-1, 0, 1, 0, 0, 0, 500)), '-0001-01-01T00:00:00.500Z');
  });
});

describe('payload converters', () => {
  it('renders a collector payload with decoded querystring and nulls for absent fields', () => {
    const p = collectorPayloadToBadRowPayload(
      { ...payload, body: undefined, userAgent: undefined },
      'v',
      '1',
    );
    assert.deepEqual(p, {
      vendor: 'v',
      version: '1',
      querystring: [
        { name: 'aid', value: 'shop' },
        { name: 'x', value: null },
      ],
      contentType: 'text/plain',
      body: null,
      collector: 'ssc-3.2.0-kinesis',
      encoding: 'UTF-8',
      hostname: 'c.example',
      timestamp: '2025-04-30T10:05:00Z',
      ipAddress: '10.0.0.1',
      useragent: null,
      refererUri: null,
      headers: ['Host: c.example', 'text/plain'],
      networkUserId: 'a729d278-110a-4ac6-845b-d1f12ce45ac7',
    });
  });

  it('keeps a payload whose querystring cannot be parsed', () => {
    assert.deepEqual(
      collectorPayloadToBadRowPayload({ ...payload, querystring: 'a=%zz' }, 'v', '1').querystring,
      [],
    );
  });

  it('renders a raw event with its parameters as a list', () => {
    const r = rawEventToBadRowPayload(raw);
    assert.deepEqual(r.parameters, [
      { name: 'e', value: 'pv' },
      { name: 'x', value: null },
    ]);
    assert.equal(r.timestamp, '2025-04-30T10:05:00.007Z');
    assert.equal(r.loaderName, 'ssc-3.2.0-kinesis');
    assert.deepEqual(Object.keys(r), [
      'vendor',
      'version',
      'parameters',
      'contentType',
      'loaderName',
      'encoding',
      'hostname',
      'timestamp',
      'ipAddress',
      'useragent',
      'refererUri',
      'headers',
      'userId',
    ]);
  });
});

describe('bad rows', () => {
  it('use the schema versions Enrich 6 emits', () => {
    assert.equal(
      BAD_ROW_SCHEMAS.trackerProtocolViolations.endsWith('tracker_protocol_violations/jsonschema/1-0-1'),
      true,
    );
    assert.equal(BAD_ROW_SCHEMAS.schemaViolations.endsWith('schema_violations/jsonschema/2-0-1'), true);
  });

  it('size_violation (V57), in both call forms', () => {
    const row = sizeViolation(
      FURROW_PROCESSOR,
      {
        timestamp: T,
        maximumAllowedSizeBytes: 100,
        actualSizeBytes: 250,
        expectation: 'Enriched event exceeds the maximum allowed size of 100 bytes',
      },
      'x'.repeat(10),
    );
    assert.deepEqual(row, {
      schema: 'iglu:com.snowplowanalytics.snowplow.badrows/size_violation/jsonschema/1-0-0',
      data: {
        processor: { artifact: 'furrow-enrich', version: '0.1.0' },
        failure: {
          timestamp: '2025-04-30T10:05:00Z',
          maximumAllowedSizeBytes: 100,
          actualSizeBytes: 250,
          expectation: 'Enriched event exceeds the maximum allowed size of 100 bytes',
        },
        payload: 'xxxxxxxxxx',
      },
    });
    assert.deepEqual(
      sizeViolation(
        FURROW_PROCESSOR,
        T,
        100,
        250,
        'Enriched event exceeds the maximum allowed size of 100 bytes',
        'x'.repeat(10),
      ),
      row,
    );
  });

  it('collector_payload_format_violation carries the raw bytes in standard base64 (V56)', () => {
    const row = collectorPayloadFormatViolation(
      FURROW_PROCESSOR,
      T,
      { error: 'error deserializing raw event: Unrecognized type 110' },
      Uint8Array.from([0xfb, 0xff, 0x6e]),
    );
    assert.deepEqual(row.data.failure, {
      timestamp: '2025-04-30T10:05:00Z',
      loader: 'thrift',
      message: { error: 'error deserializing raw event: Unrecognized type 110' },
    });
    assert.equal(row.data.payload, '+/9u');
    assert.deepEqual(Object.keys(row.data), ['processor', 'failure', 'payload']);
  });

  it('adapter_failures (V50)', () => {
    const row = adapterFailures(
      FURROW_PROCESSOR,
      T,
      'com.sandgrod',
      'v3',
      [
        {
          field: 'vendor/version',
          value: 'com.sandgrod/v3',
          expectation: 'vendor/version combination is not supported',
        },
      ],
      payload,
    );
    assert.equal(row.schema, 'iglu:com.snowplowanalytics.snowplow.badrows/adapter_failures/jsonschema/1-0-0');
    assert.deepEqual(Object.keys(row.data.failure), ['timestamp', 'vendor', 'version', 'messages']);
    assert.equal(row.data.payload.vendor, 'com.sandgrod');
  });

  it('validate against the Iglu Central bad-row schemas', (t) => {
    const reason = skipReason();
    if (reason !== undefined) return t.skip(reason);
    assertValid(
      sizeViolation(
        FURROW_PROCESSOR,
        { timestamp: T, maximumAllowedSizeBytes: 100, actualSizeBytes: 250, expectation: 'too big' },
        'x',
      ),
    );
    assertValid(
      collectorPayloadFormatViolation(FURROW_PROCESSOR, T, { error: 'boom' }, Uint8Array.from([1, 2])),
    );
    assertValid(
      collectorPayloadFormatViolation(
        FURROW_PROCESSOR,
        T + 1,
        { payloadField: 'path', value: null, expectation: 'request does not contain a path' },
        Uint8Array.from([]),
      ),
    );
    assertValid(
      adapterFailures(
        FURROW_PROCESSOR,
        T,
        'com.snowplowanalytics.snowplow',
        'tp1',
        [{ field: 'querystring', value: null, expectation: 'empty querystring: not a valid URI redirect' }],
        {
          ...payload,
          querystring: undefined,
          body: undefined,
          contentType: undefined,
          networkUserId: undefined,
        },
      ),
    );
    assertValid(
      trackerProtocolViolations(
        FURROW_PROCESSOR,
        T,
        'com.snowplowanalytics.snowplow',
        'tp2',
        [
          { field: 'body', value: 'not json', error: 'invalid json: Unexpected token' },
          { json: { not: 'self-desc' }, error: 'INVALID_DATA_PAYLOAD' },
          {
            schemaKey: 'iglu:com.acme/x/jsonschema/1-0-0',
            schemaCriterion: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-*',
          },
          igluError,
          { field: 'contentType', value: 'text/plain', expectation: 'expected one of application/json' },
        ],
        payload,
      ),
    );
    assertValid(
      schemaViolations(
        FURROW_PROCESSOR,
        T,
        [
          igluError,
          {
            schemaKey: 'iglu:com.acme/y/jsonschema/1-0-0',
            error: {
              error: 'ResolutionError',
              lookupHistory: [
                {
                  repository: 'Iglu Central',
                  errors: [{ error: 'NotFound' }],
                  attempts: 1,
                  lastAttempt: '2025-04-30T10:05:00Z',
                },
              ],
            },
          },
        ],
        enriched,
        raw,
      ),
    );
    assertValid(
      enrichmentFailures(
        FURROW_PROCESSOR,
        T,
        [
          {
            enrichment: {
              schemaKey: 'iglu:com.snowplowanalytics.snowplow/javascript_script_config/jsonschema/1-0-0',
              identifier: 'Javascript enrichment',
            },
            message: { error: 'Error compiling JavaScript function: [...]' },
          },
          {
            enrichment: null,
            message: { field: 'event', value: null, expectation: 'trying to extract the schema' },
          },
        ],
        enriched,
        raw,
      ),
    );
    assertValid(loaderParsingError(FURROW_PROCESSOR, { type: 'FieldNumberMismatch', fieldCount: 2 }, 'a\tb'));
    assertValid(
      loaderParsingError(
        FURROW_PROCESSOR,
        {
          type: 'RowDecodingError',
          errors: [{ type: 'InvalidValue', key: 'tr_tax_base', value: 'bad', message: 'x' }],
        },
        'a\tb',
      ),
    );
  });

  it('the schema check catches a malformed row', (t) => {
    const reason = skipReason();
    if (reason !== undefined) return t.skip(reason);
    const row = adapterFailures(
      FURROW_PROCESSOR,
      T,
      'v',
      '1',
      [{ field: 'x', expectation: 'no value' }],
      payload,
    );
    assert.throws(() => assertValid(row), /must have required property 'value'|must match/);
  });
});
