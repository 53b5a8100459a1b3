// The load generator's view of Kafka's wire: request frames encoded once with penstock's own codecs
// (dist/), patched in place per send, and a response scanner that reads only the first bytes of each
// frame. Nothing here runs per record.
import { ApiKey, decodeResponse, encodeRequest } from '../../dist/protocol/index.js';
import { encodeRecordBatch } from '../../dist/storage/record-codec.js';

export const PRODUCE_VERSION = 7;
export const FETCH_VERSION = 11;
export const CLIENT_ID = 'penstock-bench';
/** Request header: int32 size, int16 apiKey, int16 apiVersion, int32 correlationId. */
export const CORRELATION_ID_AT = 8;

/**
 * One RecordBatch v2 holding as many `recordBytes`-byte values (null keys) as fit in `batchBytes`
 * (the whole batch, header included), or exactly `records` of them. Encoded once; the broker stamps
 * offsets into its own copy, so the same bytes can be sent again and again.
 */
export function makeBatch({ recordBytes, batchBytes, records, crc32c }) {
  const value = Buffer.alloc(recordBytes);
  for (let i = 0; i < recordBytes; i++) value[i] = 0x61 + (i % 26);
  const encode = (n) => encodeRecordBatch(Array.from({ length: n }, () => ({ value })), { crc32c });
  if (records !== undefined) return { batch: encode(records), records };
  // Estimate from one record's size, then correct downwards until the batch fits.
  const one = encode(1).length - 61;
  let n = Math.max(1, Math.floor((batchBytes - 61) / one));
  let batch = encode(n);
  while (batch.length > batchBytes && n > 1) {
    n -= Math.max(1, Math.ceil((batch.length - batchBytes) / one));
    batch = encode(n);
  }
  return { batch, records: n };
}

/** A Produce v7 frame carrying `batch` for one partition; correlation id patched per send. */
export function produceFrame({ topic, partition, acks, batch }) {
  return encodeRequest(ApiKey.Produce, PRODUCE_VERSION, 0, CLIENT_ID, {
    transactionalId: null,
    acks,
    timeoutMs: 30_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }],
  });
}

/** Where the partition's error code sits in a Produce v7 response frame (after the size prefix). */
export function produceErrorAt(topic) {
  // correlationId 4, topics count 4, name (int16 + bytes), partitions count 4, index 4.
  return 4 + 4 + 2 + Buffer.byteLength(topic) + 4 + 4;
}

const OFFSET_SENTINEL = 0x7e7e_7e7e_7e7e;

/**
 * A Fetch v11 frame for one partition and the byte position of its fetchOffset (int64), found by
 * encoding a sentinel offset, so a pipelined consumer patches offset and correlation id only.
 */
export function fetchFrame({ topic, partition, partitionMaxBytes, maxWaitMs = 500 }) {
  const frame = encodeRequest(ApiKey.Fetch, FETCH_VERSION, 0, CLIENT_ID, {
    replicaId: -1,
    maxWaitMs,
    minBytes: 1,
    maxBytes: partitionMaxBytes,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: OFFSET_SENTINEL, logStartOffset: -1, partitionMaxBytes }] }],
    forgottenTopicsData: [],
    rackId: '',
  });
  const needle = Buffer.alloc(8);
  needle.writeBigInt64BE(BigInt(OFFSET_SENTINEL));
  const offsetAt = frame.indexOf(needle);
  if (offsetAt < 0 || frame.indexOf(needle, offsetAt + 1) >= 0) throw new Error('could not locate fetchOffset in the Fetch frame');
  return { frame, offsetAt };
}

/** Positions in a Fetch v11 response (after the size prefix) for a one-topic, one-partition answer. */
export function fetchResponseLayout(topic) {
  // correlationId 4, throttle 4, errorCode 2, sessionId 4, topics count 4, name (int16 + bytes).
  const p = 4 + 4 + 2 + 4 + 4 + 2 + Buffer.byteLength(topic);
  // partitions count 4, index 4, errorCode 2, highWatermark 8, lastStable 8, logStart 8,
  // abortedTransactions (int32 -1 when null), preferredReadReplica 4, records length 4.
  return { topErrorAt: 8, errorAt: p + 8, highWatermarkAt: p + 10, recordsLengthAt: p + 42, headerBytes: p + 46 };
}

/** Checks the fixed positions above against the real decoder on one full response frame. */
export function checkFetchLayout(topic, frameBody) {
  const layout = fetchResponseLayout(topic);
  const { body } = decodeResponse(ApiKey.Fetch, FETCH_VERSION, frameBody);
  const part = body.responses[0]?.partitions[0];
  const ok =
    body.responses.length === 1 &&
    body.responses[0].partitions.length === 1 &&
    part.errorCode === frameBody.readInt16BE(layout.errorAt) &&
    part.highWatermark === Number(frameBody.readBigInt64BE(layout.highWatermarkAt)) &&
    (part.records?.length ?? 0) === Math.max(0, frameBody.readInt32BE(layout.recordsLengthAt));
  if (!ok) throw new Error('Fetch response layout does not match the decoder; the fast parser is wrong');
}

/**
 * Cuts a byte stream into Kafka frames without keeping them: for each frame it copies at most
 * `headerBytes` of its start (after the size prefix) into one reused buffer and calls
 * `onFrame(header, headerLength, frameSize)` when the frame's last byte has arrived.
 * `keepFirst` keeps one whole frame (for a layout self-check) and hands it to `onFirst`.
 */
export class FrameScanner {
  constructor(headerBytes, onFrame) {
    this.header = Buffer.alloc(headerBytes);
    this.sizeBuf = Buffer.alloc(4);
    this.sizeFill = 0;
    this.frameSize = 0;
    this.headerWant = 0;
    this.headerFill = 0;
    this.remaining = 0;
    this.onFrame = onFrame;
    this.bytes = 0;
    this.onFirst = null;
    this.firstParts = null;
  }

  keepFirst(onFirst) {
    this.onFirst = onFirst;
    this.firstParts = [];
  }

  push(buf, start, end) {
    this.bytes += end - start;
    while (start < end) {
      if (this.sizeFill < 4) {
        while (this.sizeFill < 4 && start < end) this.sizeBuf[this.sizeFill++] = buf[start++];
        if (this.sizeFill < 4) return;
        this.frameSize = this.sizeBuf.readInt32BE(0);
        if (this.frameSize < 0) throw new Error(`negative response frame size ${this.frameSize}`);
        this.remaining = this.frameSize;
        this.headerWant = Math.min(this.header.length, this.frameSize);
        this.headerFill = 0;
      }
      if (this.headerFill < this.headerWant) {
        const n = Math.min(this.headerWant - this.headerFill, end - start);
        buf.copy(this.header, this.headerFill, start, start + n);
        if (this.firstParts) this.firstParts.push(Buffer.from(buf.subarray(start, start + n)));
        this.headerFill += n;
        this.remaining -= n;
        start += n;
      }
      if (this.remaining > 0 && start < end) {
        const n = Math.min(this.remaining, end - start);
        if (this.firstParts) this.firstParts.push(Buffer.from(buf.subarray(start, start + n)));
        this.remaining -= n;
        start += n;
      }
      if (this.remaining === 0 && this.headerFill === this.headerWant) {
        this.sizeFill = 0;
        if (this.firstParts) {
          const whole = Buffer.concat(this.firstParts);
          this.firstParts = null;
          this.onFirst(whole);
        }
        this.onFrame(this.header, this.headerFill, this.frameSize);
      }
    }
  }
}
