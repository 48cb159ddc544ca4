/**
 * Latin-1 (one byte a character) copies between strings and buffers on the collector's hot path, through
 * Node's own Latin-1 methods behind `Buffer#write(s, offset, length, 'latin1')` and
 * `Buffer#toString('latin1', start, end)`. They are undocumented but have been on every Buffer since the
 * early Node releases; the public methods spend as long validating arguments and looking up the encoding as
 * these spend copying a 1 KB query string. The callers size their buffers, so nothing is lost; if a Node
 * release drops them the public methods are used instead.
 */
interface Latin1Methods {
  latin1Write?: (s: string, offset: number, length: number) => number;
  latin1Slice?: (start: number, end: number) => string;
}

const { latin1Write, latin1Slice } = Buffer.prototype as unknown as Latin1Methods;

/** Writes `s` (characters below U+0100) at `offset`; returns the bytes written. */
export function writeLatin1(b: Buffer, s: string, offset: number): number {
  return latin1Write !== undefined ? latin1Write.call(b, s, offset, s.length) : b.write(s, offset, 'latin1');
}

/** The bytes `start..end` of `b` as a Latin-1 string. */
export function readLatin1(b: Buffer, start: number, end: number): string {
  return latin1Slice !== undefined ? latin1Slice.call(b, start, end) : b.toString('latin1', start, end);
}
