import { randomUUID } from 'node:crypto';

/**
 * Snowplow's `validateUuid` rule for `eid`/`sid`: Java's `UUID.fromString` is lax (it accepts `1-1-1-1-1`), so
 * upstream additionally requires the lower-cased input to equal the canonical rendering. That amounts to exactly
 * 8-4-4-4-12 hex digits in either case; the stored value is lower-cased.
 */
export function parseUuid(s: string): string | null {
  if (s.length !== 36) return null;
  for (let i = 0; i < 36; i++) {
    const c = s.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 0x2d) return null;
    } else if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46))) {
      return null;
    }
  }
  return s.toLowerCase();
}

/** A fresh v4 UUID for `event_id` when the tracker sent none. */
export function randomUuid(): string {
  return randomUUID();
}
