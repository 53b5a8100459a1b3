import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ErrorCode, KafkaError } from '../../src/protocol/error-codes.js';
import {
  assignOffsets,
  batchSize,
  hasValidCrc,
  lastOffset,
  readBatchHeader,
  setLogAppendTime,
  validateBatch,
  validateRecords,
} from '../../src/storage/record-batch.js';
import { buildBatch, fixCrc, io } from './helpers.js';

const MAX = 1_048_588;

function codeOf(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KafkaError);
    return (err as KafkaError).errorCode;
  }
  throw new Error('expected a KafkaError');
}

const records = [
  { key: 'a', value: 'one', timestamp: 1000, headers: [['h', 'v'] as [string, string]] },
  { key: null, value: 'two', timestamp: 1005 },
  { key: 'c', value: null, timestamp: 990 },
];

describe('record batch view', () => {
  it('reads the header fields', () => {
    const b = buildBatch(records, { baseOffset: 7, producerId: 42, producerEpoch: 3, baseSequence: 9 });
    const h = readBatchHeader(b, 0);
    expect(h).toMatchObject({ baseOffset: 7, magic: 2, lastOffsetDelta: 2, recordsCount: 3, baseTimestamp: 1000, maxTimestamp: 1005, producerId: 42, producerEpoch: 3, baseSequence: 9 });
    expect(h.batchLength + 12).toBe(b.length);
    expect(batchSize(b, 0)).toBe(b.length);
    expect(lastOffset(b, 0)).toBe(9);
  });

  it('accepts good batches, with any baseOffset from the producer', () => {
    for (const base of [0, 5, 123456789]) {
      const b = buildBatch(records, { baseOffset: base });
      expect(validateBatch(b, 0, io, MAX)).toMatchObject({ position: 0, size: b.length, recordsCount: 3, lastOffsetDelta: 2, maxTimestamp: 1005 });
    }
  });

  it('accepts several concatenated batches and reports each', () => {
    const a = buildBatch(records);
    const b = buildBatch([{ value: 'x', timestamp: 1 }]);
    const all = Buffer.concat([a, b]);
    const got = validateRecords(all, io, MAX);
    expect(got.map((x) => [x.position, x.size])).toEqual([
      [0, a.length],
      [a.length, b.length],
    ]);
  });

  it('assignOffsets writes baseOffset and leader epoch and keeps the CRC valid', () => {
    const b = buildBatch(records);
    assignOffsets(b, 0, 2 ** 40 + 17, 5);
    const h = readBatchHeader(b, 0);
    expect(h.baseOffset).toBe(2 ** 40 + 17);
    expect(h.partitionLeaderEpoch).toBe(5);
    expect(hasValidCrc(b, 0, b.length, io)).toBe(true);
    expect(() => validateBatch(b, 0, io, MAX)).not.toThrow();
  });

  it('setLogAppendTime sets the attribute and timestamp and recomputes the CRC', () => {
    const b = buildBatch(records);
    setLogAppendTime(b, 0, 123_456, io);
    const h = readBatchHeader(b, 0);
    expect(h.attributes & 0x08).toBe(0x08);
    expect(h.maxTimestamp).toBe(123_456);
    expect(hasValidCrc(b, 0, b.length, io)).toBe(true);
  });

  describe('rejects', () => {
    it('a flipped byte anywhere in the CRC-covered part: CORRUPT_MESSAGE', () => {
      const good = buildBatch(records);
      for (let i = 21; i < good.length; i++) {
        const b = Buffer.from(good);
        b[i]! ^= 0x01;
        expect(codeOf(() => validateBatch(b, 0, io, MAX))).toBe(ErrorCode.CORRUPT_MESSAGE);
      }
    });

    it('a wrong magic: CORRUPT_MESSAGE', () => {
      for (const magic of [0, 1, 3, -1]) {
        const b = buildBatch(records);
        b.writeInt8(magic, 16);
        expect(codeOf(() => validateBatch(b, 0, io, MAX))).toBe(ErrorCode.CORRUPT_MESSAGE);
      }
    });

    it('lengths that are too small or overrun the buffer, and truncated input: CORRUPT_MESSAGE', () => {
      const good = buildBatch(records);
      const small = Buffer.from(good);
      small.writeInt32BE(40, 8);
      expect(codeOf(() => validateBatch(small, 0, io, MAX))).toBe(ErrorCode.CORRUPT_MESSAGE);
      const big = Buffer.from(good);
      big.writeInt32BE(good.length, 8);
      expect(codeOf(() => validateBatch(big, 0, io, MAX))).toBe(ErrorCode.CORRUPT_MESSAGE);
      for (const cut of [5, 16, 17, 60, good.length - 1]) {
        expect(codeOf(() => validateRecords(good.subarray(0, cut), io, MAX))).toBe(ErrorCode.CORRUPT_MESSAGE);
      }
      // A good batch followed by a partial one: the whole request is refused.
      expect(codeOf(() => validateRecords(Buffer.concat([good, good.subarray(0, 30)]), io, MAX))).toBe(ErrorCode.CORRUPT_MESSAGE);
    });

    it('an empty records field: INVALID_RECORD', () => {
      expect(codeOf(() => validateRecords(Buffer.alloc(0), io, MAX))).toBe(ErrorCode.INVALID_RECORD);
    });

    it('a batch larger than max.message.bytes: MESSAGE_TOO_LARGE', () => {
      const b = buildBatch([{ value: Buffer.alloc(2000) }]);
      expect(codeOf(() => validateBatch(b, 0, io, b.length - 1))).toBe(ErrorCode.MESSAGE_TOO_LARGE);
      expect(() => validateBatch(b, 0, io, b.length)).not.toThrow();
    });

    it('inconsistent lastOffsetDelta and count: INVALID_RECORD', () => {
      expect(codeOf(() => validateBatch(buildBatch(records, { lastOffsetDelta: 5 }), 0, io, MAX))).toBe(ErrorCode.INVALID_RECORD);
      expect(codeOf(() => validateBatch(buildBatch(records, { recordsCount: 2, lastOffsetDelta: 1 }), 0, io, MAX))).toBe(ErrorCode.INVALID_RECORD);
      expect(codeOf(() => validateBatch(buildBatch([], { recordsCount: 0, lastOffsetDelta: -1 }), 0, io, MAX))).toBe(ErrorCode.INVALID_RECORD);
    });

    it('a control batch from a client: INVALID_RECORD', () => {
      expect(codeOf(() => validateBatch(buildBatch(records, { attributes: 0x20 }), 0, io, MAX))).toBe(ErrorCode.INVALID_RECORD);
    });

    it('a producer id without a sequence: INVALID_RECORD', () => {
      expect(codeOf(() => validateBatch(buildBatch(records, { producerId: 7, baseSequence: -1 }), 0, io, MAX))).toBe(ErrorCode.INVALID_RECORD);
    });

    it('LogAppendTime set by the producer: INVALID_TIMESTAMP, as Kafka answers', () => {
      expect(codeOf(() => validateBatch(buildBatch(records, { attributes: 0x08 }), 0, io, MAX))).toBe(ErrorCode.INVALID_TIMESTAMP);
    });

    it('an unknown compression codec: INVALID_RECORD', () => {
      expect(codeOf(() => validateBatch(buildBatch(records, { attributes: 0x05 }), 0, io, MAX))).toBe(ErrorCode.INVALID_RECORD);
    });

    it('CRC-valid batches whose records contradict the header: INVALID_RECORD', () => {
      // Offset deltas not 0, 1, 2.
      expect(codeOf(() => validateBatch(buildBatch(records, { offsetDeltas: [0, 2, 3], lastOffsetDelta: 2 }), 0, io, MAX))).toBe(ErrorCode.INVALID_RECORD);
      expect(codeOf(() => validateBatch(buildBatch(records, { offsetDeltas: [0, 1, 1] }), 0, io, MAX))).toBe(ErrorCode.INVALID_RECORD);
      // More records than declared, and fewer.
      expect(codeOf(() => validateBatch(buildBatch(records, { recordsCount: 2, lastOffsetDelta: 1 }), 0, io, MAX))).toBe(ErrorCode.INVALID_RECORD);
      expect(codeOf(() => validateBatch(buildBatch(records.slice(0, 2), { recordsCount: 3, lastOffsetDelta: 2 }), 0, io, MAX))).toBe(ErrorCode.INVALID_RECORD);
      // A record length that runs past the batch.
      const overrun = buildBatch(records);
      overrun.writeUInt8(0x7e, 61); // first record's length varint → 63, longer than what follows it
      fixCrc(overrun, 0);
      expect(codeOf(() => validateBatch(overrun, 0, io, MAX))).toBe(ErrorCode.INVALID_RECORD);
      // Garbage in place of records.
      const garbage = buildBatch(records, { rawRecords: Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]) });
      expect(codeOf(() => validateBatch(garbage, 0, io, MAX))).toBe(ErrorCode.INVALID_RECORD);
    });

    it('a compressed batch whose records do not decompress', () => {
      const b = buildBatch(records, { attributes: 0x01, rawRecords: Buffer.from('not really gzip') });
      expect(codeOf(() => validateBatch(b, 0, io, MAX))).toBe(ErrorCode.CORRUPT_MESSAGE);
    });

    it('a compressed batch that declares more records than it holds', () => {
      const good = buildBatch(records);
      const inner = good.subarray(61);
      const b = buildBatch(records, { attributes: 0x01, rawRecords: zlib.gzipSync(inner.subarray(0, inner.length - 1)) });
      expect(codeOf(() => validateBatch(b, 0, io, MAX))).toBe(ErrorCode.INVALID_RECORD);
      const ok = buildBatch(records, { attributes: 0x01, rawRecords: zlib.gzipSync(inner) });
      expect(() => validateBatch(ok, 0, io, MAX)).not.toThrow();
    });

    it('all of a request when one batch of several is bad', () => {
      const bad = buildBatch(records);
      bad[bad.length - 1]! ^= 1;
      expect(codeOf(() => validateRecords(Buffer.concat([buildBatch(records), bad]), io, MAX))).toBe(ErrorCode.CORRUPT_MESSAGE);
    });
  });
});
