/**
 * currency_conversion against a loopback server answering like the Open Exchange Rates API: the request (day,
 * app_id, base), exact decimal results and Snowplow's rounding, one request per day, the failure messages.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { sharedResolver } from '../../../test/helpers/enricher.js';
import { requireShared } from '../../../test/helpers/shared.js';
import { COLLECTOR_PAYLOAD_SCHEMA, type CollectorPayload } from '../../protocol/collector-payload.js';
import { F } from '../../protocol/enriched-fields.js';
import { Enricher, type EnrichOutput } from '../pipeline.js';
import {
  currencyConversionEnrichment,
  decFromDouble,
  parseDec,
  reciprocal,
  setScaleHalfEven,
  toPlainString,
} from './currency-conversion.js';
import type { Enrichment, EnrichmentConfig } from './types.js';

const USD_RATES = { EUR: 0.916284, GBP: 0.782155, JPY: 148.29, USD: 1 };
const EUR_RATES = { EUR: 1, GBP: 0.853622, USD: 1.091365 };

let server: Server;
let baseUrl = '';
const requests: string[] = [];

before(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://localhost');
    res.setHeader('content-type', 'application/json; charset=utf-8');
    if (url.searchParams.get('app_id') !== 'KEY') {
      res.statusCode = 401;
      res.end(
        JSON.stringify({
          error: true,
          status: 401,
          message: 'invalid_app_id',
          description: 'Invalid App ID provided.',
        }),
      );
      return;
    }
    const m = /^\/api\/historical\/(\d{4}-\d{2}-\d{2})\.json$/.exec(url.pathname);
    if (m === null) {
      res.statusCode = 404;
      res.end(JSON.stringify({ error: true, status: 404, message: 'not_found', description: 'Not found' }));
      return;
    }
    const base = url.searchParams.get('base') ?? 'USD';
    res.end(
      JSON.stringify({
        disclaimer: 'Usage subject to terms: https://openexchangerates.org/terms',
        license: 'https://openexchangerates.org/license',
        timestamp: Date.parse(`${m[1]}T23:59:59Z`) / 1000,
        base,
        rates: base === 'EUR' ? EUR_RATES : USD_RATES,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
});

after(
  () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
);

function config(parameters: Record<string, unknown>): EnrichmentConfig {
  return {
    schemaKey: 'iglu:com.snowplowanalytics.snowplow/currency_conversion_config/jsonschema/1-0-0',
    vendor: 'com.snowplowanalytics.snowplow',
    name: 'currency_conversion_config',
    enabled: true,
    parameters: {
      apiKey: 'KEY',
      baseCurrency: 'EUR',
      rateAt: 'EOD_PRIOR',
      accountType: 'DEVELOPER',
      apiBaseUrl: baseUrl,
      ...parameters,
    },
  };
}

const DAY = Date.UTC(2024, 2, 14, 10, 30);

function payload(params: Record<string, string>, timestamp = DAY): CollectorPayload {
  return {
    schema: COLLECTOR_PAYLOAD_SCHEMA,
    ipAddress: '10.0.0.1',
    timestamp,
    encoding: 'UTF-8',
    collector: 'ssc-3.4.0-kafka',
    path: '/i',
    querystring: new URLSearchParams({ p: 'web', tv: 'js-4.10.1', ...params }).toString(),
    headers: [],
  };
}

const TR = { e: 'tr', tr_id: 'order-1', tr_tt: '8000', tr_tx: '200', tr_sh: '50', tr_cu: 'GBP' };

async function run(shared: string, e: Enrichment, p: CollectorPayload) {
  const out: EnrichOutput = { good: [], bad: [] };
  await new Enricher({ resolver: sharedResolver(shared), enrichments: [e] }).processPayload(p, out);
  return { good: out.good.map((l) => l.split('\t')), bad: out.bad.map((b) => JSON.parse(b)) };
}

test('decimal helpers follow java.math.BigDecimal', () => {
  assert.equal(toPlainString(decFromDouble(11.99)), '11.9900000000000002131628207280300557613372802734375');
  assert.equal(toPlainString(decFromDouble(8000)), '8000');
  assert.equal(toPlainString(reciprocal(parseDec('0.782155'), 6)), '1.278519');
  assert.equal(toPlainString(setScaleHalfEven(parseDec('0.125'), 2)), '0.12');
  assert.equal(toPlainString(setScaleHalfEven(parseDec('-0.135'), 2)), '-0.14');
  assert.equal(toPlainString(setScaleHalfEven(parseDec('1234.5'), 0)), '1234');
  assert.equal(toPlainString(parseDec('1.5e-7')), '0.00000015');
});

test('developer account: historical/<collector day>.json without base, amounts converted and rounded like Snowplow', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  requests.length = 0;
  const e = await currencyConversionEnrichment.create(config({}), {
    resolver: sharedResolver(shared),
    baseDir: '.',
  });
  const { good, bad } = await run(shared, e, payload(TR));
  assert.deepEqual(bad, []);
  const v = good[0];
  assert.equal(v[F.base_currency], 'EUR');
  // round6(1 / 0.782155) × 0.916284 = 1.171479… (values checked with Python's decimal module)
  assert.equal(v[F.tr_total_base], '9371.89');
  assert.equal(v[F.tr_tax_base], '234.30');
  assert.equal(v[F.tr_shipping_base], '58.57');
  assert.equal(v[F.ti_price_base], '');
  assert.deepEqual(requests, ['/api/historical/2024-03-14.json?app_id=KEY']);

  // Same day again and a transaction item: no new request; JPY → EUR; EUR → EUR only rounds, at the double's
  // exact binary value (1.015 is 1.01499999… so HALF_EVEN gives 1.01).
  let r = await run(
    shared,
    e,
    payload(
      { e: 'ti', ti_id: 'order-1', ti_sk: 'sku', ti_pr: '1250', ti_qu: '1', ti_cu: 'JPY' },
      DAY + 3600_000,
    ),
  );
  assert.equal(r.good[0][F.ti_price_base], '7.72');
  r = await run(
    shared,
    e,
    payload({ e: 'ti', ti_id: 'order-1', ti_sk: 'sku', ti_pr: '1.015', ti_qu: '1', ti_cu: 'EUR' }),
  );
  assert.equal(r.good[0][F.ti_price_base], '1.01');
  assert.equal(requests.length, 1, 'rates are cached per day');
});

test('enterprise account asks for the configured base', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  requests.length = 0;
  const e = await currencyConversionEnrichment.create(config({ accountType: 'ENTERPRISE' }), {
    resolver: sharedResolver(shared),
    baseDir: '.',
  });
  const { good, bad } = await run(shared, e, payload(TR, Date.UTC(2024, 2, 15, 1)));
  assert.deepEqual(bad, []);
  assert.equal(good[0][F.tr_total_base], '9371.83');
  assert.deepEqual(requests, ['/api/historical/2024-03-15.json?app_id=KEY&base=EUR']);
});

test('events without money only get base_currency', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  requests.length = 0;
  const e = await currencyConversionEnrichment.create(config({}), {
    resolver: sharedResolver(shared),
    baseDir: '.',
  });
  const { good } = await run(shared, e, payload({ e: 'pv' }));
  assert.equal(good[0][F.base_currency], 'EUR');
  assert.equal(good[0][F.tr_total_base], '');
  assert.deepEqual(requests, []);
});

async function failureMessages(shared: string, parameters: Record<string, unknown>, p: CollectorPayload) {
  const e = await currencyConversionEnrichment.create(config(parameters), {
    resolver: sharedResolver(shared),
    baseDir: '.',
  });
  const { good, bad } = await run(shared, e, p);
  assert.equal(good.length, 0);
  assert.equal(bad.length, 1);
  assert.equal(
    bad[0].schema,
    'iglu:com.snowplowanalytics.snowplow.badrows/enrichment_failures/jsonschema/2-0-1',
  );
  return bad[0].data.failure.messages as Array<{ enrichment: unknown; message: unknown }>;
}

const INFO = {
  schemaKey: 'iglu:com.snowplowanalytics.snowplow/currency_conversion_config/jsonschema/1-0-0',
  identifier: 'currency-conversion',
};

test('failures: unknown currency, API error, currency missing from the rates, date before OER data', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  assert.deepEqual(
    await failureMessages(shared, {}, payload({ e: 'tr', tr_id: 'o', tr_tt: '10', tr_cu: 'XYZ' })),
    [
      {
        enrichment: INFO,
        message: { field: 'tr_currency', value: 'XYZ', expectation: "Unknown currency 'XYZ'" },
      },
    ],
  );
  assert.deepEqual(
    await failureMessages(
      shared,
      { apiKey: 'WRONG' },
      payload({ e: 'tr', tr_id: 'o', tr_tt: '10', tr_cu: 'GBP' }),
    ),
    [
      {
        enrichment: INFO,
        message: { error: 'Open Exchange Rates error, type: [OtherErrors], message: [invalid_app_id]' },
      },
    ],
  );
  assert.deepEqual(
    await failureMessages(
      shared,
      {},
      payload({ e: 'ti', ti_id: 'o', ti_sk: 's', ti_pr: '10', ti_qu: '1', ti_cu: 'CHF' }),
    ),
    [
      {
        enrichment: INFO,
        message: {
          error:
            'Open Exchange Rates error, type: [IllegalCurrency], message: [Currency not found in the API, invalid currency CHF]',
        },
      },
    ],
  );
  assert.deepEqual(
    await failureMessages(
      shared,
      {},
      payload({ e: 'tr', tr_id: 'o', tr_tt: '10', tr_cu: 'GBP' }, Date.UTC(1998, 4, 1, 12)),
    ),
    [
      {
        enrichment: INFO,
        message: {
          error:
            'Open Exchange Rates error, type: [ResourcesNotAvailable], message: [Exchange rate unavailable on the date [1998-05-01T00:00Z[UTC]]]',
        },
      },
    ],
  );
});

test('configuration errors name the key', () => {
  const env = { resolver: sharedResolver('.'), baseDir: '.' };
  assert.throws(
    () => currencyConversionEnrichment.create(config({ baseCurrency: 'EURO' }), env),
    /parameters\.baseCurrency: expected an ISO 4217/,
  );
  assert.throws(
    () => currencyConversionEnrichment.create(config({ accountType: 'FREE' }), env),
    /parameters\.accountType/,
  );
  assert.throws(() => currencyConversionEnrichment.create(config({ apiKey: 3 }), env), /parameters\.apiKey/);
  assert.throws(
    () => currencyConversionEnrichment.create(config({ apiBaseUrl: 'ftp://x' }), env),
    /parameters\.apiBaseUrl/,
  );
});
