/**
 * Chainable appends of Kafka's primitive types into a growing buffer, producing a list of send parts.
 *
 * Record bytes are never copied when they matter: a `records` value that is a file region (or a large
 * Buffer) ends the current buffer chunk and is appended as its own part, so a fetch response becomes
 * small Buffers interleaved with file regions for sendfile(2).
 *
 * int64 takes a JS number (see reader.ts): values at or beyond ±2^63 are clamped to Long.MAX_VALUE /
 * Long.MIN_VALUE so sentinels read as numbers round-trip. An int8/16/32 out of range is a caller bug
 * and throws Node's RangeError; wrong types and nulls in string, bytes and uuid fields throw ProtocolError.
 */
import { isFileRegion, type FileRegion, type SendPart } from '../io/types.js';
import { ProtocolError } from './reader.js';

/** What a `records` field can be encoded from; decoding always yields `Buffer | null`. */
export type RecordsValue = Buffer | FileRegion | readonly SendPart[] | null;

const TWO_POW_32 = 4294967296;
const TWO_POW_63 = 9223372036854775808;
const MAX_STRING_BYTES = 0x7fff;
// Below this size a records Buffer is copied into the chunk: cheaper than an extra iovec / part.
const INLINE_RECORDS_MAX = 256;

function encodeError(problem: string, what: string | undefined): ProtocolError {
  return new ProtocolError(`cannot encode ${what ?? 'value'}: ${problem}`, -1);
}

/** The error for a null value in a version where the field is not nullable (used by generated code). */
export function nullError(what: string, version: number): ProtocolError {
  return encodeError(`null is not allowed in version ${version}`, what);
}

/** Whether a UUID is Kafka's ZERO_UUID, the default of uuid fields (used by generated code). */
export function isZeroUuid(v: Uint8Array): boolean {
  for (let i = 0; i < v.length; i++) if (v[i] !== 0) return false;
  return true;
}

/** Total byte length of send parts, file regions included. */
export function sendPartsLength(parts: readonly SendPart[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

export class Writer {
  private buf: Buffer;
  /** Next byte to write in `buf`. */
  private pos = 0;
  /** Start in `buf` of the chunk not yet moved to `parts`. */
  private chunkStart = 0;
  private readonly parts: SendPart[] = [];
  /** Bytes in `parts`, file regions included. */
  private partsBytes = 0;
  private regions = 0;

  constructor(initialCapacity = 512) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initialCapacity));
  }

  /** Bytes written so far, file regions included. */
  get length(): number {
    return this.partsBytes + this.pos - this.chunkStart;
  }

  /** Whether file regions were appended (then only `finish()` can return the result). */
  get hasRegions(): boolean {
    return this.regions > 0;
  }

  private ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  // Doubles into a fresh buffer; only the current chunk moves — earlier parts stay views of the old one.
  private grow(n: number): void {
    const used = this.pos - this.chunkStart;
    let cap = this.buf.length * 2;
    while (cap < used + n) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, this.chunkStart, this.pos);
    this.buf = next;
    this.chunkStart = 0;
    this.pos = used;
  }

  private endChunk(): void {
    if (this.pos > this.chunkStart) {
      this.parts.push(this.buf.subarray(this.chunkStart, this.pos));
      this.partsBytes += this.pos - this.chunkStart;
      this.chunkStart = this.pos;
    }
  }

  int8(v: number): this {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos);
    this.pos += 1;
    return this;
  }

  bool(v: boolean): this {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
    return this;
  }

  int16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  uint16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  uint32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  int64(v: number, what?: string): this {
    if (!Number.isInteger(v)) throw encodeError(`int64 ${v} is not an integer`, what);
    let hi: number;
    let lo: number;
    if (v >= TWO_POW_63) {
      hi = 0x7fffffff;
      lo = 0xffffffff;
    } else if (v <= -TWO_POW_63) {
      hi = -0x80000000;
      lo = 0;
    } else {
      hi = Math.floor(v / TWO_POW_32);
      lo = v - hi * TWO_POW_32;
    }
    this.ensure(8);
    this.buf.writeInt32BE(hi, this.pos);
    this.buf.writeUInt32BE(lo, this.pos + 4);
    this.pos += 8;
    return this;
  }

  float64(v: number): this {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
    return this;
  }

  uuid(v: Uint8Array, what?: string): this {
    if (!(v instanceof Uint8Array) || v.length !== 16) throw encodeError('uuid must be 16 bytes', what);
    this.ensure(16);
    this.buf.set(v, this.pos);
    this.pos += 16;
    return this;
  }

  /** Unsigned LEB128 of a value in [0, 2^32). */
  uvarint(v: number, what?: string): this {
    if (!(v >= 0 && v <= 0xffffffff) || !Number.isInteger(v)) throw encodeError(`uvarint ${v} out of range`, what);
    this.ensure(5);
    const buf = this.buf;
    let p = this.pos;
    while (v >= 0x80) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p++] = v;
    this.pos = p;
    return this;
  }

  /** Unsigned LEB128 of a value in [0, 2^53]. */
  uvarlong(v: number, what?: string): this {
    if (!(v >= 0) || !Number.isSafeInteger(v)) throw encodeError(`uvarlong ${v} out of range`, what);
    this.ensure(10);
    const buf = this.buf;
    let p = this.pos;
    while (v >= 0x80) {
      buf[p++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    buf[p++] = v;
    this.pos = p;
    return this;
  }

  /** Zigzag signed 32-bit varint. */
  varint(v: number, what?: string): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw encodeError(`varint ${v} out of range`, what);
    return this.uvarint(((v << 1) ^ (v >> 31)) >>> 0, what);
  }

  /** Zigzag signed 64-bit varint; exact within ±2^52. */
  varlong(v: number, what?: string): this {
    if (!Number.isInteger(v)) throw encodeError(`varlong ${v} is not an integer`, what);
    return this.uvarlong(v >= 0 ? v * 2 : -v * 2 - 1, what);
  }

  // Writes UTF-8 after a `prefix`-byte gap and returns its length; the caller fills the gap.
  private utf8After(v: string, prefix: number, what: string | undefined): number {
    if (typeof v !== 'string') throw encodeError(`expected a string, got ${v === null ? 'null' : typeof v}`, what);
    this.ensure(prefix + v.length * 3);
    const n = this.buf.write(v, this.pos + prefix);
    if (n > MAX_STRING_BYTES) throw encodeError(`string of ${n} bytes exceeds ${MAX_STRING_BYTES}`, what);
    return n;
  }

  /** STRING: int16 length, then UTF-8. */
  string(v: string, what?: string): this {
    const n = this.utf8After(v, 2, what);
    this.buf.writeInt16BE(n, this.pos);
    this.pos += 2 + n;
    return this;
  }

  /** NULLABLE_STRING: int16 length, -1 = null. */
  nullableString(v: string | null, what?: string): this {
    return v === null ? this.int16(-1) : this.string(v, what);
  }

  /** COMPACT_STRING: uvarint length + 1. */
  compactString(v: string, what?: string): this {
    if (typeof v !== 'string') throw encodeError(`expected a string, got ${v === null ? 'null' : typeof v}`, what);
    const n = Buffer.byteLength(v);
    if (n > MAX_STRING_BYTES) throw encodeError(`string of ${n} bytes exceeds ${MAX_STRING_BYTES}`, what);
    this.uvarint(n + 1);
    this.ensure(n);
    this.buf.write(v, this.pos);
    this.pos += n;
    return this;
  }

  /** COMPACT_NULLABLE_STRING: uvarint length + 1, 0 = null. */
  compactNullableString(v: string | null, what?: string): this {
    return v === null ? this.uvarint(0) : this.compactString(v, what);
  }

  /** Appends bytes verbatim (copied into the current chunk). */
  raw(v: Uint8Array): this {
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
    return this;
  }

  /** BYTES: int32 length, then the bytes. */
  bytes(v: Uint8Array, what?: string): this {
    if (!(v instanceof Uint8Array)) throw encodeError(`expected bytes, got ${v === null ? 'null' : typeof v}`, what);
    return this.int32(v.length).raw(v);
  }

  /** NULLABLE_BYTES: int32 length, -1 = null. */
  nullableBytes(v: Uint8Array | null, what?: string): this {
    return v === null ? this.int32(-1) : this.bytes(v, what);
  }

  /** COMPACT_BYTES: uvarint length + 1. */
  compactBytes(v: Uint8Array, what?: string): this {
    if (!(v instanceof Uint8Array)) throw encodeError(`expected bytes, got ${v === null ? 'null' : typeof v}`, what);
    return this.uvarint(v.length + 1).raw(v);
  }

  /** COMPACT_NULLABLE_BYTES: uvarint length + 1, 0 = null. */
  compactNullableBytes(v: Uint8Array | null, what?: string): this {
    return v === null ? this.uvarint(0) : this.compactBytes(v, what);
  }

  /** RECORDS in non-flexible versions: int32 length (-1 = null), then the record bytes as parts. */
  records(v: RecordsValue, what?: string): this {
    if (v === null) return this.int32(-1);
    this.int32(recordsLength(v, what));
    return this.appendRecords(v);
  }

  /** RECORDS in flexible versions: uvarint length + 1 (0 = null), then the record bytes as parts. */
  compactRecords(v: RecordsValue, what?: string): this {
    if (v === null) return this.uvarint(0);
    this.uvarint(recordsLength(v, what) + 1);
    return this.appendRecords(v);
  }

  private appendRecords(v: Exclude<RecordsValue, null>): this {
    if (Buffer.isBuffer(v)) return this.appendPart(v);
    if (Array.isArray(v)) {
      for (const part of v as readonly SendPart[]) this.appendPart(part);
      return this;
    }
    return this.appendPart(v as FileRegion);
  }

  /** Appends a part after the bytes written so far: small Buffers are copied, the rest kept by reference. */
  appendPart(part: SendPart): this {
    if (part.length === 0) return this;
    if (isFileRegion(part)) {
      this.endChunk();
      this.parts.push(part);
      this.partsBytes += part.length;
      this.regions++;
    } else if (part.length <= INLINE_RECORDS_MAX) {
      this.raw(part);
    } else {
      this.endChunk();
      this.parts.push(part);
      this.partsBytes += part.length;
    }
    return this;
  }

  /** ARRAY count: int32, -1 = null. */
  arrayLength(n: number | null): this {
    return this.int32(n === null ? -1 : n);
  }

  /** COMPACT_ARRAY count: uvarint N + 1, 0 = null. */
  compactArrayLength(n: number | null): this {
    return this.uvarint(n === null ? 0 : n + 1);
  }

  /** A tagged-field section with no fields. */
  emptyTaggedFields(): this {
    return this.uvarint(0);
  }

  /** Reserves an int32 size slot at the current position; returns the mark for `endFrame`. */
  beginFrame(): number {
    const mark = this.length;
    this.int32(0);
    return mark;
  }

  /** Fills the slot reserved at `mark` with the bytes written after it, file regions included. */
  endFrame(mark: number): this {
    const size = this.length - mark - 4;
    if (size > 0x7fffffff) throw encodeError(`frame of ${size} bytes exceeds int32`, 'frame size');
    this.patchInt32(mark, size);
    return this;
  }

  /** Overwrites 4 bytes already written at logical offset `at` (which must lie in this writer's own bytes). */
  patchInt32(at: number, v: number): void {
    if (at >= this.partsBytes) {
      const p = this.chunkStart + (at - this.partsBytes);
      if (p + 4 > this.pos) throw encodeError(`offset ${at} is past the written bytes`, 'patch');
      this.buf.writeInt32BE(v, p);
      return;
    }
    let start = 0;
    for (const part of this.parts) {
      if (at < start + part.length) {
        if (isFileRegion(part) || at + 4 > start + part.length) {
          throw encodeError(`offset ${at} does not lie within one written buffer`, 'patch');
        }
        part.writeInt32BE(v, at - start);
        return;
      }
      start += part.length;
    }
  }

  /**
   * The output as an ordered list of Buffers and file regions. The writer must not be used afterwards.
   */
  finish(): SendPart[] {
    this.endChunk();
    return this.parts;
  }

  /** The output as one Buffer; throws if file regions were appended (they have no bytes in memory). */
  toBuffer(): Buffer {
    if (this.regions > 0) throw encodeError('output contains file regions', 'toBuffer');
    if (this.parts.length === 0) return this.buf.subarray(this.chunkStart, this.pos);
    this.endChunk();
    return Buffer.concat(this.parts as Buffer[], this.partsBytes);
  }
}

function recordsLength(v: Exclude<RecordsValue, null>, what: string | undefined): number {
  const n = Array.isArray(v) ? sendPartsLength(v as readonly SendPart[]) : (v as SendPart).length;
  if (!(n >= 0 && n <= 0x7fffffff)) throw encodeError(`records length ${n} out of range`, what);
  return n;
}
