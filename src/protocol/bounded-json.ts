/**
 * JSON.parse with Snowplow's nesting limit (`validation.maxJsonDepth`). Hostile, deeply nested input must
 * be rejected without building it: V8 parses deep nesting ~10× slower per byte than flat JSON.
 *
 * The check is the most expensive part for ordinary tracker JSON (a character scan of a 13 KB tp2 body
 * cost more than JSON.parse of it, measured in bench/enrich --mix tracker), so it is done in the cheapest
 * safe way: a text with few brackets cannot be deep, and one with a bounded number of them is cheap to
 * parse whatever its shape, so it is parsed first and the value's depth checked afterwards; only texts
 * with many brackets are scanned before parsing.
 */
export type BoundedJson = { ok: true; value: unknown } | { ok: false; error: string };

export const DEFAULT_MAX_JSON_DEPTH = 50;

/**
 * Up to this many `{`/`[` a text is parsed before its depth is known: even all nested, that is well
 * under a millisecond of parsing.
 */
const PARSE_FIRST_MAX_BRACKETS = 1024;

const DEPTH_EXCEEDED: BoundedJson = Object.freeze({
  ok: false as const,
  error: 'invalid json: maximum allowed JSON depth exceeded',
});

/**
 * `s[i]` is an opening quote: the index after its closing quote (the first one preceded by an even run
 * of backslashes, found natively with indexOf), or -1 when the string never ends.
 */
export function jsonStringEnd(s: string, i: number): number {
  let from = i + 1;
  for (;;) {
    const q = s.indexOf('"', from);
    if (q === -1) return -1;
    let k = q - 1;
    while (s.charCodeAt(k) === 92 /* \ */) k--;
    if (((q - 1 - k) & 1) === 0) return q + 1;
    from = q + 1;
  }
}

/** The nesting depth of the text's brackets outside strings exceeds `maxDepth` (JSON or not). */
export function jsonDepthExceeds(text: string, maxDepth: number): boolean {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      const end = jsonStringEnd(text, i);
      if (end === -1) return false;
      i = end - 1;
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > maxDepth) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return false;
}

/** How many `{` and `[` the text holds (in strings too), counting no further than `limit + 1`. */
function countBrackets(text: string, limit: number): number {
  let n = 0;
  for (let i = text.indexOf('{'); i !== -1 && n <= limit; i = text.indexOf('{', i + 1)) n++;
  for (let i = text.indexOf('['); i !== -1 && n <= limit; i = text.indexOf('[', i + 1)) n++;
  return n;
}

/** Whether a parsed value nests deeper than `maxDepth` (`depth` is the value's own level minus one). */
function valueDepthExceeds(v: object, maxDepth: number, depth: number): boolean {
  if (depth >= maxDepth) return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x === 'object' && x !== null && valueDepthExceeds(x, maxDepth, depth + 1)) return true;
    }
  } else {
    for (const k in v) {
      const x: unknown = (v as Record<string, unknown>)[k];
      if (typeof x === 'object' && x !== null && valueDepthExceeds(x, maxDepth, depth + 1)) return true;
    }
  }
  return false;
}

function parseError(e: unknown): BoundedJson {
  return { ok: false, error: `invalid json: ${e instanceof Error ? e.message : String(e)}` };
}

export function parseBoundedJson(text: string, maxDepth = DEFAULT_MAX_JSON_DEPTH): BoundedJson {
  const brackets = countBrackets(text, Math.max(maxDepth, PARSE_FIRST_MAX_BRACKETS));
  if (brackets > maxDepth && brackets > PARSE_FIRST_MAX_BRACKETS) {
    if (jsonDepthExceeds(text, maxDepth)) return DEPTH_EXCEEDED;
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (e) {
      return parseError(e);
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    // Too deep wins over malformed, as when the scan ran first.
    return brackets > maxDepth && jsonDepthExceeds(text, maxDepth) ? DEPTH_EXCEEDED : parseError(e);
  }
  // For valid JSON the value's nesting is the text's bracket depth.
  if (
    brackets > maxDepth &&
    typeof value === 'object' &&
    value !== null &&
    valueDepthExceeds(value, maxDepth, 0)
  )
    return DEPTH_EXCEEDED;
  return { ok: true, value };
}
