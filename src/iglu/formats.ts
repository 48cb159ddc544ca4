/**
 * The draft-04 formats Iglu Central schemas use (`ajv-formats` is not a dependency), plus `date` and
 * `uuid`, which Snowplow's validator also checks. Formats it does not know (e.g. `strict-uri`) are
 * ignored, as in draft-04.
 *
 * `pattern` is what the validation message quotes (networknt's "does not match the <format> pattern
 * <pattern>"); `valueMessage` formats use the "<value> is an invalid <format>" wording instead.
 */
import { isIPv6 } from 'node:net';

export interface FormatCheck {
  validate(value: string): boolean;
  pattern: string;
  valueMessage: boolean;
}

const IPV4_PATTERN =
  '^(([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])\\.){3}([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])$';
const IPV4 = new RegExp(IPV4_PATTERN);

const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

const EMAIL_PATTERN =
  "^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$";
const EMAIL = new RegExp(EMAIL_PATTERN);

const HOSTNAME_PATTERN =
  '^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\\.?$';
const HOSTNAME = new RegExp(HOSTNAME_PATTERN);

// An absolute URI (RFC 3986 `scheme ":" hier-part`): a scheme, then no whitespace or characters that
// can never appear unescaped.
const URI_PATTERN = '^[a-zA-Z][a-zA-Z0-9+.-]*:[^\\s"<>\\\\^`{|}]*$';
const URI = new RegExp(URI_PATTERN);

const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const UUID = new RegExp(UUID_PATTERN);

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function validDate(y: string, m: string, d: string): boolean {
  const month = Number(m);
  const day = Number(d);
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(Number(y), month);
}

function isDateTime(s: string): boolean {
  const m = DATE_TIME.exec(s);
  if (m === null || !validDate(m[1], m[2], m[3])) return false;
  // 60 seconds admits leap seconds, as RFC 3339 does.
  if (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 60) return false;
  return m[7] === undefined || (Number(m[8]) <= 23 && Number(m[9]) <= 59);
}

function isDate(s: string): boolean {
  const m = DATE.exec(s);
  return m !== null && validDate(m[1], m[2], m[3]);
}

function isHostname(s: string): boolean {
  return s.length <= 253 && HOSTNAME.test(s);
}

export const FORMATS: Readonly<Record<string, FormatCheck>> = {
  'date-time': { validate: isDateTime, pattern: DATE_TIME.source, valueMessage: true },
  date: { validate: isDate, pattern: DATE.source, valueMessage: true },
  email: { validate: (s) => s.length <= 320 && EMAIL.test(s), pattern: EMAIL_PATTERN, valueMessage: false },
  hostname: { validate: isHostname, pattern: HOSTNAME_PATTERN, valueMessage: false },
  ipv4: { validate: (s) => IPV4.test(s), pattern: IPV4_PATTERN, valueMessage: false },
  ipv6: { validate: (s) => isIPv6(s), pattern: 'RFC 4291 address', valueMessage: false },
  uri: { validate: (s) => URI.test(s), pattern: URI_PATTERN, valueMessage: false },
  uuid: { validate: (s) => UUID.test(s), pattern: UUID_PATTERN, valueMessage: true },
  // A schema's `pattern` must compile; checking it here turns a broken regex into InvalidSchema at
  // meta-schema validation instead of a compile-time crash.
  regex: {
    validate: (s) => {
      try {
        new RegExp(s);
        return true;
      } catch {
        return false;
      }
    },
    pattern: 'ECMA 262 regex',
    valueMessage: false,
  },
};
