/**
 * Bounds-checked reads of Kafka's primitive types from a request or response frame.
 *
 * Every read checks the bytes it needs against `end` before touching the buffer, so malformed input
 * surfaces as a `ProtocolError` (with what was being read and where), never as a RangeError from
 * Buffer, a read past the frame, or a huge allocation. Byte fields come back as views of the frame.
 *
 * int64 and varlong values are JS numbers: exact within ±2^53 (every offset, timestamp and id
 * penstock deals in); larger magnitudes round to the nearest double, and the writer clamps them back
 * into int64 range, so Long.MAX_VALUE / Long.MIN_VALUE sentinels survive a decode → encode round trip.
 */

/** Malformed or unencodable protocol data. A broker answers a decode error by closing the connection. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code = 'ERR_KAFKA_PROTOCOL';

  /**
   * @param offset byte offset in the buffer being read where the problem was found, or -1 when encoding
   */
  constructor(
    message: string,
    readonly offset = -1,
  ) {
    super(message);
  }
}

const TWO_POW_32 = 4294967296;
// Kafka rejects strings longer than Short.MAX_VALUE bytes even in compact (uvarint-length) form.
const MAX_STRING_BYTES = 0x7fff;

export class Reader {
  readonly buf: Buffer;
  /** Cursor: the next byte to read. */
  offset: number;
  /** One past the last readable byte. */
  readonly end: number;

  constructor(buf: Buffer, offset = 0, end = buf.length) {
    if (offset < 0 || end > buf.length || offset > end) {
      throw new RangeError(`Reader bounds [${offset}, ${end}) outside a buffer of ${buf.length} bytes`);
    }
    this.buf = buf;
    this.offset = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  /** A ProtocolError for malformed input at the current offset (or `at`). */
  error(problem: string, what?: string, at = this.offset): ProtocolError {
    return new ProtocolError(`${what === undefined ? '' : `${what}: `}${problem} at offset ${at}`, at);
  }

  private need(n: number, type: string, what: string | undefined): void {
    if (this.end - this.offset < n) {
      throw this.error(`${type} needs ${n} byte(s), only ${this.end - this.offset} remain`, what);
    }
  }

  skip(n: number, what?: string): void {
    if (n < 0) throw this.error(`negative skip ${n}`, what);
    this.need(n, 'skip', what);
    this.offset += n;
  }

  /** `n` raw bytes as a view of the buffer. */
  raw(n: number, what?: string): Buffer {
    this.need(n, 'raw bytes', what);
    const start = this.offset;
    this.offset = start + n;
    return this.buf.subarray(start, start + n);
  }

  int8(what?: string): number {
    this.need(1, 'int8', what);
    return this.buf.readInt8(this.offset++);
  }

  bool(what?: string): boolean {
    this.need(1, 'bool', what);
    return this.buf[this.offset++] !== 0;
  }

  int16(what?: string): number {
    this.need(2, 'int16', what);
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  uint16(what?: string): number {
    this.need(2, 'uint16', what);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  int32(what?: string): number {
    this.need(4, 'int32', what);
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  uint32(what?: string): number {
    this.need(4, 'uint32', what);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  /** int64 as a number: hi * 2^32 + lo, exact within ±2^53 (see the file comment). */
  int64(what?: string): number {
    this.need(8, 'int64', what);
    const o = this.offset;
    const v = this.buf.readInt32BE(o) * TWO_POW_32 + this.buf.readUInt32BE(o + 4);
    this.offset = o + 8;
    return v;
  }

  float64(what?: string): number {
    this.need(8, 'float64', what);
    const v = this.buf.readDoubleBE(this.offset);
    this.offset += 8;
    return v;
  }

  /** A 16-byte UUID as a view of the buffer. */
  uuid(what?: string): Buffer {
    this.need(16, 'uuid', what);
    const start = this.offset;
    this.offset = start + 16;
    return this.buf.subarray(start, start + 16);
  }

  /** Unsigned LEB128 of at most 5 bytes (Kafka's readUnsignedVarint limit); value < 2^35. */
  uvarint(what?: string): number {
    const buf = this.buf;
    const start = this.offset;
    let o = start;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 5; i++) {
      if (o >= this.end) throw this.error('truncated unsigned varint', what, start);
      const b = buf[o++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        this.offset = o;
        return result;
      }
      scale *= 128;
    }
    throw this.error('unsigned varint longer than 5 bytes', what, start);
  }

  /** Unsigned LEB128 of at most 10 bytes; exact below 2^53. */
  uvarlong(what?: string): number {
    const buf = this.buf;
    const start = this.offset;
    let o = start;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (o >= this.end) throw this.error('truncated unsigned varlong', what, start);
      const b = buf[o++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        this.offset = o;
        return result;
      }
      scale *= 128;
    }
    throw this.error('unsigned varlong longer than 10 bytes', what, start);
  }

  /** Zigzag-encoded signed 32-bit varint (used inside records). */
  varint(what?: string): number {
    const start = this.offset;
    const u = this.uvarint(what);
    if (u > 0xffffffff) throw this.error('varint exceeds 32 bits', what, start);
    return (u >>> 1) ^ -(u & 1);
  }

  /** Zigzag-encoded signed 64-bit varint; exact within ±2^52. */
  varlong(what?: string): number {
    const u = this.uvarlong(what);
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  private utf8(n: number, what: string | undefined): string {
    this.need(n, 'string', what);
    const start = this.offset;
    this.offset = start + n;
    return this.buf.toString('utf8', start, start + n);
  }

  /** STRING: int16 length, then UTF-8. */
  string(what?: string): string {
    const at = this.offset;
    const n = this.int16(what);
    if (n < 0) throw this.error(`non-nullable string has length ${n}`, what, at);
    return this.utf8(n, what);
  }

  /** NULLABLE_STRING: int16 length, -1 = null. */
  nullableString(what?: string): string | null {
    const at = this.offset;
    const n = this.int16(what);
    if (n < 0) {
      if (n === -1) return null;
      throw this.error(`string has length ${n}`, what, at);
    }
    return this.utf8(n, what);
  }

  /** COMPACT_STRING: uvarint length + 1. */
  compactString(what?: string): string {
    const at = this.offset;
    const n = this.uvarint(what) - 1;
    if (n < 0) throw this.error('non-nullable compact string is null', what, at);
    if (n > MAX_STRING_BYTES) throw this.error(`compact string of ${n} bytes exceeds ${MAX_STRING_BYTES}`, what, at);
    return this.utf8(n, what);
  }

  /** COMPACT_NULLABLE_STRING: uvarint length + 1, 0 = null. */
  compactNullableString(what?: string): string | null {
    const at = this.offset;
    const n = this.uvarint(what) - 1;
    if (n < 0) return null;
    if (n > MAX_STRING_BYTES) throw this.error(`compact string of ${n} bytes exceeds ${MAX_STRING_BYTES}`, what, at);
    return this.utf8(n, what);
  }

  private view(n: number, what: string | undefined): Buffer {
    this.need(n, 'bytes', what);
    const start = this.offset;
    this.offset = start + n;
    return this.buf.subarray(start, start + n);
  }

  /** BYTES: int32 length, then the bytes as a view (no copy). */
  bytes(what?: string): Buffer {
    const at = this.offset;
    const n = this.int32(what);
    if (n < 0) throw this.error(`non-nullable bytes have length ${n}`, what, at);
    return this.view(n, what);
  }

  /** NULLABLE_BYTES: int32 length, -1 = null. */
  nullableBytes(what?: string): Buffer | null {
    const at = this.offset;
    const n = this.int32(what);
    if (n < 0) {
      if (n === -1) return null;
      throw this.error(`bytes have length ${n}`, what, at);
    }
    return this.view(n, what);
  }

  /** COMPACT_BYTES: uvarint length + 1. */
  compactBytes(what?: string): Buffer {
    const at = this.offset;
    const n = this.uvarint(what) - 1;
    if (n < 0) throw this.error('non-nullable compact bytes are null', what, at);
    return this.view(n, what);
  }

  /** COMPACT_NULLABLE_BYTES: uvarint length + 1, 0 = null. */
  compactNullableBytes(what?: string): Buffer | null {
    const n = this.uvarint(what) - 1;
    if (n < 0) return null;
    return this.view(n, what);
  }

  /** RECORDS in non-flexible versions: NULLABLE_BYTES, returned as a view of the frame. */
  records(what?: string): Buffer | null {
    return this.nullableBytes(what);
  }

  /** RECORDS in flexible versions: COMPACT_NULLABLE_BYTES. */
  compactRecords(what?: string): Buffer | null {
    return this.compactNullableBytes(what);
  }

  /**
   * ARRAY count: int32, -1 = null (returned as -1; the caller decides whether null is allowed).
   * A count above the remaining byte count cannot be honest (every element takes at least a byte),
   * so it is rejected before anything is allocated — the same rule as Kafka's generated readers.
   */
  arrayLength(what?: string): number {
    const at = this.offset;
    const n = this.int32(what);
    if (n < 0) {
      if (n === -1) return -1;
      throw this.error(`array has length ${n}`, what, at);
    }
    if (n > this.end - this.offset) {
      throw this.error(`array of ${n} elements but only ${this.end - this.offset} bytes remain`, what, at);
    }
    return n;
  }

  /** COMPACT_ARRAY count: uvarint N + 1, 0 = null (returned as -1). Same size rule as `arrayLength`. */
  compactArrayLength(what?: string): number {
    const at = this.offset;
    const n = this.uvarint(what) - 1;
    if (n < 0) return -1;
    if (n > this.end - this.offset) {
      throw this.error(`array of ${n} elements but only ${this.end - this.offset} bytes remain`, what, at);
    }
    return n;
  }

  /** A tagged-field section whose fields are all unknown to the caller: skipped. */
  skipTaggedFields(what?: string): void {
    const count = this.uvarint(what);
    for (let i = 0; i < count; i++) {
      this.uvarint(what);
      this.skip(this.uvarint(what), what);
    }
  }

  /**
   * Checks that a tagged field's `size` bytes are present and returns the offset where it ends; the
   * caller decodes the value and then calls `endTaggedField`.
   */
  taggedFieldEnd(size: number, what?: string): number {
    this.need(size, 'tagged field', what);
    return this.offset + size;
  }

  /** Moves past a tagged field, rejecting a value that overran its declared size. */
  endTaggedField(end: number, what?: string): void {
    if (this.offset > end) throw this.error(`tagged field overran its size by ${this.offset - end} byte(s)`, what);
    this.offset = end;
  }
}
