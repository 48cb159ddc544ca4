/**
 * The on-disk frame of the segment log (all integers little-endian):
 *
 *     len u32 | crc u32 | seq u64 | ts u64 | payload (len bytes)
 *
 * `crc` is CRC-32 (IEEE, the zlib/gzip polynomial) of `payload ‖ seq ‖ ts` — the payload first so its
 * CRC can be computed when the caller appends (off the serial flush path) and only the 16 header bytes
 * are folded in once the writer has assigned the sequence number.
 */
import * as zlib from 'node:zlib';

export const FRAME_HEADER_BYTES = 24;
/** Refuse absurd lengths so a corrupt `len` cannot make a scan allocate gigabytes. */
export const MAX_PAYLOAD_BYTES = 256 * 1024 * 1024;

const TWO_32 = 2 ** 32;

// zlib.crc32 arrived in Node 20.15; the package supports any Node 20, so older 20.x fall back to a table
// (same polynomial, so files written by either are interchangeable).
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

let table: Uint32Array | undefined;
function tableCrc32(data: Uint8Array, value = 0): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = ~value >>> 0;
  for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

export const crc32: (data: Uint8Array, value?: number) => number = nativeCrc32 ?? tableCrc32;
/** exported for the test that pins the fallback to the native implementation */
export const crc32Fallback = tableCrc32;

export function writeU64(buf: Buffer, value: number, offset: number): void {
  buf.writeUInt32LE(value % TWO_32, offset);
  buf.writeUInt32LE(Math.floor(value / TWO_32), offset + 4);
}

/** NaN when the value does not fit a safe integer (only a corrupt frame can hold one). */
export function readU64(buf: Buffer, offset: number): number {
  const hi = buf.readUInt32LE(offset + 4);
  if (hi >= 0x200000) return Number.NaN;
  return hi * TWO_32 + buf.readUInt32LE(offset);
}

/**
 * A frame header whose seq is not yet known; the payload is kept by reference so `writev` sends it
 * without a copy.
 */
export function prepareHeader(payload: Uint8Array, ts: number): { header: Buffer; payloadCrc: number } {
  if (payload.length > MAX_PAYLOAD_BYTES) {
    throw new RangeError(
      `record of ${payload.length} bytes exceeds the ${MAX_PAYLOAD_BYTES}-byte frame limit`,
    );
  }
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32LE(payload.length, 0);
  writeU64(header, ts, 16);
  return { header, payloadCrc: crc32(payload) };
}

/** Stamp the sequence number and the final CRC into a prepared header. */
export function sealHeader(header: Buffer, payloadCrc: number, seq: number): void {
  writeU64(header, seq, 8);
  header.writeUInt32LE(crc32(header.subarray(8, FRAME_HEADER_BYTES), payloadCrc), 4);
}

/** One self-contained frame (tests, tools). */
export function encodeFrame(seq: number, ts: number, payload: Uint8Array): Buffer {
  const { header, payloadCrc } = prepareHeader(payload, ts);
  sealHeader(header, payloadCrc, seq);
  return Buffer.concat([header, payload]);
}

export type DecodeResult =
  | { ok: true; seq: number; ts: number; payload: Buffer; size: number }
  | { ok: false; reason: 'short' | 'length' | 'crc' | 'seq'; need?: number };

/**
 * Decode the frame at `offset` of `buf`. `short` means the buffer ends inside the frame (`need` = the
 * whole frame size when the header was readable), which at the end of a file is a torn write.
 */
export function decodeFrame(buf: Buffer, offset: number, end = buf.length): DecodeResult {
  if (end - offset < FRAME_HEADER_BYTES) return { ok: false, reason: 'short' };
  const len = buf.readUInt32LE(offset);
  if (len > MAX_PAYLOAD_BYTES) return { ok: false, reason: 'length' };
  const size = FRAME_HEADER_BYTES + len;
  if (end - offset < size) return { ok: false, reason: 'short', need: size };
  const payload = buf.subarray(offset + FRAME_HEADER_BYTES, offset + size);
  const crc = crc32(buf.subarray(offset + 8, offset + FRAME_HEADER_BYTES), crc32(payload));
  if (crc !== buf.readUInt32LE(offset + 4)) return { ok: false, reason: 'crc' };
  const seq = readU64(buf, offset + 8);
  const ts = readU64(buf, offset + 16);
  if (Number.isNaN(seq) || Number.isNaN(ts)) return { ok: false, reason: 'seq' };
  return { ok: true, seq, ts, payload, size };
}
