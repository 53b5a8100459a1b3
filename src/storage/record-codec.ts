/**
 * RecordBatch v2 (magic 2) encoder and decoder, byte for byte as in KAFKA-NOTES §2.1 / Kafka's
 * DefaultRecordBatch. Offsets and timestamps are JS numbers: exact up to 2^53, which covers every real
 * offset and millisecond timestamp.
 */
import { defaultIo } from '../io/select.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_LENGTH_OFFSET,
  CONTROL_FLAG_MASK,
  CRC_OFFSET,
  CURRENT_MAGIC,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_BATCH_OVERHEAD,
  RECORDS_COUNT_OFFSET,
  TIMESTAMP_TYPE_MASK,
  TRANSACTIONAL_FLAG_MASK,
  readInt64,
  writeInt64,
} from './record-batch.js';
import { compress, compressionCodecId, compressionFromAttributes, CompressionError, decompress, type Compression } from './compression.js';

export type { Compression } from './compression.js';

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface RecordInput {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, Buffer | string | null> | RecordHeader[];
  /** Milliseconds since the epoch; defaults to the time of the encode call (as Kafka's producer does at send). */
  timestamp?: number;
}

export interface DecodedRecord {
  offset: number;
  timestamp: number;
  /** A view into the decoded (or decompressed) bytes, not a copy. */
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export type TimestampType = 'CreateTime' | 'LogAppendTime';

export interface DecodedBatch {
  baseOffset: number;
  lastOffset: number;
  partitionLeaderEpoch: number;
  attributes: number;
  compression: Compression;
  timestampType: TimestampType;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  isTransactional: boolean;
  isControl: boolean;
  records: DecodedRecord[];
  /** Bytes this batch occupies in the input: 12 + batchLength. */
  sizeInBytes: number;
}

export type Crc32cFn = (buf: Uint8Array, start?: number, end?: number) => number;

export interface EncodeOptions {
  compression?: Compression;
  baseOffset?: number;
  /** Defaults to the first record's timestamp, as Kafka's producer does; other records may be earlier. */
  baseTimestamp?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  partitionLeaderEpoch?: number;
  timestampType?: TimestampType;
  isTransactional?: boolean;
  isControl?: boolean;
  /** Defaults to the process's I/O backend (`defaultIo().crc32c`). */
  crc32c?: Crc32cFn;
}

export interface DecodeOptions {
  /** Check each batch's CRC-32C (default true). */
  verifyCrc?: boolean;
  crc32c?: Crc32cFn;
}

/** A batch whose bytes contradict its own framing, named with Kafka's error code (CORRUPT_MESSAGE). */
export class CorruptRecordError extends Error {
  readonly code = 'CORRUPT_MESSAGE';
  /** Byte position of the batch in the decoded buffer. */
  readonly position: number;
  constructor(message: string, position: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CorruptRecordError';
    this.position = position;
  }
}


/** The smallest record: 1-byte length, attributes, timestampDelta, offsetDelta, key, value and header count. */
const MIN_RECORD_SIZE = 7;
const TWO_POW_32 = 4294967296;

export function encodeRecordBatch(records: readonly RecordInput[], options: EncodeOptions = {}): Buffer {
  const n = records.length;
  if (n === 0) throw new RangeError('a record batch needs at least one record (Kafka rejects empty batches)');
  const codec = options.compression ?? 'none';
  const codecId = compressionCodecId(codec);
  const now = Date.now();

  // Pass 1: sizes, so the records are written once into a buffer of the right length.
  const timestamps = new Float64Array(n);
  const keyLens = new Int32Array(n);
  const valueLens = new Int32Array(n);
  const bodyLens = new Int32Array(n);
  const baseTimestamp = options.baseTimestamp ?? records[0]!.timestamp ?? now;
  checkInt64('baseTimestamp', baseTimestamp);
  let maxTimestamp = -Infinity;
  let recordsSize = 0;
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    const ts = r.timestamp ?? now;
    if (ts !== now) checkInt64('record timestamp', ts);
    timestamps[i] = ts;
    if (ts > maxTimestamp) maxTimestamp = ts;
    const kl = byteLengthOf(r.key);
    const vl = byteLengthOf(r.value);
    keyLens[i] = kl;
    valueLens[i] = vl;
    const body =
      1 +
      sizeOfVarlong(ts - baseTimestamp) +
      sizeOfVarint(i) +
      sizeOfVarint(kl) +
      (kl > 0 ? kl : 0) +
      sizeOfVarint(vl) +
      (vl > 0 ? vl : 0) +
      sizeOfHeaders(r.headers);
    bodyLens[i] = body;
    recordsSize += sizeOfVarint(body) + body;
  }
  if (recordsSize > 0x7fffffff - RECORD_BATCH_OVERHEAD) throw new RangeError(`record batch of ${recordsSize} bytes exceeds the int32 batch length`);

  // Pass 2: write the records section, in place when uncompressed.
  let out: Buffer;
  if (codecId === 0) {
    out = Buffer.allocUnsafe(RECORD_BATCH_OVERHEAD + recordsSize);
    writeRecords(out, RECORD_BATCH_OVERHEAD, records, timestamps, baseTimestamp, keyLens, valueLens, bodyLens);
  } else {
    const plain = Buffer.allocUnsafe(recordsSize);
    writeRecords(plain, 0, records, timestamps, baseTimestamp, keyLens, valueLens, bodyLens);
    const packed = compress(codec, plain);
    out = Buffer.allocUnsafe(RECORD_BATCH_OVERHEAD + packed.length);
    packed.copy(out, RECORD_BATCH_OVERHEAD);
  }

  let attributes = codecId;
  if (options.timestampType === 'LogAppendTime') attributes |= TIMESTAMP_TYPE_MASK;
  if (options.isTransactional) attributes |= TRANSACTIONAL_FLAG_MASK;
  if (options.isControl) attributes |= CONTROL_FLAG_MASK;

  writeInt64(out, checkInt64('baseOffset', options.baseOffset ?? 0), BASE_OFFSET_OFFSET);
  out.writeInt32BE(out.length - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  out.writeInt32BE(options.partitionLeaderEpoch ?? -1, PARTITION_LEADER_EPOCH_OFFSET);
  out.writeInt8(CURRENT_MAGIC, MAGIC_OFFSET);
  out.writeInt16BE(attributes, ATTRIBUTES_OFFSET);
  out.writeInt32BE(n - 1, LAST_OFFSET_DELTA_OFFSET);
  writeInt64(out, baseTimestamp, BASE_TIMESTAMP_OFFSET);
  writeInt64(out, maxTimestamp, MAX_TIMESTAMP_OFFSET);
  writeInt64(out, checkInt64('producerId', options.producerId ?? -1), PRODUCER_ID_OFFSET);
  out.writeInt16BE(options.producerEpoch ?? -1, PRODUCER_EPOCH_OFFSET);
  out.writeInt32BE(options.baseSequence ?? -1, BASE_SEQUENCE_OFFSET);
  out.writeInt32BE(n, RECORDS_COUNT_OFFSET);
  // The CRC covers attributes → end, so it is computed last.
  const crc = (options.crc32c ?? defaultCrc32c())(out, ATTRIBUTES_OFFSET, out.length);
  out.writeUInt32BE(crc >>> 0, CRC_OFFSET);
  return out;
}

function writeRecords(
  buf: Buffer,
  start: number,
  records: readonly RecordInput[],
  timestamps: Float64Array,
  baseTimestamp: number,
  keyLens: Int32Array,
  valueLens: Int32Array,
  bodyLens: Int32Array,
): number {
  let pos = start;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    pos = writeVarint(buf, pos, bodyLens[i]!);
    buf[pos++] = 0; // record attributes: unused in magic 2
    pos = writeVarlong(buf, pos, timestamps[i]! - baseTimestamp);
    pos = writeVarint(buf, pos, i);
    pos = writeBytesField(buf, pos, r.key, keyLens[i]!);
    pos = writeBytesField(buf, pos, r.value, valueLens[i]!);
    pos = writeHeaders(buf, pos, r.headers);
  }
  return pos;
}

function writeBytesField(buf: Buffer, pos: number, data: Buffer | string | null | undefined, len: number): number {
  pos = writeVarint(buf, pos, len);
  if (len <= 0) return pos;
  if (typeof data === 'string') buf.write(data, pos, len, 'utf8');
  else buf.set(data!, pos);
  return pos + len;
}

function sizeOfHeaders(headers: RecordInput['headers']): number {
  if (headers === undefined) return 1;
  let size = 0;
  let count = 0;
  if (Array.isArray(headers)) {
    for (const h of headers) {
      size += sizeOfHeader(h.key, h.value);
      count++;
    }
  } else {
    for (const key in headers) {
      if (!Object.hasOwn(headers, key)) continue;
      size += sizeOfHeader(key, headers[key]);
      count++;
    }
  }
  return sizeOfVarint(count) + size;
}

function sizeOfHeader(key: string, value: Buffer | string | null | undefined): number {
  if (typeof key !== 'string') throw new TypeError(`header keys must be strings, got ${typeof key}`);
  const kl = Buffer.byteLength(key, 'utf8');
  const vl = byteLengthOf(value);
  return sizeOfVarint(kl) + kl + sizeOfVarint(vl) + (vl > 0 ? vl : 0);
}

function writeHeaders(buf: Buffer, pos: number, headers: RecordInput['headers']): number {
  if (headers === undefined) {
    buf[pos] = 0;
    return pos + 1;
  }
  if (Array.isArray(headers)) {
    pos = writeVarint(buf, pos, headers.length);
    for (const h of headers) pos = writeHeader(buf, pos, h.key, h.value);
    return pos;
  }
  let count = 0;
  for (const key in headers) if (Object.hasOwn(headers, key)) count++;
  pos = writeVarint(buf, pos, count);
  for (const key in headers) if (Object.hasOwn(headers, key)) pos = writeHeader(buf, pos, key, headers[key]);
  return pos;
}

function writeHeader(buf: Buffer, pos: number, key: string, value: Buffer | string | null | undefined): number {
  pos = writeBytesField(buf, pos, key, Buffer.byteLength(key, 'utf8'));
  return writeBytesField(buf, pos, value, byteLengthOf(value));
}

/** Byte length of a key/value/header value; -1 encodes null. */
function byteLengthOf(data: Buffer | string | null | undefined): number {
  if (data === null || data === undefined) return -1;
  if (typeof data === 'string') return Buffer.byteLength(data, 'utf8');
  if (data instanceof Uint8Array) return data.length;
  throw new TypeError(`record keys, values and header values must be Buffer, string or null, got ${typeof data}`);
}

export function decodeRecordBatches(buf: Buffer, options: DecodeOptions = {}): DecodedBatch[] {
  const verifyCrc = options.verifyCrc ?? true;
  const crc32c = verifyCrc ? (options.crc32c ?? defaultCrc32c()) : undefined;
  const batches: DecodedBatch[] = [];
  let pos = 0;
  // A fetch response may end inside a batch (Kafka slices by size): stop there silently.
  while (buf.length - pos >= LOG_OVERHEAD) {
    const batchLength = buf.readInt32BE(pos + BATCH_LENGTH_OFFSET);
    if (batchLength < RECORD_BATCH_OVERHEAD - LOG_OVERHEAD) {
      throw new CorruptRecordError(`record batch at byte ${pos} declares length ${batchLength}, below the ${RECORD_BATCH_OVERHEAD - LOG_OVERHEAD}-byte minimum`, pos);
    }
    const end = pos + LOG_OVERHEAD + batchLength;
    if (end > buf.length) break;
    batches.push(decodeBatch(buf, pos, end, crc32c));
    pos = end;
  }
  return batches;
}

function decodeBatch(buf: Buffer, start: number, end: number, crc32c: Crc32cFn | undefined): DecodedBatch {
  const baseOffset = readInt64(buf, start + BASE_OFFSET_OFFSET);
  const magic = buf.readInt8(start + MAGIC_OFFSET);
  if (magic !== CURRENT_MAGIC) {
    throw new CorruptRecordError(`record batch at byte ${start} (baseOffset ${baseOffset}) has magic ${magic}; only magic 2 is supported`, start);
  }
  if (crc32c) {
    const stored = buf.readUInt32BE(start + CRC_OFFSET);
    const actual = crc32c(buf, start + ATTRIBUTES_OFFSET, end) >>> 0;
    if (stored !== actual) {
      throw new CorruptRecordError(
        `record batch at byte ${start} (baseOffset ${baseOffset}) failed its CRC check: stored 0x${hex32(stored)}, computed 0x${hex32(actual)}`,
        start,
      );
    }
  }
  const attributes = buf.readInt16BE(start + ATTRIBUTES_OFFSET);
  const compression = compressionFromAttributes(attributes);
  const timestampType: TimestampType = attributes & TIMESTAMP_TYPE_MASK ? 'LogAppendTime' : 'CreateTime';
  const lastOffsetDelta = buf.readInt32BE(start + LAST_OFFSET_DELTA_OFFSET);
  const baseTimestamp = readInt64(buf, start + BASE_TIMESTAMP_OFFSET);
  const maxTimestamp = readInt64(buf, start + MAX_TIMESTAMP_OFFSET);
  const count = buf.readInt32BE(start + RECORDS_COUNT_OFFSET);

  let section = buf;
  let pos = start + RECORD_BATCH_OVERHEAD;
  let sectionEnd = end;
  if (compression !== 'none') {
    try {
      section = decompress(compression, buf.subarray(pos, end));
    } catch (err) {
      if (err instanceof CompressionError && err.code === 'CORRUPT_MESSAGE') {
        throw new CorruptRecordError(`record batch at byte ${start} (baseOffset ${baseOffset}): ${err.message}`, start, { cause: err });
      }
      throw err;
    }
    pos = 0;
    sectionEnd = section.length;
  }
  if (count < 0 || count > (sectionEnd - pos) / MIN_RECORD_SIZE) {
    throw new CorruptRecordError(
      `record batch at byte ${start} (baseOffset ${baseOffset}) declares ${count} records in ${sectionEnd - pos} bytes of records`,
      start,
    );
  }

  const reader = new RecordReader(section, pos, sectionEnd, start, baseOffset);
  const logAppendTime = timestampType === 'LogAppendTime';
  const records: DecodedRecord[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const recordLength = reader.varint(sectionEnd);
    const recordEnd = reader.pos + recordLength;
    if (recordLength < MIN_RECORD_SIZE - 1 || recordEnd > sectionEnd) reader.fail(`record ${i} declares ${recordLength} bytes, ${sectionEnd - reader.pos} remain`);
    reader.pos++; // record attributes: unused in magic 2
    const timestampDelta = reader.varlong(recordEnd);
    const offsetDelta = reader.varint(recordEnd);
    const key = reader.bytes(recordEnd);
    const value = reader.bytes(recordEnd);
    const headerCount = reader.varint(recordEnd);
    if (headerCount < 0 || headerCount > recordEnd - reader.pos) reader.fail(`record ${i} declares ${headerCount} headers`);
    const headers: RecordHeader[] = new Array(headerCount);
    for (let h = 0; h < headerCount; h++) {
      const keyLength = reader.varint(recordEnd);
      if (keyLength < 0 || reader.pos + keyLength > recordEnd) reader.fail(`record ${i} header ${h} key length ${keyLength} overruns the record`);
      const headerKey = section.toString('utf8', reader.pos, reader.pos + keyLength);
      reader.pos += keyLength;
      headers[h] = { key: headerKey, value: reader.bytes(recordEnd) };
    }
    if (reader.pos !== recordEnd) reader.fail(`record ${i} declares ${recordLength} bytes but its fields take ${recordLength + reader.pos - recordEnd}`);
    records[i] = {
      offset: baseOffset + offsetDelta,
      timestamp: logAppendTime ? maxTimestamp : baseTimestamp + timestampDelta,
      key,
      value,
      headers,
    };
  }
  if (reader.pos !== sectionEnd) reader.fail(`${sectionEnd - reader.pos} bytes remain after the ${count} declared records`);

  return {
    baseOffset,
    lastOffset: baseOffset + lastOffsetDelta,
    partitionLeaderEpoch: buf.readInt32BE(start + PARTITION_LEADER_EPOCH_OFFSET),
    attributes,
    compression,
    timestampType,
    baseTimestamp,
    maxTimestamp,
    producerId: readInt64(buf, start + PRODUCER_ID_OFFSET),
    producerEpoch: buf.readInt16BE(start + PRODUCER_EPOCH_OFFSET),
    baseSequence: buf.readInt32BE(start + BASE_SEQUENCE_OFFSET),
    isTransactional: (attributes & TRANSACTIONAL_FLAG_MASK) !== 0,
    isControl: (attributes & CONTROL_FLAG_MASK) !== 0,
    records,
    sizeInBytes: end - start,
  };
}

/** Reads the records section; every read is bounded by the end of the enclosing record or section. */
class RecordReader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    private readonly sectionEnd: number,
    private readonly batchStart: number,
    private readonly baseOffset: number,
  ) {}

  fail(why: string): never {
    throw new CorruptRecordError(`record batch at byte ${this.batchStart} (baseOffset ${this.baseOffset}): ${why}`, this.batchStart);
  }

  /** A zigzag varint of at most 5 bytes (Kafka's ByteUtils.readVarint). */
  varint(limit: number): number {
    const buf = this.buf;
    let pos = this.pos;
    let raw = 0;
    for (let shift = 0; ; shift += 7) {
      if (pos >= limit) this.fail(`varint runs past the end of the ${limit === this.sectionEnd ? 'records' : 'record'}`);
      const b = buf[pos++]!;
      raw |= (b & 0x7f) << shift;
      if (b < 0x80) break;
      if (shift === 28) this.fail('varint longer than 5 bytes');
    }
    this.pos = pos;
    return (raw >>> 1) ^ -(raw & 1);
  }

  /** A zigzag varlong of at most 10 bytes, as a number (exact while |value| < 2^53). */
  varlong(limit: number): number {
    const buf = this.buf;
    let pos = this.pos;
    let low = 0; // bits 0..27, kept in int32 arithmetic for the common short case
    let high = 0; // bits 28.., as a float multiple of 2^28
    let b = 0;
    let shift = 0;
    for (; shift < 28; shift += 7) {
      if (pos >= limit) this.fail('varlong runs past the end of the record');
      b = buf[pos++]!;
      low |= (b & 0x7f) << shift;
      if (b < 0x80) break;
    }
    if (b >= 0x80) {
      let scale = 1;
      for (shift = 28; ; shift += 7) {
        if (pos >= limit) this.fail('varlong runs past the end of the record');
        b = buf[pos++]!;
        high += (b & 0x7f) * scale;
        scale *= 128;
        if (b < 0x80) break;
        if (shift === 63) this.fail('varlong longer than 10 bytes');
      }
    }
    this.pos = pos;
    if (high === 0) return (low >>> 1) ^ -(low & 1);
    const raw = high * 268435456 + low;
    // zigzag: even → v/2, odd → -(v+1)/2; low carries the sign bit.
    return low & 1 ? -(raw + 1) / 2 : raw / 2;
  }

  /** A length-prefixed byte string (-1 = null), returned as a view. */
  bytes(limit: number): Buffer | null {
    const len = this.varint(limit);
    if (len < 0) {
      if (len !== -1) this.fail(`negative length ${len}`);
      return null;
    }
    const from = this.pos;
    if (from + len > limit) this.fail(`a ${len}-byte field overruns the record`);
    this.pos = from + len;
    return this.buf.subarray(from, from + len);
  }
}

function defaultCrc32c(): Crc32cFn {
  const io = defaultIo();
  return (buf, start, end) => io.crc32c(buf, start, end);
}

// ---- varints (zigzag, protobuf style) and int64 as numbers ----

function zigzag32(v: number): number {
  return ((v << 1) ^ (v >> 31)) >>> 0;
}

/** Size of a zigzag varint for an int32. */
function sizeOfVarint(v: number): number {
  const u = zigzag32(v);
  if (u < 0x80) return 1;
  if (u < 0x4000) return 2;
  if (u < 0x200000) return 3;
  if (u < 0x10000000) return 4;
  return 5;
}

function writeVarint(buf: Buffer, pos: number, v: number): number {
  let u = zigzag32(v);
  while (u >= 0x80) {
    buf[pos++] = (u & 0x7f) | 0x80;
    u >>>= 7;
  }
  buf[pos++] = u;
  return pos;
}

/** Zigzag of a safe integer, as a non-negative number (exact below 2^53). */
function zigzag64(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

function sizeOfVarlong(v: number): number {
  if (v >= -0x40000000 && v < 0x40000000) return sizeOfVarint(v);
  let u = zigzag64(v);
  let size = 1;
  while (u >= 0x80) {
    u = Math.floor(u / 128);
    size++;
  }
  return size;
}

function writeVarlong(buf: Buffer, pos: number, v: number): number {
  if (v >= -0x40000000 && v < 0x40000000) return writeVarint(buf, pos, v);
  let u = zigzag64(v);
  while (u >= 0x80) {
    buf[pos++] = (u % 128) | 0x80;
    u = Math.floor(u / 128);
  }
  buf[pos++] = u;
  return pos;
}

function checkInt64(name: string, v: number): number {
  if (!Number.isSafeInteger(v)) throw new RangeError(`${name} must be a safe integer, got ${v}`);
  return v;
}

function hex32(v: number): string {
  return v.toString(16).padStart(8, '0');
}
