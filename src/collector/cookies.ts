/** The network-user-id cookie, rendered exactly as Snowplow's collector renders it (spec collector §2.5). */
import type { CollectorConfig } from './config.js';

const DAY_MS = 86_400_000;

/** Value of cookie `name` in a `Cookie` header, if present. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end && header.slice(start, eq).trim() === name)
      return header.slice(eq + 1, end).trim();
    start = end + 1;
  }
  return undefined;
}

/** `Domain` attribute: the first configured domain that an Origin host equals or is a subdomain of. */
export function cookieDomain(
  cfg: CollectorConfig['cookie'],
  originHosts: readonly string[],
): string | undefined {
  for (const d of cfg.domains) {
    if (originHosts.some((h) => h === d || h.endsWith(`.${d}`))) return d;
  }
  return cfg.fallbackDomain;
}

/**
 * `Set-Cookie` values for the main cookie (and the optional client-readable copy). `clear` renders an
 * already-expired cookie, used when an anonymous request carried one.
 */
export function setCookieHeaders(
  cfg: CollectorConfig['cookie'],
  value: string,
  originHosts: readonly string[],
  now: number,
  clear = false,
): string[] {
  const expires = clear ? now - cfg.expirationDays * DAY_MS : now + cfg.expirationDays * DAY_MS;
  return render(cfg, clear ? '' : value, attributes(cfg, expires, cookieDomain(cfg, originHosts)));
}

function attributes(cfg: CollectorConfig['cookie'], expiresMs: number, domain: string | undefined): string {
  // SameSite=None is only honoured with Secure, so Snowplow renders Secure then whatever the setting.
  const secure = cfg.secure || cfg.sameSite === 'None';
  return `; Expires=${new Date(expiresMs).toUTCString()}${domain === undefined ? '' : `; Domain=${domain}`}; Path=/${
    cfg.sameSite === undefined ? '' : `; SameSite=${cfg.sameSite}`
  }${secure ? '; Secure' : ''}`;
}

function render(cfg: CollectorConfig['cookie'], v: string, attrs: string): string[] {
  const out = [`${cfg.name}=${v}${attrs}${cfg.httpOnly ? '; HttpOnly' : ''}`];
  if (cfg.clientCookieName !== undefined) out.push(`${cfg.clientCookieName}=${v}${attrs}`);
  return out;
}

/**
 * `setCookieHeaders` for the request path: the attributes only change when the Expires second or the
 * domain does, so they are rendered once per second instead of per request (a Date and its
 * toUTCString per request showed in profiles).
 */
export function createSetCookie(
  cfg: CollectorConfig['cookie'],
): (value: string, originHosts: readonly string[], now: number, clear?: boolean) => string[] {
  let second = Number.NaN;
  let lastDomain: string | undefined;
  let attrs = '';
  return (value, hosts, now, clear = false) => {
    if (clear) return setCookieHeaders(cfg, value, hosts, now, true);
    const expires = now + cfg.expirationDays * DAY_MS;
    const domain = cookieDomain(cfg, hosts);
    const s = Math.floor(expires / 1000);
    if (s !== second || domain !== lastDomain) {
      attrs = attributes(cfg, expires, domain);
      second = s;
      lastDomain = domain;
    }
    return render(cfg, value, attrs);
  };
}

/** Hosts named by an `Origin` header (it may hold several, space separated). */
export function originHosts(origin: string | undefined): string[] {
  if (origin === undefined || origin === 'null') return [];
  const out: string[] = [];
  for (const o of origin.split(' ')) {
    const m = /^[a-z][a-z0-9+.-]*:\/\/([^/:]+)/i.exec(o);
    if (m !== null) out.push(m[1].toLowerCase());
  }
  return out;
}

/** `Access-Control-Allow-Origin`: the first origin as `scheme://host[:port]`, `*` when there is none. */
export function allowOrigin(origin: string | undefined): string {
  if (origin === undefined || origin === 'null' || origin === '') return '*';
  const first = origin.split(' ')[0];
  const m = /^([a-z][a-z0-9+.-]*:\/\/[^/]+)/i.exec(first);
  return m === null ? '*' : m[1];
}
