/**
 * JSON.parse with Snowplow's nesting limit (`validation.maxJsonDepth`). The depth is checked by a scan
 * before parsing so that hostile, deeply nested input is rejected without building it.
 */
export type BoundedJson = { ok: true; value: unknown } | { ok: false; error: string };

export const DEFAULT_MAX_JSON_DEPTH = 50;

export function jsonDepthExceeds(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > maxDepth) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return false;
}

export function parseBoundedJson(text: string, maxDepth = DEFAULT_MAX_JSON_DEPTH): BoundedJson {
  if (jsonDepthExceeds(text, maxDepth))
    return { ok: false, error: 'invalid json: maximum allowed JSON depth exceeded' };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, error: `invalid json: ${e instanceof Error ? e.message : String(e)}` };
  }
}
