import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { crc32cJs } from '../../src/io/crc32c.js';
import { CompressionError, prepareCompression } from '../../src/storage/compression.js';
import {
  CorruptRecordError,
  decodeRecordBatches,
  encodeRecordBatch,
  type Compression,
  type DecodedBatch,
  type RecordHeader,
  type RecordInput,
} from '../../src/storage/record-codec.js';

const CODECS: Compression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

// Instantiates the WASM zstd encoder before any describe block builds batches.
await prepareCompression('zstd');

// ---- helpers ----

/** Deterministic PRNG (mulberry32), so a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const UNICODE = ['', 'a', 'ключ', 'über', '日本語のヘッダー', '🚀 rocket', 'tab\tnewline\n', 'x'.repeat(300)];

function randomRecords(seed: number, count: number): RecordInput[] {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const bytes = (max: number): Buffer => {
    const b = Buffer.allocUnsafe(Math.floor(rnd() * max));
    for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
    return b;
  };
  const field = (): Buffer | string | null => {
    const r = rnd();
    if (r < 0.15) return null;
    if (r < 0.25) return Buffer.alloc(0);
    if (r < 0.45) return pick(UNICODE);
    if (r < 0.5) return bytes(70_000); // large: multi-byte length varints, several xerial/lz4 blocks
    return bytes(200);
  };
  const base = 1_700_000_000_000;
  const DAY = 86_400_000;
  const records: RecordInput[] = [];
  for (let i = 0; i < count; i++) {
    const r: RecordInput = { key: field(), value: field() };
    // Spread across ±10 days so deltas exceed 2^31 ms and go negative.
    r.timestamp = base + Math.round((rnd() - 0.5) * 20 * DAY);
    const h = rnd();
    if (h < 0.3) {
      r.headers = Array.from({ length: Math.floor(rnd() * 4) }, () => ({ key: pick(UNICODE), value: rnd() < 0.3 ? null : bytes(40) }));
    } else if (h < 0.6) {
      const obj: Record<string, Buffer | string | null> = {};
      for (let k = Math.floor(rnd() * 4); k > 0; k--) obj[pick(UNICODE) + k] = rnd() < 0.3 ? null : pick(UNICODE);
      r.headers = obj;
    }
    records.push(r);
  }
  return records;
}

function asBuf(v: Buffer | string | null | undefined): Buffer | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

function expectedHeaders(h: RecordInput['headers']): RecordHeader[] {
  if (h === undefined) return [];
  if (Array.isArray(h)) return h.map(({ key, value }) => ({ key, value: asBuf(value) }));
  return Object.entries(h).map(([key, value]) => ({ key, value: asBuf(value) }));
}

function expectRecordsEqual(batch: DecodedBatch, input: readonly RecordInput[], baseOffset: number): void {
  expect(batch.records).toHaveLength(input.length);
  input.forEach((r, i) => {
    const d = batch.records[i]!;
    expect(d.offset).toBe(baseOffset + i);
    expect(d.timestamp).toBe(r.timestamp);
    expect(d.key).toEqual(asBuf(r.key));
    expect(d.value).toEqual(asBuf(r.value));
    expect(d.headers).toEqual(expectedHeaders(r.headers));
  });
}

function crcIsValid(batch: Buffer): boolean {
  return batch.readUInt32BE(17) === crc32cJs(batch, 21, batch.length);
}

function resealCrc(batch: Buffer): Buffer {
  batch.writeUInt32BE(crc32cJs(batch, 21, batch.length), 17);
  return batch;
}

function expectCorrupt(fn: () => unknown, pattern: RegExp): CorruptRecordError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a CorruptRecordError').toBeInstanceOf(CorruptRecordError);
  expect((caught as CorruptRecordError).code).toBe('CORRUPT_MESSAGE');
  expect((caught as Error).message).toMatch(pattern);
  return caught as CorruptRecordError;
}

/** Big-endian writer for the hand-assembled batch: every byte spelled out from KAFKA-NOTES §2.1, no codec code. */
function be(width: 1 | 2 | 4 | 8, v: number | bigint): number[] {
  const out: number[] = [];
  let x = BigInt.asUintN(width * 8, BigInt(v));
  for (let i = 0; i < width; i++) {
    out.unshift(Number(x & 0xffn));
    x >>= 8n;
  }
  return out;
}

// ---- byte-exact layout ----

describe('byte layout', () => {
  it('matches a batch assembled by hand from the spec', () => {
    // Record 0: key "k", value "v1", timestamp 1000 (= base), no headers.
    //   attributes 00 | tsDelta 0 → 00 | offsetDelta 0 → 00 | keyLen 1 → zz 2 → 02, 'k' | valueLen 2 → 04, 'v1' | headers 0 → 00
    //   body = 9 bytes → length varint zz(9) = 18 = 0x12
    const record0 = [0x12, 0x00, 0x00, 0x00, 0x02, 0x6b, 0x04, 0x76, 0x31, 0x00];
    // Record 1: null key, empty value, timestamp 990 (delta -10), one header "h" with a null value.
    //   00 | zz(-10) = 19 → 13 | zz(1) → 02 | key -1 → 01 | value 0 → 00 | 1 header → 02 | "h": 02 68 | null → 01
    const record1 = [0x12, 0x00, 0x13, 0x02, 0x01, 0x00, 0x02, 0x02, 0x68, 0x01];
    const afterCrc = [
      ...be(2, 0), // attributes: no compression, CreateTime
      ...be(4, 1), // lastOffsetDelta
      ...be(8, 1000), // baseTimestamp (first record's)
      ...be(8, 1000), // maxTimestamp
      ...be(8, -1), // producerId
      ...be(2, -1), // producerEpoch
      ...be(4, -1), // baseSequence
      ...be(4, 2), // recordsCount
      ...record0,
      ...record1,
    ];
    const expected = Buffer.from([
      ...be(8, 5), // baseOffset
      ...be(4, 4 + 1 + 4 + afterCrc.length), // batchLength: everything after this field
      ...be(4, -1), // partitionLeaderEpoch
      2, // magic
      ...be(4, 0x0fe4fa6f), // CRC-32C of bytes [21, end), computed independently with kafka-python's calc_crc32c
      ...afterCrc,
    ]);
    expect(expected.length).toBe(81);

    const actual = encodeRecordBatch(
      [
        { key: 'k', value: Buffer.from('v1'), timestamp: 1000 },
        { key: null, value: '', timestamp: 990, headers: [{ key: 'h', value: null }] },
      ],
      { baseOffset: 5 },
    );
    expect(actual.toString('hex')).toBe(expected.toString('hex'));
    expect(crc32cJs(actual, 21, actual.length)).toBe(0x0fe4fa6f);
  });

  it('writes timestamp deltas beyond 2^31 as 5- and 6-byte varlongs', () => {
    const base = 1_700_000_000_000;
    const batch = encodeRecordBatch([
      { value: null, timestamp: base },
      { value: null, timestamp: base + 2 ** 31 }, // zz = 2^32 → 80 80 80 80 10
      { value: null, timestamp: base - 2 ** 40 }, // zz = 2^41 - 1 → ff ff ff ff ff 3f
    ]);
    const records = batch.subarray(61);
    // Each record: length, attributes 00, tsDelta, offsetDelta, key -1 (01), value -1 (01), headers 0 (00).
    expect(records.toString('hex')).toBe(
      ['0c' + '00' + '00' + '00' + '010100', '14' + '00' + '8080808010' + '02' + '010100', '16' + '00' + 'ffffffffff3f' + '04' + '010100'].join(''),
    );
    const [decoded] = decodeRecordBatches(batch);
    expect(decoded!.records.map((r) => r.timestamp)).toEqual([base, base + 2 ** 31, base - 2 ** 40]);
    expect(decoded!.maxTimestamp).toBe(base + 2 ** 31);
  });

  it('fills the header fields from the options', () => {
    const batch = encodeRecordBatch([{ value: 'a', timestamp: 10 }, { value: 'b', timestamp: 30 }, { value: 'c', timestamp: 20 }], {
      baseOffset: 2 ** 40 + 3,
      producerId: 2 ** 45 + 9,
      producerEpoch: 7,
      baseSequence: 1234,
      partitionLeaderEpoch: 42,
      isTransactional: true,
    });
    expect(batch.readBigInt64BE(0)).toBe(BigInt(2 ** 40 + 3));
    expect(batch.readInt32BE(8)).toBe(batch.length - 12);
    expect(batch.readInt32BE(12)).toBe(42);
    expect(batch.readInt8(16)).toBe(2);
    expect(batch.readInt16BE(21)).toBe(0x10);
    expect(batch.readInt32BE(23)).toBe(2);
    expect(batch.readBigInt64BE(27)).toBe(10n);
    expect(batch.readBigInt64BE(35)).toBe(30n);
    expect(batch.readBigInt64BE(43)).toBe(BigInt(2 ** 45 + 9));
    expect(batch.readInt16BE(51)).toBe(7);
    expect(batch.readInt32BE(53)).toBe(1234);
    expect(batch.readInt32BE(57)).toBe(3);
    expect(crcIsValid(batch)).toBe(true);

    const [d] = decodeRecordBatches(batch);
    expect(d).toMatchObject({
      baseOffset: 2 ** 40 + 3,
      lastOffset: 2 ** 40 + 5,
      partitionLeaderEpoch: 42,
      attributes: 0x10,
      compression: 'none',
      timestampType: 'CreateTime',
      baseTimestamp: 10,
      maxTimestamp: 30,
      producerId: 2 ** 45 + 9,
      producerEpoch: 7,
      baseSequence: 1234,
      isTransactional: true,
      isControl: false,
      sizeInBytes: batch.length,
    });
    expect(d!.records.map((r) => [r.offset, r.timestamp, r.value?.toString()])).toEqual([
      [2 ** 40 + 3, 10, 'a'],
      [2 ** 40 + 4, 30, 'b'],
      [2 ** 40 + 5, 20, 'c'],
    ]);
  });

  it('defaults: producer fields -1, base timestamp = first record, missing timestamps = now', () => {
    const before = Date.now();
    const batch = encodeRecordBatch([{ value: 'x' }, { value: 'y', timestamp: 5 }]);
    const after = Date.now();
    const [d] = decodeRecordBatches(batch);
    expect(d!.producerId).toBe(-1);
    expect(d!.producerEpoch).toBe(-1);
    expect(d!.baseSequence).toBe(-1);
    expect(d!.partitionLeaderEpoch).toBe(-1);
    expect(d!.baseOffset).toBe(0);
    expect(d!.baseTimestamp).toBeGreaterThanOrEqual(before);
    expect(d!.baseTimestamp).toBeLessThanOrEqual(after);
    expect(d!.records[0]!.timestamp).toBe(d!.baseTimestamp);
    expect(d!.records[1]!.timestamp).toBe(5); // a large negative delta
    expect(d!.maxTimestamp).toBe(d!.baseTimestamp);
  });

  it('rejects an empty batch and non-integer timestamps', () => {
    expect(() => encodeRecordBatch([])).toThrow(RangeError);
    expect(() => encodeRecordBatch([{ value: 'x', timestamp: 1.5 }])).toThrow(RangeError);
    expect(() => encodeRecordBatch([{ value: 'x' }], { baseOffset: 2 ** 60 })).toThrow(RangeError);
  });
});

// ---- round trips ----

describe.each(CODECS)('round trip, %s', (codec) => {
  it.each([1, 2, 3, 4, 5])('random records, seed %i', (seed) => {
    const records = randomRecords(seed * 7919, 1 + seed * 9);
    const batch = encodeRecordBatch(records, { compression: codec, baseOffset: seed * 1000 });
    expect(crcIsValid(batch)).toBe(true);
    expect(batch.readInt16BE(21) & 0x07).toBe(CODECS.indexOf(codec));
    expect(batch.readInt32BE(57)).toBe(records.length); // the count stays outside the compressed section

    const decoded = decodeRecordBatches(batch, { crc32c: crc32cJs });
    expect(decoded).toHaveLength(1);
    const d = decoded[0]!;
    expect(d.compression).toBe(codec);
    expect(d.sizeInBytes).toBe(batch.length);
    expect(d.lastOffset).toBe(seed * 1000 + records.length - 1);
    expect(d.baseTimestamp).toBe(records[0]!.timestamp);
    expect(d.maxTimestamp).toBe(Math.max(...records.map((r) => r.timestamp!)));
    expectRecordsEqual(d, records, seed * 1000);
  });

  it('decodes the same batch written by kafka-python 2.0.2', () => {
    const batch = Buffer.from(KAFKA_PYTHON_BATCHES_B64[codec], 'base64');
    expect(crcIsValid(batch)).toBe(true);
    const [d] = decodeRecordBatches(batch);
    expect(d!.compression).toBe(codec);
    expect(d!.partitionLeaderEpoch).toBe(0);
    expectRecordsEqual(d!, KAFKA_PYTHON_RECORDS, 0);
    // With the same inputs our encoder writes the same records section (kafka-python leaves the epoch at 0).
    if (codec === 'none') {
      const ours = encodeRecordBatch(KAFKA_PYTHON_RECORDS, { partitionLeaderEpoch: 0 });
      expect(ours.toString('hex')).toBe(batch.toString('hex'));
    }
  });
});

// Records in the kafka-python batches below.
const T = 1_700_000_000_000;
const KAFKA_PYTHON_RECORDS: RecordInput[] = [
  { key: 'k0', value: 'hello', timestamp: T, headers: [{ key: 'h', value: Buffer.from('v') }] },
  { key: null, value: '', timestamp: T - 5000, headers: [{ key: 'ü-ключ', value: null }] },
  { key: '', value: null, timestamp: T + 3 * 86_400_000 },
  {
    key: 'key-3',
    value: 'penstock '.repeat(120),
    timestamp: T + 1,
    headers: [
      { key: 'a', value: Buffer.from('1') },
      { key: 'b', value: Buffer.alloc(0) },
    ],
  },
];
// Written by Debian bookworm's python3-kafka 2.0.2 (with python3-snappy/-lz4/-zstandard), for each codec:
//   b = DefaultRecordBatchBuilder(magic=2, compression_type=<id>, is_transactional=0, producer_id=-1,
//                                 producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
//   b.append(0, T, b'k0', b'hello', [('h', b'v')]); b.append(1, T - 5000, None, b'', [('ü-ключ', None)])
//   b.append(2, T + 3 * 86400000, b'', None, []); b.append(3, T + 1, b'key-3', b'penstock ' * 120, [('a', b'1'), ('b', b'')])
//   base64(b.build())
const KAFKA_PYTHON_BATCHES_B64: Record<Compression, string> = {
  none:
    'AAAAAAAAAAAAAASwAAAAAAIqKuIGAAAAAAADAAABi8/laAAAAAGL31h8AP//////////////////AAAABCIAAAAEazAKaGVsbG8CAmgC' +
    'digAj04CAQACFsO8LdC60LvRjtGHARQAgNCY9wEEAAEAlhEAAgYKa2V5LTPwEHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0' +
    'b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBl' +
    'bnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2Nr' +
    'IHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0' +
    'b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBl' +
    'bnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2Nr' +
    'IHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0' +
    'b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBl' +
    'bnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2Nr' +
    'IHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0' +
    'b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBl' +
    'bnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2Nr' +
    'IHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0' +
    'b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBl' +
    'bnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIHBlbnN0b2NrIAQCYQIxAmIA',
  gzip:
    'AAAAAAAAAAAAAACgAAAAAALkRM+JAAEAAAADAAABi8/laAAAAAGL31h8AP//////////////////AAAABB+LCABTbwJrAv9TYmBgYMk2' +
    '4MpIzcnJZ2LKYCrTYOj3Y2JkYBI7vEf3wq4Luy/2XWxnFGFouDDjOyMLAyPDNEEGJjau7NRKXeMPAgWpecUl+cnZCqOMUcYoY5RBJIOF' +
    'KZHJkCmJAQAbgI0VfwQAAA==',
  snappy:
    'AAAAAAAAAAAAAADPAAAAAAIaiaIrAAIAAAADAAABi8/laAAAAAGL31h8AP//////////////////AAAABIJTTkFQUFkAAAAAAQAAAAEA' +
    'AACK/wjwSSIAAAAEazAKaGVsbG8CAmgCdigAj04CAQACFsO8LdC60LvRjtGHARQAgNCY9wEEAAEAlhEAAgYKa2V5LTPwEHBlbnN0b2Nr' +
    'IHBl/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkAsgkAHAQCYQIxAmIA',
  lz4:
    'AAAAAAAAAAAAAACiAAAAAAJeLiDTAAMAAAADAAABi8/laAAAAAGL31h8AP//////////////////AAAABAQiTRhoQH8EAAAAAAAADloA' +
    'AAD/OSIAAAAEazAKaGVsbG8CAmgCdigAj04CAQACFsO8LdC60LvRjtGHARQAgNCY9wEEAAEAlhEAAgYKa2V5LTPwEHBlbnN0b2NrIAkA' +
    '/////yCABAJhAjECYgAAAAAA',
  zstd:
    'AAAAAAAAAAAAAACUAAAAAALKfhPHAAQAAAADAAABi8/laAAAAAGL31h8AP//////////////////AAAABCi1L/1gfwPNAgAEBSIAAAAE' +
    'azAKaGVsbG8CAmgCdigAj04CAQACFsO8LdC60LvRjtGHARQAgNCY9wEEAAEAlhEAAgYKa2V5LTPwEHBlbnN0b2NrIAQCYQIxAmIAAQAI' +
    'C/xLFA==',
};

// ---- interop with kafkajs 2.2.4's own record batch encoder and decoder ----

interface KafkajsEncoder {
  buffer: Buffer;
}
interface KafkajsDecodedBatch {
  firstOffset: string;
  records: Array<{ offset: string; timestamp: string; key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer | null> }>;
}
const requireFromTest = createRequire(import.meta.url);
const kjsRecordBatch = requireFromTest('kafkajs/src/protocol/recordBatch/v0/index.js') as {
  RecordBatch: (args: Record<string, unknown>) => Promise<KafkajsEncoder>;
};
const kjsRecord = requireFromTest('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (args: Record<string, unknown>) => unknown;
const kjsBatchDecoder = requireFromTest('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (decoder: unknown) => Promise<KafkajsDecodedBatch>;
const KjsDecoder = requireFromTest('kafkajs/src/protocol/decoder.js') as new (buf: Buffer) => unknown;
const kjsLong = requireFromTest('kafkajs/src/utils/long.js') as { fromValue(v: string | number): unknown };
const KJS_CODEC: Partial<Record<Compression, number>> = { none: 0, gzip: 1 };

const INTEROP_RECORDS: RecordInput[] = [
  { key: 'user-1', value: 'first value', timestamp: T, headers: { 'trace-id': 'abc', 'ключ': 'значение' } },
  { key: null, value: Buffer.from([0, 1, 2, 255]), timestamp: T + 2 ** 31 + 17, headers: {} },
  { key: Buffer.alloc(0), value: 'x'.repeat(5000), timestamp: T - 86_400_000 * 3, headers: { empty: '' } },
];

describe.each(['none', 'gzip'] as const)('kafkajs interop, %s', (codec) => {
  it('decodes a batch encoded by kafkajs', async () => {
    const first = Math.min(...INTEROP_RECORDS.map((r) => r.timestamp!));
    const max = Math.max(...INTEROP_RECORDS.map((r) => r.timestamp!));
    const records = INTEROP_RECORDS.map((r, i) => kjsRecord({ offsetDelta: i, timestampDelta: r.timestamp! - first, key: r.key, value: r.value, headers: r.headers }));
    const encoded = await kjsRecordBatch.RecordBatch({
      compression: KJS_CODEC[codec],
      firstOffset: kjsLong.fromValue('123456789012'),
      firstTimestamp: first,
      maxTimestamp: max,
      producerId: kjsLong.fromValue(-1),
      producerEpoch: 0,
      firstSequence: 0,
      lastOffsetDelta: records.length - 1,
      records,
    });
    const [d] = decodeRecordBatches(encoded.buffer);
    expect(d!.compression).toBe(codec);
    expect(d!.baseTimestamp).toBe(first);
    expect(d!.maxTimestamp).toBe(max);
    expectRecordsEqual(d!, INTEROP_RECORDS, 123456789012);
  });

  it('kafkajs decodes a batch we encoded', async () => {
    const ours = encodeRecordBatch(INTEROP_RECORDS, { compression: codec, baseOffset: 77 });
    const d = await kjsBatchDecoder(new KjsDecoder(ours));
    expect(d.firstOffset).toBe('77');
    expect(d.records).toHaveLength(INTEROP_RECORDS.length);
    d.records.forEach((r, i) => {
      const input = INTEROP_RECORDS[i]!;
      expect(r.offset).toBe(String(77 + i));
      expect(r.timestamp).toBe(String(input.timestamp));
      expect(r.key).toEqual(asBuf(input.key));
      expect(r.value).toEqual(asBuf(input.value));
      const headers = Object.fromEntries(Object.entries(input.headers as Record<string, string>).map(([k, v]) => [k, Buffer.from(v)]));
      expect(r.headers).toEqual(headers);
    });
  });
});

// ---- attributes: timestamp type, control ----

describe('attributes', () => {
  it('LogAppendTime: every record takes the batch maxTimestamp', () => {
    const batch = encodeRecordBatch([{ value: 'a', timestamp: 100 }, { value: 'b', timestamp: 50 }], { timestampType: 'LogAppendTime' });
    const [d] = decodeRecordBatches(batch);
    expect(d!.timestampType).toBe('LogAppendTime');
    expect(d!.records.map((r) => r.timestamp)).toEqual([100, 100]);

    // What a broker does on append: set bit 3 and maxTimestamp, recompute the CRC; record deltas stay.
    const created = encodeRecordBatch([{ value: 'a', timestamp: 100 }, { value: 'b', timestamp: 50 }], { compression: 'gzip' });
    created.writeInt16BE(created.readInt16BE(21) | 0x08, 21);
    created.writeBigInt64BE(999_999n, 35);
    const [appended] = decodeRecordBatches(resealCrc(created));
    expect(appended!.compression).toBe('gzip');
    expect(appended!.records.map((r) => r.timestamp)).toEqual([999_999, 999_999]);
  });

  it('control batches decode with isControl set', () => {
    const commitMarker = Buffer.from([0, 0, 0, 1]); // version 0, type 1 = commit
    const batch = encodeRecordBatch([{ key: commitMarker, value: Buffer.from([0, 0, 0, 0, 0, 0]) }], {
      isControl: true,
      isTransactional: true,
      producerId: 4000,
      producerEpoch: 0,
    });
    const [d] = decodeRecordBatches(batch);
    expect(d!.isControl).toBe(true);
    expect(d!.isTransactional).toBe(true);
    expect(d!.attributes).toBe(0x30);
    expect(d!.records[0]!.key).toEqual(commitMarker);
  });

  it('uses an injected crc32c for encode and verification', () => {
    const calls: Array<[number, number]> = [];
    const crc = (buf: Uint8Array, start = 0, end = buf.length): number => {
      calls.push([start, end]);
      return crc32cJs(buf, start, end);
    };
    const batch = encodeRecordBatch([{ value: 'v' }], { crc32c: crc });
    expect(calls).toEqual([[21, batch.length]]);
    decodeRecordBatches(batch, { crc32c: crc });
    expect(calls).toHaveLength(2);
    decodeRecordBatches(batch, { crc32c: crc, verifyCrc: false });
    expect(calls).toHaveLength(2);
  });
});

// ---- concatenation and truncation ----

describe('concatenated batches', () => {
  const inputs: Array<[RecordInput[], Compression]> = [
    [randomRecords(11, 3).map((r) => ({ ...r, value: asBuf(r.value)?.subarray(0, 60) ?? null, key: 'k' })), 'none'],
    [[{ key: 'a', value: 'penstock '.repeat(20), timestamp: T }], 'zstd'],
    [[{ value: 'two', timestamp: T }, { value: null, timestamp: T - 1, headers: { h: 'v' } }], 'none'],
    [[{ value: 'lz', timestamp: T }], 'lz4'],
  ];
  const batches = inputs.map(([records, compression], i) => encodeRecordBatch(records, { compression, baseOffset: i * 10 }));
  const all = Buffer.concat(batches);
  const ends = batches.reduce<number[]>((acc, b) => [...acc, (acc.at(-1) ?? 0) + b.length], []);

  it('decodes all of them in order', () => {
    const decoded = decodeRecordBatches(all);
    expect(decoded.map((d) => d.baseOffset)).toEqual([0, 10, 20, 30]);
    decoded.forEach((d, i) => expectRecordsEqual(d, inputs[i]![0], i * 10));
  });

  it('a cut at every byte position yields exactly the batches completed before it', () => {
    for (let cut = 0; cut <= all.length; cut++) {
      const complete = ends.filter((e) => e <= cut).length;
      const decoded = decodeRecordBatches(all.subarray(0, cut));
      expect(decoded.length, `cut at ${cut}`).toBe(complete);
      decoded.forEach((d, i) => expect(d.sizeInBytes).toBe(batches[i]!.length));
    }
  });

  it('an empty buffer holds no batches', () => {
    expect(decodeRecordBatches(Buffer.alloc(0))).toEqual([]);
  });
});

// ---- corruption ----

describe('corrupt batches throw CorruptRecordError', () => {
  const good = (): Buffer => encodeRecordBatch([{ key: 'k', value: 'value-1', timestamp: T }, { value: 'value-2', timestamp: T + 1 }]);

  it('bad magic', () => {
    const b = good();
    b[16] = 1;
    expectCorrupt(() => decodeRecordBatches(b), /magic 1/);
  });

  it('CRC mismatch, and verifyCrc: false skips the check', () => {
    const b = good();
    b[b.length - 3] ^= 0x20;
    const err = expectCorrupt(() => decodeRecordBatches(Buffer.concat([good(), b])), /CRC/);
    expect(err.position).toBe(good().length); // the second batch
    expect(decodeRecordBatches(b, { verifyCrc: false })[0]!.records).toHaveLength(2);
  });

  it('batch length below the header size', () => {
    const b = good();
    b.writeInt32BE(20, 8);
    expectCorrupt(() => decodeRecordBatches(b), /below/);
  });

  it('a record length overrunning the batch', () => {
    const b = good();
    b[61] = 0x7e; // first record's length varint: zz(63), longer than what remains
    expectCorrupt(() => decodeRecordBatches(resealCrc(b)), /record 0/);
  });

  it('a key length overrunning its record', () => {
    const b = good();
    b[65] = 0x40; // first record's key length varint (after length, attributes, tsDelta, offsetDelta): 32 bytes
    expectCorrupt(() => decodeRecordBatches(resealCrc(b)), /overruns/);
  });

  it('records count disagreeing with the records section', () => {
    const more = good();
    more.writeInt32BE(3, 57);
    expectCorrupt(() => decodeRecordBatches(resealCrc(more)), /past the end|declares/);
    const fewer = good();
    fewer.writeInt32BE(1, 57);
    expectCorrupt(() => decodeRecordBatches(resealCrc(fewer)), /remain after/);
    const huge = good();
    huge.writeInt32BE(0x7fffffff, 57);
    expectCorrupt(() => decodeRecordBatches(resealCrc(huge)), /declares 2147483647 records/);
  });

  it('a varint longer than 5 bytes', () => {
    const b = encodeRecordBatch([{ value: null, timestamp: 0 }], { baseTimestamp: 0 });
    // records: 0c 00 00 00 01 01 00 → make the offsetDelta varint 6 bytes long inside a longer record
    const records = Buffer.from([0x16, 0x00, 0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 0x01, 0x00]);
    const forged = Buffer.concat([b.subarray(0, 61), records]);
    forged.writeInt32BE(forged.length - 12, 8);
    expectCorrupt(() => decodeRecordBatches(resealCrc(forged)), /longer than 5 bytes/);
  });

  it.each(['gzip', 'snappy', 'lz4', 'zstd'] as const)('%s: compressed section that does not decompress', (codec) => {
    const b = encodeRecordBatch([{ value: 'penstock '.repeat(50), timestamp: T }], { compression: codec });
    const cut = Buffer.concat([b.subarray(0, b.length - 6)]);
    cut.writeInt32BE(cut.length - 12, 8);
    const err = expectCorrupt(() => decodeRecordBatches(resealCrc(cut)), new RegExp(codec));
    expect(err.cause).toBeInstanceOf(CompressionError);
  });

  it('an unassigned codec id is UNSUPPORTED_COMPRESSION_TYPE', () => {
    const b = good();
    b.writeInt16BE(6, 21);
    expect(() => decodeRecordBatches(resealCrc(b))).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_COMPRESSION_TYPE' }));
  });
});
