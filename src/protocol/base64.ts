/**
 * Base64 as the Snowplow pipeline reads and writes it.
 *
 * Decoding mirrors Apache commons-codec's `Base64` (used by Enrich for `ue_px`/`cx`): both alphabets (`+/` and
 * `-_`) are accepted, padding is optional, any character outside the alphabet is skipped, the first `=` ends
 * the input, and trailing bits that do not make a whole byte are dropped. So it never fails: `äöü - &` has one
 * usable character and decodes to `""`.
 *
 * @example
 * decodeBase64Lenient('am9obitzbWl0aA'); // 'john+smith'
 * encodeBase64Url('John Smith');         // 'Sm9obiBTbWl0aA'
 */

const DECODE = new Int8Array(128).fill(-1);
{
  const std = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < 64; i++) DECODE[std.charCodeAt(i)] = i;
  DECODE[45 /* - */] = 62;
  DECODE[95 /* _ */] = 63;
}

const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

export function decodeBase64LenientBytes(s: string): Uint8Array {
  const out = new Uint8Array(Math.floor((s.length * 3) / 4) + 3);
  let o = 0;
  let acc = 0;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 61 /* = */) break;
    if (c >= 128) continue;
    const v = DECODE[c];
    if (v < 0) continue;
    acc = (acc << 6) | v;
    if (++n === 4) {
      out[o++] = (acc >> 16) & 0xff;
      out[o++] = (acc >> 8) & 0xff;
      out[o++] = acc & 0xff;
      acc = 0;
      n = 0;
    }
  }
  if (n === 2) out[o++] = (acc >> 4) & 0xff;
  else if (n === 3) {
    out[o++] = (acc >> 10) & 0xff;
    out[o++] = (acc >> 2) & 0xff;
  }
  return out.subarray(0, o);
}

/** Lenient base64 (either alphabet) → UTF-8 text; invalid UTF-8 becomes U+FFFD like Java's `new String`. */
export function decodeBase64Lenient(s: string): string {
  return utf8.decode(decodeBase64LenientBytes(s));
}

function toBuffer(s: string | Uint8Array): Buffer {
  return typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s.buffer, s.byteOffset, s.byteLength);
}

/** URL-safe alphabet, no padding: what trackers send and what Enrich writes back (`cx`). */
export function encodeBase64Url(s: string | Uint8Array): string {
  return toBuffer(s).toString('base64url');
}

/** Standard alphabet with padding: the payload of `collector_payload_format_violation` bad rows. */
export function encodeBase64(s: string | Uint8Array): string {
  return toBuffer(s).toString('base64');
}
