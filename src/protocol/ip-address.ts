/**
 * Client IP selection, following Snowplow's `IpAddressExtractor` (spec §1.3) including its quirks, so that
 * `user_ipaddress` matches upstream for the same raw payload.
 */

// Upstream's pattern, applied to the lower-cased header line and required to match the whole line: an IPv4
// dotted quad (group 1) wins over a run of hex digits, dots and colons (group 2, meant for IPv6); anything after
// the address (ports, brackets, further list entries) is ignored.
const XFF =
  /^x-forwarded-for: "?\[?(?:(?:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}).*)|((?:[0-9a-f]|\.|:+)+).*)\]?"?.*$/;
const FORWARDED =
  /^forwarded: for="?\[?(?:(?:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}).*)|((?:[0-9a-f]|\.|:+)+).*)\]?"?.*$/;

/**
 * The IP the event is attributed to before the tracker's `ip` parameter: the first matching `X-Forwarded-For`
 * header wins outright; a `Forwarded: for=` value only counts while no other header line follows it (upstream's
 * recursion forgets it on the next non-matching line); otherwise the collector's socket IP.
 */
export function extractClientIp(headers: readonly string[], ipAddress: string): string {
  let forwarded: string | null = null;
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i];
    // Cheap first-letter filter so ordinary headers cost neither a lower-cased copy nor a regex run.
    const c = h.charCodeAt(0) | 0x20;
    if (c === 0x78 /* x */) {
      const m = XFF.exec(h.toLowerCase());
      if (m !== null) return m[1] ?? m[2];
    } else if (c === 0x66 /* f */) {
      const m = FORWARDED.exec(h.toLowerCase());
      if (m !== null) {
        forwarded = m[1] ?? m[2];
        continue;
      }
    }
    forwarded = null;
  }
  return forwarded ?? ipAddress;
}

/**
 * The `ip` tracker parameter may carry a list (`1.2.3.4, 5.6.7.8`); upstream keeps the text before the first
 * `,`, `|` or space. A leading separator therefore yields `""` (which sanitising turns into null); where Java's
 * `split(...).head` would throw (input made only of separators) we also return `""`.
 */
export function firstIpToken(ip: string): string {
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 0x2c || c === 0x7c || c === 0x20) return ip.slice(0, i);
  }
  return ip;
}
