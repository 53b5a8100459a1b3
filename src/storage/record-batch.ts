/**
 * A view over RecordBatch v2 headers in a Buffer (KAFKA-NOTES §2.1): field positions, reads, the
 * checks Kafka makes on batches arriving from producers, and offset assignment in place.
 * Nothing here copies record bytes: a produce request's slice is validated and stamped where it lies.
 */
import type { Io } from '../io/types.js';
import { KafkaError } from '../protocol/error-codes.js';
import { CompressionError, compressionFromAttributes, decompress } from './compression.js';

export const BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORDS_COUNT_OFFSET = 57;
export const RECORDS_OFFSET = 61;

/** Bytes of a v2 batch before its first record. */
export const RECORD_BATCH_OVERHEAD = 61;
/** baseOffset + batchLength: the part of every batch not counted in batchLength. */
export const LOG_OVERHEAD = 12;
/** Enough of a header to know the batch's size and magic (Kafka's HEADER_SIZE_UP_TO_MAGIC). */
export const HEADER_SIZE_UP_TO_MAGIC = 17;
export const CURRENT_MAGIC = 2;

export const COMPRESSION_CODEC_MASK = 0x07;
export const TIMESTAMP_TYPE_MASK = 0x08;
export const TRANSACTIONAL_FLAG_MASK = 0x10;
export const CONTROL_FLAG_MASK = 0x20;

export const NO_TIMESTAMP = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;

const TWO_POW_32 = 4294967296;

/** Reads a big-endian int64 as a JS number (exact up to 2^53, which bounds every offset and timestamp). */
export function readInt64(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos) * TWO_POW_32 + buf.readUInt32BE(pos + 4);
}

export function writeInt64(buf: Buffer, value: number, pos: number): void {
  const hi = Math.floor(value / TWO_POW_32);
  buf.writeInt32BE(hi, pos);
  buf.writeUInt32BE(value - hi * TWO_POW_32, pos + 4);
}

export interface BatchHeader {
  baseOffset: number;
  /** The batchLength field: bytes after it, so the batch occupies `batchLength + 12` bytes. */
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordsCount: number;
}

/** Reads the 61-byte header at `pos`; the caller has checked that 61 bytes are there. */
export function readBatchHeader(buf: Buffer, pos: number): BatchHeader {
  return {
    baseOffset: readInt64(buf, pos + BASE_OFFSET_OFFSET),
    batchLength: buf.readInt32BE(pos + BATCH_LENGTH_OFFSET),
    partitionLeaderEpoch: buf.readInt32BE(pos + PARTITION_LEADER_EPOCH_OFFSET),
    magic: buf.readInt8(pos + MAGIC_OFFSET),
    crc: buf.readUInt32BE(pos + CRC_OFFSET),
    attributes: buf.readInt16BE(pos + ATTRIBUTES_OFFSET),
    lastOffsetDelta: buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET),
    baseTimestamp: readInt64(buf, pos + BASE_TIMESTAMP_OFFSET),
    maxTimestamp: readInt64(buf, pos + MAX_TIMESTAMP_OFFSET),
    producerId: readInt64(buf, pos + PRODUCER_ID_OFFSET),
    producerEpoch: buf.readInt16BE(pos + PRODUCER_EPOCH_OFFSET),
    baseSequence: buf.readInt32BE(pos + BASE_SEQUENCE_OFFSET),
    recordsCount: buf.readInt32BE(pos + RECORDS_COUNT_OFFSET),
  };
}

/** Total bytes of the batch at `pos` (needs 12 bytes). */
export function batchSize(buf: Buffer, pos: number): number {
  return LOG_OVERHEAD + buf.readInt32BE(pos + BATCH_LENGTH_OFFSET);
}

export function baseOffset(buf: Buffer, pos: number): number {
  return readInt64(buf, pos + BASE_OFFSET_OFFSET);
}

/** baseOffset + lastOffsetDelta (needs 27 bytes). */
export function lastOffset(buf: Buffer, pos: number): number {
  return readInt64(buf, pos + BASE_OFFSET_OFFSET) + buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
}

export function maxTimestamp(buf: Buffer, pos: number): number {
  return readInt64(buf, pos + MAX_TIMESTAMP_OFFSET);
}

export function compressionCodec(attributes: number): number {
  return attributes & COMPRESSION_CODEC_MASK;
}

/** Whether the stored CRC32C equals the CRC over bytes [21, end) of the batch. */
export function hasValidCrc(buf: Buffer, pos: number, size: number, io: Io): boolean {
  return io.crc32c(buf, pos + ATTRIBUTES_OFFSET, pos + size) === buf.readUInt32BE(pos + CRC_OFFSET);
}

/**
 * Stamps the broker-assigned fields: baseOffset (bytes 0–7) and partitionLeaderEpoch (12–15).
 * Both lie outside the CRC, so the batch stays valid without recomputing it.
 */
export function assignOffsets(buf: Buffer, pos: number, base: number, leaderEpoch: number): void {
  writeInt64(buf, base, pos + BASE_OFFSET_OFFSET);
  buf.writeInt32BE(leaderEpoch, pos + PARTITION_LEADER_EPOCH_OFFSET);
}

/**
 * Marks a batch LogAppendTime with maxTimestamp = `now`, as Kafka does for topics with
 * message.timestamp.type=LogAppendTime. Both fields are inside the CRC, so it is recomputed.
 */
export function setLogAppendTime(buf: Buffer, pos: number, now: number, io: Io): void {
  const size = batchSize(buf, pos);
  buf.writeInt16BE(buf.readInt16BE(pos + ATTRIBUTES_OFFSET) | TIMESTAMP_TYPE_MASK, pos + ATTRIBUTES_OFFSET);
  writeInt64(buf, now, pos + MAX_TIMESTAMP_OFFSET);
  buf.writeUInt32BE(io.crc32c(buf, pos + ATTRIBUTES_OFFSET, pos + size), pos + CRC_OFFSET);
}

/** What validation learned about one batch; enough to assign offsets and index it without re-reading. */
export interface ValidatedBatch {
  position: number;
  size: number;
  recordsCount: number;
  lastOffsetDelta: number;
  maxTimestamp: number;
}

/**
 * Checks one batch from a producer, as Kafka's ProduceRequest, UnifiedLog.analyzeAndValidateRecords and
 * LogValidator.validateBatch do, and returns its facts. `end` bounds the bytes that belong to the request.
 * Throws KafkaError: CORRUPT_MESSAGE (structure, magic, CRC), MESSAGE_TOO_LARGE, INVALID_RECORD
 * (counts, control batch, sequence, record structure), INVALID_TIMESTAMP (LogAppendTime set by a producer).
 */
export function validateBatch(buf: Buffer, pos: number, io: Io, maxMessageBytes: number, end: number = buf.length): ValidatedBatch {
  const available = end - pos;
  if (available < HEADER_SIZE_UP_TO_MAGIC) {
    throw new KafkaError('CORRUPT_MESSAGE', `record batch header truncated: ${available} bytes at position ${pos}`, { position: pos });
  }
  const size = batchSize(buf, pos);
  const magic = buf.readInt8(pos + MAGIC_OFFSET);
  if (magic !== CURRENT_MAGIC) {
    throw new KafkaError('CORRUPT_MESSAGE', `record batch magic ${magic} is not supported (only v2)`, { position: pos, magic });
  }
  if (size < RECORD_BATCH_OVERHEAD) {
    throw new KafkaError('CORRUPT_MESSAGE', `record batch size ${size} is below the minimum ${RECORD_BATCH_OVERHEAD}`, { position: pos, size });
  }
  if (size > available) {
    throw new KafkaError('CORRUPT_MESSAGE', `record batch of ${size} bytes overruns the ${available} bytes sent`, { position: pos, size });
  }
  // Kafka checks the size against max.message.bytes before the CRC (analyzeAndValidateRecords).
  if (size > maxMessageBytes) {
    throw new KafkaError('MESSAGE_TOO_LARGE', `record batch of ${size} bytes exceeds max.message.bytes ${maxMessageBytes}`, { size, maxMessageBytes });
  }
  if (!hasValidCrc(buf, pos, size, io)) {
    throw new KafkaError('CORRUPT_MESSAGE', 'record batch CRC32C does not match its contents', { position: pos });
  }
  const attributes = buf.readInt16BE(pos + ATTRIBUTES_OFFSET);
  const lastOffsetDelta = buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
  const recordsCount = buf.readInt32BE(pos + RECORDS_COUNT_OFFSET);
  if (lastOffsetDelta < 0 || recordsCount <= 0 || lastOffsetDelta + 1 !== recordsCount) {
    throw new KafkaError('INVALID_RECORD', `inconsistent batch: lastOffsetDelta ${lastOffsetDelta} and count of records ${recordsCount}`, {
      lastOffsetDelta,
      recordsCount,
    });
  }
  if (attributes & CONTROL_FLAG_MASK) {
    throw new KafkaError('INVALID_RECORD', 'clients are not allowed to write control records', { attributes });
  }
  const codec = compressionCodec(attributes);
  if (codec > 4) {
    throw new KafkaError('INVALID_RECORD', `unknown compression codec ${codec}`, { attributes });
  }
  const producerId = readInt64(buf, pos + PRODUCER_ID_OFFSET);
  const baseSequence = buf.readInt32BE(pos + BASE_SEQUENCE_OFFSET);
  if (producerId >= 0 && baseSequence < 0) {
    throw new KafkaError('INVALID_RECORD', `invalid sequence number ${baseSequence} in a batch with producerId ${producerId}`, { producerId, baseSequence });
  }
  // Kafka answers INVALID_TIMESTAMP here (LogValidator.validateTimestamp), not INVALID_RECORD.
  if (attributes & TIMESTAMP_TYPE_MASK) {
    throw new KafkaError('INVALID_TIMESTAMP', 'producers must not set the timestamp type to LogAppendTime', { attributes });
  }
  if (codec === 0) checkRecords(buf, pos + RECORDS_OFFSET, pos + size, recordsCount);
  else {
    const records = inflateRecords(buf, pos, size, attributes);
    checkRecords(records, 0, records.length, recordsCount);
  }
  return { position: pos, size, recordsCount, lastOffsetDelta, maxTimestamp: readInt64(buf, pos + MAX_TIMESTAMP_OFFSET) };
}

/**
 * Validates every batch of a produce request's records (one or more concatenated v2 batches):
 * all or nothing, so a request with one bad batch stores none of them.
 */
export function validateRecords(buf: Buffer, io: Io, maxMessageBytes: number): ValidatedBatch[] {
  if (buf.length === 0) throw new KafkaError('INVALID_RECORD', 'produce request carries no record batch');
  const batches: ValidatedBatch[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const batch = validateBatch(buf, pos, io, maxMessageBytes);
    batches.push(batch);
    pos += batch.size;
  }
  return batches;
}

/**
 * Largest records section a compressed batch may inflate to. Kafka sets no bound; one keeps a small,
 * highly compressible request from claiming gigabytes of memory while it is validated.
 */
const MAX_INFLATED_RECORDS_BYTES = 256 * 1024 * 1024;

/**
 * Decompresses a producer's batch so its records can be walked, as Kafka's LogValidator does; what is
 * stored and served stays the compressed bytes as sent.
 */
function inflateRecords(buf: Buffer, pos: number, size: number, attributes: number): Buffer {
  try {
    return decompress(compressionFromAttributes(attributes), buf.subarray(pos + RECORDS_OFFSET, pos + size), MAX_INFLATED_RECORDS_BYTES);
  } catch (err) {
    if (err instanceof CompressionError && err.code === 'UNSUPPORTED_COMPRESSION_TYPE') {
      throw new KafkaError('UNSUPPORTED_COMPRESSION_TYPE', err.message, { attributes });
    }
    throw new KafkaError('CORRUPT_MESSAGE', `compressed records do not decompress: ${(err as Error).message}`, { position: pos, attributes });
  }
}

/** Thrown by the record walk; carries where it stopped making sense. */
function invalidRecord(message: string, index: number): KafkaError {
  return new KafkaError('INVALID_RECORD', `record ${index}: ${message}`, { recordIndex: index });
}

/**
 * Walks the records of an uncompressed batch without decoding keys or values: every record length
 * stays inside the batch, each record's fields fill exactly its length, offset deltas run 0, 1, 2, …,
 * and the count matches. A CRC-valid batch from a buggy producer is refused here, never stored.
 */
function checkRecords(buf: Buffer, start: number, end: number, count: number): void {
  const cursor = { pos: start };
  for (let i = 0; i < count; i++) {
    if (cursor.pos >= end) throw invalidRecord(`premature end of batch: ${count} records declared, ${i} present`, i);
    const length = readVarint(buf, cursor, end, i);
    const recordStart = cursor.pos;
    const recordEnd = recordStart + length;
    if (length < 0 || recordEnd > end) throw invalidRecord(`length ${length} overruns the batch`, i);
    cursor.pos += 1; // attributes (int8, unused)
    skipVarlong(buf, cursor, recordEnd, i); // timestampDelta
    const offsetDelta = readVarint(buf, cursor, recordEnd, i);
    if (offsetDelta !== i) throw invalidRecord(`offset delta ${offsetDelta} where ${i} was expected`, i);
    skipBytes(buf, cursor, recordEnd, i, true); // key
    skipBytes(buf, cursor, recordEnd, i, true); // value
    const headers = readVarint(buf, cursor, recordEnd, i);
    if (headers < 0) throw invalidRecord(`negative header count ${headers}`, i);
    for (let h = 0; h < headers; h++) {
      skipBytes(buf, cursor, recordEnd, i, false); // header key
      skipBytes(buf, cursor, recordEnd, i, true); // header value
    }
    if (cursor.pos !== recordEnd) throw invalidRecord(`fields end at ${cursor.pos - recordStart} of ${length} bytes`, i);
  }
  if (cursor.pos !== end) throw invalidRecord(`${end - cursor.pos} bytes remain after the declared ${count} records`, count);
}

/** A zigzag varint of at most 5 bytes (Kafka's ByteUtils.readVarint). */
function readVarint(buf: Buffer, cursor: { pos: number }, end: number, index: number): number {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (cursor.pos >= end) throw invalidRecord('varint runs past the record', index);
    const b = buf[cursor.pos++]!;
    value |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
    shift += 7;
    if (shift > 28) throw invalidRecord('varint longer than 5 bytes', index);
  }
  return (value >>> 1) ^ -(value & 1);
}

function skipVarlong(buf: Buffer, cursor: { pos: number }, end: number, index: number): void {
  for (let n = 0; ; n++) {
    if (n === 10) throw invalidRecord('varlong longer than 10 bytes', index);
    if (cursor.pos >= end) throw invalidRecord('varlong runs past the record', index);
    if ((buf[cursor.pos++]! & 0x80) === 0) return;
  }
}

/** Skips a varint-length-prefixed byte string; -1 means null where `nullable`. */
function skipBytes(buf: Buffer, cursor: { pos: number }, end: number, index: number, nullable: boolean): void {
  const length = readVarint(buf, cursor, end, index);
  if (length === -1 && nullable) return;
  if (length < 0) throw invalidRecord(`invalid field length ${length}`, index);
  if (cursor.pos + length > end) throw invalidRecord(`field of ${length} bytes runs past the record`, index);
  cursor.pos += length;
}
