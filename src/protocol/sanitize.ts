/**
 * Snowplow's `fixTabsNewlines`: every string bound for the enriched TSV goes through this, because the TSV has no
 * quoting — a raw tab or newline would shift every later column.
 *
 * Order matters and mirrors Java's `replaceAll("\\t", "    ").replaceAll("\\p{Cntrl}", "")`: tabs become four spaces
 * first (a tab is itself a control character and would otherwise vanish), then U+0000–U+001F and U+007F are dropped.
 * A value that ends up empty is treated as absent, as upstream does.
 */
export function sanitize(s: string): string | null {
  const n = s.length;
  let i = 0;
  // Nearly every value is clean; one scan without allocating decides that.
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) break;
  }
  if (i === n) return n === 0 ? null : s;
  let out = s.slice(0, i);
  let start = i;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) {
      if (start < i) out += s.slice(start, i);
      if (c === 0x09) out += '    ';
      start = i + 1;
    }
  }
  if (start < n) out += s.slice(start);
  return out.length === 0 ? null : out;
}
