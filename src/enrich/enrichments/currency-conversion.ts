/**
 * currency_conversion enrichment (spec §4.11): `tr_total/tr_tax/tr_shipping` (in `tr_currency`) and `ti_price`
 * (in `ti_currency`) converted into the configured base currency with Open Exchange Rates' end-of-day rates,
 * written to the `*_base` fields; `base_currency` is set on every event.
 *
 * Arithmetic follows scala-forex + Joda-Money exactly, in decimal (BigInt) arithmetic, never through binary
 * floating point: the amount is the event's value as a Java `double` taken at its exact binary value
 * (`new BigDecimal(double)`), the rate is `round6(1 / rate[from]) × rate[to]` (`divide(…, 6, HALF_EVEN)`), and
 * the product is rounded HALF_EVEN to the target currency's minor units (`toMoney(HALF_EVEN)`), then printed
 * with `toPlainString` (`12.50`, `1234` for JPY).
 *
 * Which day: scala-forex's `at(collector_tstamp)` (EodRoundDown) truncates the collector timestamp to its UTC
 * day and asks for `historical/<that day>.json`, the rates OER published at the close of the previous day
 * boundary Snowplow calls "EOD_PRIOR". Rates are fetched once per day and kept in an LRU.
 *
 * `apiBaseUrl` is a Furrow addition (default `https://openexchangerates.org/api`) so that tests and air-gapped
 * installs can point at another server that speaks the same API; the Iglu schema of the config
 * (`currency_conversion_config/1-0-0`, `additionalProperties: false`) does not know it.
 *
 * @example
 * {"schema":"iglu:com.snowplowanalytics.snowplow/currency_conversion_config/jsonschema/1-0-0",
 *  "data":{"vendor":"com.snowplowanalytics.snowplow","name":"currency_conversion_config","enabled":true,
 *          "parameters":{"accountType":"DEVELOPER","apiKey":"…","baseCurrency":"EUR","rateAt":"EOD_PRIOR"}}}
 */
import currencyCodes from 'currency-codes';
import { Lru } from '../../iglu/lru.js';
import { F } from '../../protocol/enriched-fields.js';
import type { EnrichedEvent } from '../event.js';
import {
  type Enrichment,
  type EnrichmentConfig,
  EnrichmentConfigError,
  type EnrichmentDefinition,
  type EnrichmentFailure,
  type EnrichmentInfo,
  ORDER,
  type StepOutcome,
} from './types.js';

export const DEFAULT_OER_BASE_URL = 'https://openexchangerates.org/api';

const MS_PER_DAY = 86_400_000;
/** OER has no data before 1999-01-01 (scala-forex refuses earlier dates without asking). */
const OER_DATA_FROM_MS = Date.UTC(1999, 0, 1);
const REQUEST_TIMEOUT_MS = 10_000;
const DAYS_CACHED = 1024;

// --- decimal arithmetic (java.math.BigDecimal subset) -----------------------------------------------------

/** `unscaled × 10^-scale`, as `java.math.BigDecimal` holds it. */
export interface Dec {
  unscaled: bigint;
  scale: number;
}

const TEN = 10n;

function pow10(n: number): bigint {
  return TEN ** BigInt(n);
}

/** A decimal literal (`123`, `-0.25`, `1.5e-7`) at its textual scale, like `new BigDecimal(String)`. */
export function parseDec(text: string): Dec {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (m === null || (m[2] === '' && (m[3] ?? '') === '')) throw new Error(`not a decimal: ${text}`);
  const frac = m[3] ?? '';
  const digits = BigInt((m[2] || '0') + frac);
  const scale = frac.length - (m[4] === undefined ? 0 : Number(m[4]));
  return { unscaled: m[1] === '-' ? -digits : digits, scale };
}

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/** The exact value of a binary double, as `new BigDecimal(double)` gives it. */
export function decFromDouble(x: number): Dec {
  if (!Number.isFinite(x)) throw new Error(`not a finite number: ${x}`);
  if (x === 0) return { unscaled: 0n, scale: 0 };
  f64[0] = x;
  const bits = u64[0];
  const negative = bits >> 63n === 1n;
  const exponentBits = Number((bits >> 52n) & 0x7ffn);
  let mantissa = bits & 0xfffffffffffffn;
  let exponent: number;
  if (exponentBits === 0) exponent = -1074;
  else {
    mantissa |= 1n << 52n;
    exponent = exponentBits - 1075;
  }
  // Drop trailing binary zeros so a fraction's decimal expansion has no trailing zeros either.
  while (mantissa !== 0n && (mantissa & 1n) === 0n) {
    mantissa >>= 1n;
    exponent++;
  }
  let d: Dec;
  if (exponent >= 0) d = { unscaled: mantissa << BigInt(exponent), scale: 0 };
  // m × 2^-k = m × 5^k × 10^-k
  else d = { unscaled: mantissa * 5n ** BigInt(-exponent), scale: -exponent };
  if (negative) d.unscaled = -d.unscaled;
  return d;
}

export function mulDec(a: Dec, b: Dec): Dec {
  return { unscaled: a.unscaled * b.unscaled, scale: a.scale + b.scale };
}

/** `numerator / denominator` rounded HALF_EVEN, signs handled like Java. */
function divHalfEven(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) throw new Error('Division by zero');
  const negative = numerator < 0n !== denominator < 0n;
  const n = numerator < 0n ? -numerator : numerator;
  const d = denominator < 0n ? -denominator : denominator;
  let q = n / d;
  const r2 = (n % d) * 2n;
  if (r2 > d || (r2 === d && (q & 1n) === 1n)) q += 1n;
  return negative ? -q : q;
}

/** `setScale(scale, RoundingMode.HALF_EVEN)`. */
export function setScaleHalfEven(a: Dec, scale: number): Dec {
  if (scale >= a.scale) return { unscaled: a.unscaled * pow10(scale - a.scale), scale };
  return { unscaled: divHalfEven(a.unscaled, pow10(a.scale - scale)), scale };
}

/** `BigDecimal.ONE.divide(d, scale, HALF_EVEN)`. */
export function reciprocal(d: Dec, scale: number): Dec {
  // 1/d = 10^d.scale / d.unscaled; shifted by 10^scale to keep `scale` digits.
  const exp = scale + d.scale;
  const numerator = exp >= 0 ? pow10(exp) : 1n;
  const denominator = exp >= 0 ? d.unscaled : d.unscaled * pow10(-exp);
  return { unscaled: divHalfEven(numerator, denominator), scale };
}

/** `BigDecimal.toPlainString()`. */
export function toPlainString(d: Dec): string {
  const negative = d.unscaled < 0n;
  let digits = (negative ? -d.unscaled : d.unscaled).toString();
  if (d.scale <= 0) return (negative ? '-' : '') + digits + (d.unscaled === 0n ? '' : '0'.repeat(-d.scale));
  if (digits.length <= d.scale) digits = '0'.repeat(d.scale - digits.length + 1) + digits;
  const point = digits.length - d.scale;
  return `${negative ? '-' : ''}${digits.slice(0, point)}.${digits.slice(point)}`;
}

// --- Open Exchange Rates client ---------------------------------------------------------------------------

type OerErrorType = 'OtherErrors' | 'IllegalCurrency' | 'ResourcesNotAvailable';

class OerError extends Error {
  constructor(
    readonly errorType: OerErrorType,
    message: string,
  ) {
    super(message);
  }
}

/** ISO 4217 minor units by code: the currencies Joda-Money's `CurrencyUnit.of` accepts. */
const MINOR_UNITS: ReadonlyMap<string, number> = new Map(currencyCodes.data.map((c) => [c.code, c.digits]));

/** `ZonedDateTime.toString()` of the UTC midnight scala-forex looks up, e.g. `1998-05-01T00:00Z[UTC]`. */
function zonedMidnight(dayMs: number): string {
  return `${new Date(dayMs).toISOString().slice(0, 10)}T00:00Z[UTC]`;
}

/** Rates of one response, as decimals (JSON numbers print back to the literal OER wrote for ≤17 digits). */
function decodeRates(body: string): Map<string, Dec> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (e) {
    throw new OerError('OtherErrors', `OER response is not JSON: ${(e as Error).message}`);
  }
  const j = json as { message?: unknown; rates?: unknown };
  // scala-forex tries the error shape first: any object with a string `message` is an API error.
  if (typeof j === 'object' && j !== null && typeof j.message === 'string')
    throw new OerError('OtherErrors', j.message);
  if (typeof j !== 'object' || j === null || typeof j.rates !== 'object' || j.rates === null) {
    throw new OerError('OtherErrors', "OER response couldn't be decoded");
  }
  const rates = new Map<string, Dec>();
  for (const [code, v] of Object.entries(j.rates as Record<string, unknown>)) {
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new OerError('OtherErrors', "OER response couldn't be decoded");
    rates.set(code, parseDec(String(v)));
  }
  return rates;
}

interface Job {
  amount: number;
  base: number;
  currency: number;
  currencyField: 'tr_currency' | 'ti_currency';
}

const JOBS: readonly Job[] = [
  { amount: F.tr_total, base: F.tr_total_base, currency: F.tr_currency, currencyField: 'tr_currency' },
  { amount: F.tr_tax, base: F.tr_tax_base, currency: F.tr_currency, currencyField: 'tr_currency' },
  { amount: F.tr_shipping, base: F.tr_shipping_base, currency: F.tr_currency, currencyField: 'tr_currency' },
  { amount: F.ti_price, base: F.ti_price_base, currency: F.ti_currency, currencyField: 'ti_currency' },
];

const ACCOUNT_TYPES = ['DEVELOPER', 'ENTERPRISE', 'UNLIMITED'];

export const currencyConversionEnrichment: EnrichmentDefinition = {
  name: 'currency_conversion_config',
  criterion: 'iglu:com.snowplowanalytics.snowplow/currency_conversion_config/jsonschema/1-*-*',
  extensionKeys: ['apiBaseUrl'],
  create(config: EnrichmentConfig): Enrichment {
    const p = config.parameters;
    if (typeof p.apiKey !== 'string') throw new EnrichmentConfigError('parameters.apiKey: expected a string');
    const base = p.baseCurrency;
    if (typeof base !== 'string' || !MINOR_UNITS.has(base)) {
      throw new EnrichmentConfigError(
        `parameters.baseCurrency: expected an ISO 4217 currency code, got ${JSON.stringify(base)}`,
      );
    }
    if (typeof p.accountType !== 'string' || !ACCOUNT_TYPES.includes(p.accountType)) {
      throw new EnrichmentConfigError(`parameters.accountType: expected one of ${ACCOUNT_TYPES.join(', ')}`);
    }
    if (p.rateAt !== undefined && p.rateAt !== 'EOD_PRIOR') {
      throw new EnrichmentConfigError('parameters.rateAt: expected "EOD_PRIOR"');
    }
    const apiBaseUrl = p.apiBaseUrl ?? DEFAULT_OER_BASE_URL;
    if (typeof apiBaseUrl !== 'string' || !/^https?:\/\//i.test(apiBaseUrl)) {
      throw new EnrichmentConfigError('parameters.apiBaseUrl: expected an http(s) URL');
    }
    const baseDigits = MINOR_UNITS.get(base) as number;
    const root = apiBaseUrl.replace(/\/+$/, '');
    // Only Enterprise and Unlimited plans may choose the base; Developer responses are always USD-based.
    const query = `app_id=${encodeURIComponent(p.apiKey)}${p.accountType === 'DEVELOPER' ? '' : `&base=${base}`}`;
    const info: EnrichmentInfo = { schemaKey: config.schemaKey, identifier: 'currency-conversion' };
    // One in-flight or settled lookup per UTC day; failures are dropped so the next event asks again.
    const days = new Lru<number, Promise<Map<string, Dec>>>(DAYS_CACHED);

    const fetchDay = async (dayMs: number): Promise<Map<string, Dec>> => {
      const url = `${root}/historical/${new Date(dayMs).toISOString().slice(0, 10)}.json?${query}`;
      let body: string;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        body = await res.text();
      } catch (e) {
        throw new OerError('OtherErrors', `request to Open Exchange Rates failed: ${(e as Error).message}`);
      }
      return decodeRates(body);
    };

    const ratesFor = (dayMs: number): Promise<Map<string, Dec>> => {
      if (dayMs < OER_DATA_FROM_MS || dayMs > Date.now()) {
        return Promise.reject(
          new OerError(
            'ResourcesNotAvailable',
            `Exchange rate unavailable on the date [${zonedMidnight(dayMs)}]`,
          ),
        );
      }
      let pending = days.get(dayMs);
      if (pending === undefined) {
        pending = fetchDay(dayMs);
        days.set(dayMs, pending);
        pending.catch(() => {
          if (days.peek(dayMs) === pending) days.delete(dayMs);
        });
      }
      return pending;
    };

    const oerFailure = (e: unknown): EnrichmentFailure => {
      const message =
        e instanceof OerError
          ? `Open Exchange Rates error, type: [${e.errorType}], message: [${e.message}]`
          : `an error happened while converting the currency: ${(e as Error).message}`;
      return { enrichment: info, message: { error: message } };
    };

    const rateOf = (rates: ReadonlyMap<string, Dec>, code: string): Dec => {
      const r = rates.get(code);
      if (r === undefined)
        throw new OerError('IllegalCurrency', `Currency not found in the API, invalid currency ${code}`);
      return r;
    };

    const convert = async (ev: EnrichedEvent, todo: readonly Job[]): Promise<StepOutcome> => {
      const f = ev.fields;
      const dayMs = Math.floor(ev.collectorMs / MS_PER_DAY) * MS_PER_DAY;
      let failures: EnrichmentFailure[] | undefined;
      for (const job of todo) {
        const code = f[job.currency] as string;
        if (!MINOR_UNITS.has(code)) {
          (failures ??= []).push({
            enrichment: info,
            message: { field: job.currencyField, value: code, expectation: `Unknown currency '${code}'` },
          });
          continue;
        }
        try {
          const rates = await ratesFor(dayMs);
          const fromRate = rateOf(rates, code);
          const toRate = rateOf(rates, base);
          const amount = decFromDouble(Number(f[job.amount]));
          const converted = code === base ? amount : mulDec(amount, mulDec(reciprocal(fromRate, 6), toRate));
          f[job.base] = toPlainString(setScaleHalfEven(converted, baseDigits));
        } catch (e) {
          (failures ??= []).push(oerFailure(e));
        }
      }
      return failures;
    };

    return {
      order: ORDER.currencyConversion,
      info,
      enrich(ev: EnrichedEvent): StepOutcome | Promise<StepOutcome> {
        const f = ev.fields;
        f[F.base_currency] = base;
        if (Number.isNaN(ev.collectorMs)) {
          return [
            { enrichment: info, message: { field: 'collector_tstamp', value: null, expectation: 'missing' } },
          ];
        }
        let todo: Job[] | null = null;
        for (const job of JOBS) {
          if (f[job.currency] !== null && f[job.amount] !== null) (todo ??= []).push(job);
        }
        // Most events carry no money: they stay synchronous.
        return todo === null ? undefined : convert(ev, todo);
      },
    };
  },
};
