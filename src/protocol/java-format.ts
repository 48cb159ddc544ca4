/**
 * Java-compatible parsing and formatting for the enriched TSV and bad rows. Upstream Enrich produces these
 * strings with Joda-Time, `java.time.Instant`, `Long/Integer.parseInt`, `BigDecimal` and `Float.toString`; byte
 * parity with its output needs the same rules, which differ from JavaScript's in many corners (negative years,
 * non-ASCII digits, decimal scale, float32 shortest repr).
 */

const MS_PER_DAY = 86_400_000;

// ms bounds of years 0000..9999 (proleptic Gregorian, astronomical numbering as Joda's ISO chronology uses).
const MIN_REDSHIFT_MS = -62_167_219_200_000;
const MAX_REDSHIFT_MS = 253_402_300_799_999;

const TWO_DIGITS: readonly string[] = Array.from({ length: 100 }, (_, i) => (i < 10 ? '0' : '') + i);

function pad3(n: number): string {
  return n < 10 ? '00' + n : n < 100 ? '0' + n : '' + n;
}

function pad4(n: number): string {
  return n < 10 ? '000' + n : n < 100 ? '00' + n : n < 1000 ? '0' + n : '' + n;
}

// Scratch outputs of civil(): module-level so the hot path allocates no tuple per call.
let cYear = 0;
let cMonth = 0;
let cDay = 0;

// Howard Hinnant's days → proleptic Gregorian date; exact for any day count a double holds exactly, which covers
// every Java long of milliseconds, unlike JS Date (±8.64e15 ms).
function civil(days: number): void {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  cDay = doy - Math.floor((153 * mp + 2) / 5) + 1;
  cMonth = mp < 10 ? mp + 3 : mp - 9;
  cYear = yoe + era * 400 + (cMonth <= 2 ? 1 : 0);
}

function timeOfDay(msOfDay: number, sep: string): string {
  const h = Math.floor(msOfDay / 3_600_000);
  const m = Math.floor(msOfDay / 60_000) % 60;
  const s = Math.floor(msOfDay / 1000) % 60;
  return (
    TWO_DIGITS[cMonth] +
    '-' +
    TWO_DIGITS[cDay] +
    sep +
    TWO_DIGITS[h] +
    ':' +
    TWO_DIGITS[m] +
    ':' +
    TWO_DIGITS[s]
  );
}

// Joda `yyyy`: sign for negative years, at least 4 digits, no upper bound on digits.
function jodaYear(y: number): string {
  return y < 0 ? '-' + pad4(-y) : pad4(y);
}

// java.time (Instant/LocalDate): years above 9999 get an explicit `+`.
function isoYear(y: number): string {
  return y < 0 ? '-' + pad4(-y) : y > 9999 ? '+' + y : pad4(y);
}

function formatParts(days: number, msOfDay: number): string {
  civil(days);
  return jodaYear(cYear) + '-' + timeOfDay(msOfDay, ' ') + '.' + pad3(msOfDay % 1000);
}

/**
 * `yyyy-MM-dd HH:mm:ss.SSS` in UTC, like Enrich's Joda formatter. Years outside 0..9999 are still formatted
 * (`-0030-01-01 00:00:00.000`, `11970-01-01 00:00:00.000`) so callers can put them in error messages.
 */
export function formatTimestamp(ms: number): string {
  const days = Math.floor(ms / MS_PER_DAY);
  return formatParts(days, ms - days * MS_PER_DAY);
}

/** Whether the timestamp's year is within 0..9999, the range Enrich accepts (Redshift's limit). */
export function isRedshiftCompatible(ms: number): boolean {
  return ms >= MIN_REDSHIFT_MS && ms <= MAX_REDSHIFT_MS;
}

/** Java `Instant.toString()` at millisecond precision: the fraction is omitted when it is zero. */
export function formatIsoInstant(ms: number): string {
  const days = Math.floor(ms / MS_PER_DAY);
  const msOfDay = ms - days * MS_PER_DAY;
  civil(days);
  const frac = msOfDay % 1000;
  return isoYear(cYear) + '-' + timeOfDay(msOfDay, 'T') + (frac === 0 ? '' : '.' + pad3(frac)) + 'Z';
}

/** ISO-8601 with exactly three fraction digits, e.g. `2023-10-13T05:44:03.762Z`. */
export function formatIsoMillis(ms: number): string {
  const days = Math.floor(ms / MS_PER_DAY);
  const msOfDay = ms - days * MS_PER_DAY;
  civil(days);
  return isoYear(cYear) + '-' + timeOfDay(msOfDay, 'T') + '.' + pad3(msOfDay % 1000) + 'Z';
}

// --- Java digit rules --------------------------------------------------------------------------------------

const UNICODE_DIGIT = /\p{Nd}/u;

/**
 * Java's `Character.digit(c, 10)` for one UTF-16 unit: besides ASCII it accepts every BMP decimal digit (Arabic-
 * Indic, fullwidth, ...), which `Long.parseLong`, `Integer.parseInt` and `new BigDecimal` all honour. Unicode
 * lays Nd digits out in runs of ten starting at zero, so the value is the distance from the run's start.
 */
function javaDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c < 0x80 || (c >= 0xd800 && c <= 0xdfff)) return -1;
  if (!UNICODE_DIGIT.test(String.fromCharCode(c))) return -1;
  let start = c;
  while (start > 0 && UNICODE_DIGIT.test(String.fromCharCode(start - 1))) start--;
  return (c - start) % 10;
}

/**
 * The ASCII digits of a Java-style signed integer literal (sign and digits only, no whitespace), or null when
 * Java would throw NumberFormatException for the characters alone. Range is checked by the callers.
 */
function javaIntegerDigits(s: string): { negative: boolean; digits: string } | null {
  const n = s.length;
  if (n === 0) return null;
  let i = 0;
  const first = s.charCodeAt(0);
  const negative = first === 0x2d;
  if (negative || first === 0x2b) {
    if (n === 1) return null;
    i = 1;
  }
  let ascii = true;
  for (let j = i; j < n; j++) {
    const c = s.charCodeAt(j);
    if (c < 0x30 || c > 0x39) {
      ascii = false;
      break;
    }
  }
  if (ascii) return { negative, digits: s.slice(i) };
  let digits = '';
  for (; i < n; i++) {
    const d = javaDigit(s.charCodeAt(i));
    if (d < 0) return null;
    digits += d;
  }
  return { negative, digits };
}

function stripLeadingZeros(d: string): string {
  let i = 0;
  while (i < d.length - 1 && d.charCodeAt(i) === 0x30) i++;
  return i === 0 ? d : d.slice(i);
}

const LONG_MAX = '9223372036854775807';
const LONG_MIN_ABS = '9223372036854775808';

export type MsTimestampResult = { ok: true; ms: number } | { ok: false; message: string };

/**
 * `dtm`/`stm`/`ttm` (and `_sp`'s timestamp): Java `Long.parseLong` then the Redshift year check, with Enrich's
 * messages. Values beyond 2^53 can only be out of range, so they are reported (exactly, via BigInt) and never
 * returned as an imprecise number.
 */
export function parseMsTimestamp(s: string): MsTimestampResult {
  const parsed = javaIntegerDigits(s);
  if (parsed === null) return { ok: false, message: 'Not in the expected format: ms since epoch' };
  const digits = stripLeadingZeros(parsed.digits);
  if (digits.length <= 15) {
    const v = Number(digits);
    const ms = parsed.negative && v !== 0 ? -v : v;
    if (isRedshiftCompatible(ms)) return { ok: true, ms };
    return { ok: false, message: 'Formatting as ' + formatTimestamp(ms) + ' is not Redshift-compatible' };
  }
  const limit = parsed.negative ? LONG_MIN_ABS : LONG_MAX;
  if (digits.length > 19 || (digits.length === 19 && digits > limit)) {
    return { ok: false, message: 'Not in the expected format: ms since epoch' };
  }
  const big = parsed.negative ? -BigInt(digits) : BigInt(digits);
  const day = BigInt(MS_PER_DAY);
  let days = big / day;
  let rem = big - days * day;
  if (rem < 0n) {
    days -= 1n;
    rem += day;
  }
  return {
    ok: false,
    message: 'Formatting as ' + formatParts(Number(days), Number(rem)) + ' is not Redshift-compatible',
  };
}

export type JavaIntResult = { ok: true; value: number | null } | { ok: false; message: string };

const INT_ERROR: JavaIntResult = { ok: false, message: 'Cannot be converted to java.lang.Integer' };

/** Enrich's `stringToJInteger`: `null` (any case) is an explicit null, otherwise Java `Integer.parseInt`. */
export function parseJavaInt(s: string): JavaIntResult {
  if (s.length === 4 && s.toLowerCase() === 'null') return { ok: true, value: null };
  const parsed = javaIntegerDigits(s);
  if (parsed === null) return INT_ERROR;
  const digits = stripLeadingZeros(parsed.digits);
  if (digits.length > 10) return INT_ERROR;
  const v = Number(digits);
  if (parsed.negative) return v > 2_147_483_648 ? INT_ERROR : { ok: true, value: v === 0 ? 0 : -v };
  return v > 2_147_483_647 ? INT_ERROR : { ok: true, value: v };
}

// --- BigDecimal --------------------------------------------------------------------------------------------

export type BigDecimalResult = { ok: true; value: string | null } | { ok: false; message: string };

// Java materialises negative-scale values as integers (Snowplow calls setScale(0)); a huge exponent would make it
// build an enormous BigInteger. We refuse beyond this many integer digits instead of allocating without bound.
const MAX_NORMALISED_DIGITS = 10_000;

// BigDecimal's parser has two code paths; inputs of at most 18 characters (sign excluded) take the "compact" one,
// which reports invalid characters differently from the long-input path.
const MAX_COMPACT_DIGITS = 18;

function bigDecimalError(detail: string | null): BigDecimalResult {
  return { ok: false, message: 'Cannot be converted to java.math.BigDecimal. Error : ' + detail };
}

/**
 * Enrich's `stringToJBigDecimal` then `BigDecimal.toString()`: the textual scale is kept (`1999.00`), a negative
 * scale becomes an integer (`6.72E9` → `6720000000`), small magnitudes print in E-notation (`1E-7`). Works on the
 * digit string, never through doubles. Errors carry Java's NumberFormatException text (`null` where Java throws
 * one without a message, e.g. for `""` or a dangling exponent).
 */
export function formatBigDecimal(s: string): BigDecimalResult {
  if (s.length === 4 && s.toLowerCase() === 'null') return { ok: true, value: null };
  const n = s.length;
  if (n === 0) return bigDecimalError(null);
  let i = 0;
  let negative = false;
  const first = s.charCodeAt(0);
  if (first === 0x2d) {
    negative = true;
    i = 1;
  } else if (first === 0x2b) {
    i = 1;
  }
  const compact = n - i <= MAX_COMPACT_DIGITS;
  const sigStart = i;
  let ascii = true;
  let dot = false;
  let scale = 0;
  let sawDigit = false;
  let exp = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      sawDigit = true;
      if (dot) scale++;
      continue;
    }
    if (c === 0x2e) {
      if (dot) return bigDecimalError('Character array contains more than one decimal point.');
      dot = true;
      continue;
    }
    if (c === 0x65 || c === 0x45) {
      const e = parseExponent(s, i);
      if (typeof e === 'string') return bigDecimalError(e);
      exp = e;
      break;
    }
    if (javaDigit(c) >= 0) {
      sawDigit = true;
      ascii = false;
      if (dot) scale++;
      continue;
    }
    return bigDecimalError(
      compact
        ? 'Character ' +
            s[i] +
            ' is neither a decimal digit number, decimal point, nor "e" notation exponential mark.'
        : "Character array is missing \"exponent\" mark 'e' or 'E'.",
    );
  }
  if (!sawDigit) return bigDecimalError('No digits found.');
  let coeff = ascii ? significandDigits(s, sigStart, i) : unicodeSignificandDigits(s, sigStart, i);
  if (coeff === '') coeff = '0';
  let sc = scale - exp;
  if (sc > 2_147_483_647 || sc < -2_147_483_648) return bigDecimalError('Scale out of range.');
  if (sc < 0) {
    if (coeff === '0') {
      sc = 0;
    } else {
      if (coeff.length - sc > MAX_NORMALISED_DIGITS) {
        return bigDecimalError('Too many digits once the exponent is applied.');
      }
      coeff += '0'.repeat(-sc);
      sc = 0;
    }
  }
  return { ok: true, value: bigDecimalToString(negative && coeff !== '0', coeff, sc) };
}

// Unscaled digits of an all-ASCII significand s[from, to), leading zeros dropped ('' for zero).
function significandDigits(s: string, from: number, to: number): string {
  let out = '';
  let start = -1;
  for (let j = from; j < to; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x2e) {
      if (start >= 0) out += s.slice(start, j);
      start = out.length > 0 ? j + 1 : -1;
      continue;
    }
    if (start < 0 && c !== 0x30) start = j;
  }
  if (start >= 0) out += s.slice(start, to);
  return out;
}

// As significandDigits, for a significand holding non-ASCII Java digits.
function unicodeSignificandDigits(s: string, from: number, to: number): string {
  let out = '';
  for (let j = from; j < to; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x2e) continue;
    const d = javaDigit(c);
    if (d !== 0 || out.length > 0) out += d;
  }
  return out;
}

// BigDecimal.parseExp: returns the exponent or Java's message (`null` where Java runs off the array).
function parseExponent(s: string, at: number): number | string {
  let i = at + 1;
  if (i >= s.length) return 'null';
  let c = s.charCodeAt(i);
  const neg = c === 0x2d;
  if (neg || c === 0x2b) {
    i++;
    if (i >= s.length) return 'null';
    c = s.charCodeAt(i);
  }
  let len = s.length - i;
  while (len > 10 && javaDigit(c) === 0) {
    i++;
    len--;
    c = s.charCodeAt(i);
  }
  if (len > 10) return 'Too many nonzero exponent digits.';
  let e = 0;
  for (; i < s.length; i++) {
    const d = javaDigit(s.charCodeAt(i));
    if (d < 0) return 'Not a digit.';
    e = e * 10 + d;
  }
  if (e > 2_147_483_647 + (neg ? 1 : 0)) return 'Exponent overflow.';
  return neg ? -e : e;
}

// BigDecimal.toString for scale ≥ 0: plain unless the adjusted exponent is below -6.
function bigDecimalToString(negative: boolean, coeff: string, scale: number): string {
  const sign = negative ? '-' : '';
  if (scale === 0) return sign + coeff;
  const adjusted = coeff.length - 1 - scale;
  if (adjusted >= -6) {
    if (coeff.length > scale) {
      const p = coeff.length - scale;
      return sign + coeff.slice(0, p) + '.' + coeff.slice(p);
    }
    return sign + '0.' + '0'.repeat(scale - coeff.length) + coeff;
  }
  return sign + coeff[0] + (coeff.length > 1 ? '.' + coeff.slice(1) : '') + 'E' + adjusted;
}

// --- Float.toString ----------------------------------------------------------------------------------------

/**
 * Java `Float.toString` of `Math.fround(n)` (the shortest-decimal algorithm of JDK 19+): the shortest digits that
 * read back as the same float32, always with a fraction (`51.0`), E-notation outside [1e-3, 1e7).
 */
export function formatJavaFloat(n: number): string {
  const f = Math.fround(n);
  if (Number.isNaN(f)) return 'NaN';
  if (f === Number.POSITIVE_INFINITY) return 'Infinity';
  if (f === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (f === 0) return Object.is(f, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(f);
  let sci = '';
  for (let p = 1; p <= 9; p++) {
    sci = abs.toExponential(p - 1);
    if (Math.fround(Number(sci)) === abs) {
      // Java picks among 1- and 2-digit decimals the closest when one digit suffices (1.4E-45, not 1.0E-45).
      if (p === 1) sci = abs.toExponential(1);
      break;
    }
  }
  const ePos = sci.indexOf('e');
  let digits = sci[0] + (ePos > 1 ? sci.slice(2, ePos) : '');
  let end = digits.length;
  while (end > 1 && digits.charCodeAt(end - 1) === 0x30) end--;
  digits = digits.slice(0, end);
  const e = Number(sci.slice(ePos + 1));
  const sign = f < 0 ? '-' : '';
  if (abs >= 1e-3 && abs < 1e7) {
    if (e < 0) return sign + '0.' + '0'.repeat(-e - 1) + digits;
    if (digits.length <= e + 1) return sign + digits + '0'.repeat(e + 1 - digits.length) + '.0';
    return sign + digits.slice(0, e + 1) + '.' + digits.slice(e + 1);
  }
  return sign + digits[0] + '.' + (digits.length > 1 ? digits.slice(1) : '0') + 'E' + e;
}
