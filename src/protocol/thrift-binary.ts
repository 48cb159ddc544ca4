/**
 * Thrift TBinaryProtocol primitives (struct encoding only, no message envelope), enough for Snowplow's
 * `CollectorPayload`. Decoding is the enrich hot path and faces arbitrary bytes from the raw stream, so the reader
 * is a plain offset cursor over a DataView that checks every length against the bytes left before touching them
 * and bounds nesting depth — a bogus prefix can neither allocate gigabytes nor overflow the stack.
 */
import { writeLatin1 } from './latin1.js';

export const TType = {
  STOP: 0,
  VOID: 1,
  BOOL: 2,
  BYTE: 3,
  DOUBLE: 4,
  I16: 6,
  I32: 8,
  I64: 10,
  STRING: 11,
  STRUCT: 12,
  MAP: 13,
  SET: 14,
  LIST: 15,
} as const;

/**
 * What went wrong, mirroring libthrift's exception types: `end-of-bytes` is its TTransportException END_OF_FILE
 * (Snowplow reports every such case with one fixed text, which is therefore the message), the others are
 * TProtocolException flavours whose messages Snowplow passes through verbatim.
 */
export type ThriftErrorKind =
  | 'end-of-bytes'
  | 'negative-size'
  | 'invalid-data'
  | 'depth-limit'
  | 'missing-field';

export const END_OF_BYTES_MESSAGE = 'Reached end of bytes when parsing as thrift format';

export class ThriftDecodeError extends Error {
  override readonly name = 'ThriftDecodeError';
  readonly kind: ThriftErrorKind;
  /** Extra precision not in `message` (kept out of it so bad-row text matches upstream), e.g. a bogus length. */
  readonly detail: string | undefined;

  constructor(kind: ThriftErrorKind, message: string, detail?: string) {
    super(message);
    this.kind = kind;
    this.detail = detail;
  }
}

// libthrift's TProtocolUtil default recursion limit.
const MAX_SKIP_DEPTH = 64;

// Smallest encoding of one value of each type, used to reject container sizes that cannot fit in what is left.
function minSize(type: number): number {
  switch (type) {
    case TType.BOOL:
    case TType.BYTE:
    case TType.STRUCT: // at least a field-stop byte
      return 1;
    case TType.I16:
      return 2;
    case TType.I32:
    case TType.STRING:
    case TType.SET:
    case TType.LIST:
      return 4;
    case TType.MAP:
      return 6;
    case TType.DOUBLE:
    case TType.I64:
      return 8;
    default:
      throw new ThriftDecodeError('invalid-data', 'Unrecognized type ' + type);
  }
}

export class ThriftReader {
  // A Buffer view (no copy) because its utf8 slicing beats TextDecoder on the short strings of a payload.
  private readonly buf: Buffer;
  private readonly view: DataView;
  pos: number;
  private readonly end: number;
  /** Id of the field whose header `readFieldBegin` last read. */
  fieldId = 0;
  /** Element type of the list or set whose header `readListBegin` last read. */
  elemType = 0;

  constructor(bytes: Uint8Array) {
    this.buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
    this.end = bytes.byteLength;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (this.end - this.pos < n) throw new ThriftDecodeError('end-of-bytes', END_OF_BYTES_MESSAGE);
  }

  readByte(): number {
    this.need(1);
    return this.view.getInt8(this.pos++);
  }

  readI16(): number {
    this.need(2);
    const v = this.view.getInt16(this.pos);
    this.pos += 2;
    return v;
  }

  readI32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }

  /** Exact for |v| ≤ 2^53 (every real timestamp); larger values lose precision rather than allocate a BigInt. */
  readI64(): number {
    this.need(8);
    const hi = this.view.getInt32(this.pos);
    const lo = this.view.getUint32(this.pos + 4);
    this.pos += 8;
    return hi * 4_294_967_296 + lo;
  }

  readDouble(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos);
    this.pos += 8;
    return v;
  }

  /** Length-prefixed UTF-8; invalid sequences decode to U+FFFD as Java's `new String(bytes, UTF_8)` does. */
  readString(): string {
    const len = this.readSize();
    if (len > this.end - this.pos) throw this.overrun('string', len);
    const start = this.pos;
    this.pos += len;
    if (len === 0) return '';
    return this.buf.toString('utf8', start, start + len);
  }

  /** Skips a length-prefixed byte string without decoding it. */
  skipString(): void {
    const len = this.readSize();
    if (len > this.end - this.pos) throw this.overrun('string', len);
    this.pos += len;
  }

  /** Reads a field header; returns its type (STOP ends the struct) and leaves the id in `fieldId`. */
  readFieldBegin(): number {
    const type = this.readByte();
    if (type !== TType.STOP) this.fieldId = this.readI16();
    return type;
  }

  /** Reads a list/set header; returns the element count, having checked the elements can fit. */
  readListBegin(): number {
    this.elemType = this.readByte();
    const size = this.readSize();
    if (size > 0 && size * minSize(this.elemType) > this.end - this.pos) throw this.overrun('list', size);
    return size;
  }

  skip(type: number, depth = MAX_SKIP_DEPTH): void {
    if (depth <= 0) throw new ThriftDecodeError('depth-limit', 'Maximum skip depth exceeded');
    switch (type) {
      case TType.BOOL:
      case TType.BYTE:
        this.need(1);
        this.pos += 1;
        return;
      case TType.I16:
        this.need(2);
        this.pos += 2;
        return;
      case TType.I32:
        this.need(4);
        this.pos += 4;
        return;
      case TType.I64:
      case TType.DOUBLE:
        this.need(8);
        this.pos += 8;
        return;
      case TType.STRING:
        this.skipString();
        return;
      case TType.STRUCT:
        for (;;) {
          const t = this.readFieldBegin();
          if (t === TType.STOP) return;
          this.skip(t, depth - 1);
        }
      case TType.MAP: {
        const kt = this.readByte();
        const vt = this.readByte();
        const size = this.readSize();
        if (size > 0 && size * (minSize(kt) + minSize(vt)) > this.end - this.pos)
          throw this.overrun('map', size);
        for (let i = 0; i < size; i++) {
          this.skip(kt, depth - 1);
          this.skip(vt, depth - 1);
        }
        return;
      }
      case TType.SET:
      case TType.LIST: {
        const et = this.readByte();
        const size = this.readSize();
        if (size > 0 && size * minSize(et) > this.end - this.pos) throw this.overrun('list', size);
        for (let i = 0; i < size; i++) this.skip(et, depth - 1);
        return;
      }
      default:
        throw new ThriftDecodeError('invalid-data', 'Unrecognized type ' + type);
    }
  }

  private readSize(): number {
    const size = this.readI32();
    if (size < 0) throw new ThriftDecodeError('negative-size', 'Negative length: ' + size);
    return size;
  }

  // libthrift fails a length that runs past the buffer as END_OF_FILE too; the figures go to `detail`.
  private overrun(what: string, size: number): ThriftDecodeError {
    return new ThriftDecodeError(
      'end-of-bytes',
      END_OF_BYTES_MESSAGE,
      `${what} length ${size} at offset ${this.pos - 4} exceeds the ${this.end - this.pos} bytes left`,
    );
  }
}

/** up to this many characters `writeAsciiString` copies in JS rather than through `Buffer#write` */
const SHORT_ASCII = 32;

/**
 * Writes into a buffer sized up front by the caller (strings measured with `Buffer.byteLength`), so encoding one
 * record is a single allocation.
 */
export class ThriftWriter {
  readonly buf: Buffer;
  pos = 0;

  /** `buf`: exactly the bytes to fill, or its size to allocate one */
  constructor(buf: number | Buffer) {
    this.buf = typeof buf === 'number' ? Buffer.allocUnsafe(buf) : buf;
  }

  writeByte(v: number): void {
    this.buf.writeInt8(v, this.pos);
    this.pos += 1;
  }

  writeI16(v: number): void {
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
  }

  writeI32(v: number): void {
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }

  writeI64(v: number): void {
    if (!Number.isSafeInteger(v)) throw new RangeError(`i64 value must be a safe integer, got ${v}`);
    const hi = Math.floor(v / 4_294_967_296);
    this.buf.writeInt32BE(hi, this.pos);
    this.buf.writeUInt32BE(v - hi * 4_294_967_296, this.pos + 4);
    this.pos += 8;
  }

  /** The caller sized the buffer with `Buffer.byteLength(s)`; the length prefix is back-filled after writing. */
  writeString(s: string): void {
    const at = this.pos;
    const n = this.buf.write(s, at + 4, 'utf8');
    this.buf.writeInt32BE(n, at);
    this.pos = at + 4 + n;
  }

  /**
   * An ASCII-only string (the caller checked, and sized the buffer with its length): one byte a character.
   * Short strings are copied by a loop here: `Buffer#write` costs ~90 ns a call in getting to C++ and back,
   * which for the collector's dozen short fields per record was more than the bytes (~3× faster up to 32
   * characters in a micro-benchmark; longer ones still go through `write`).
   */
  writeAsciiString(s: string): void {
    const at = this.pos;
    const n = s.length;
    const b = this.buf;
    if (n <= SHORT_ASCII) {
      b[at] = 0;
      b[at + 1] = 0;
      b[at + 2] = 0;
      b[at + 3] = n;
      for (let i = 0; i < n; i++) b[at + 4 + i] = s.charCodeAt(i);
    } else {
      b.writeInt32BE(n, at);
      writeLatin1(b, s, at + 4);
    }
    this.pos = at + 4 + n;
  }

  /** A string already encoded as UTF-8 (the caller sized the buffer with its length). */
  writeStringBytes(b: Uint8Array): void {
    this.buf.writeInt32BE(b.length, this.pos);
    this.buf.set(b, this.pos + 4);
    this.pos += 4 + b.length;
  }

  writeFieldBegin(type: number, id: number): void {
    // three plain stores rather than two bounds-checked Buffer writes; a typed-array store keeps the low 8
    // bits, so a negative id comes out as its two's complement like writeInt16BE's
    const b = this.buf;
    const at = this.pos;
    b[at] = type;
    b[at + 1] = id >> 8;
    b[at + 2] = id & 0xff;
    this.pos = at + 3;
  }

  writeListBegin(elemType: number, size: number): void {
    this.writeByte(elemType);
    this.writeI32(size);
  }

  writeFieldStop(): void {
    this.writeByte(TType.STOP);
  }
}
