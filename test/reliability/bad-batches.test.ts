/**
 * Record batches whose CRC is right but whose contents contradict themselves — record count against the
 * records present, offset deltas that do not count 0, 1, 2…, record lengths that overrun, a
 * lastOffsetDelta that disagrees with the count — are refused with CORRUPT_MESSAGE or INVALID_RECORD and
 * never stored. The CRC is computed over the doctored bytes with the Io's crc32c, so only the broker's
 * structural checks can catch them.
 *
 * Compressed batches are decompressed to walk their records (as Kafka's LogValidator does) and checked
 * the same way, for every codec. Left open: only gzip stops inflating at the 256 MiB cap; snappy, lz4
 * and zstd decompress whole before the cap is checked, so a small batch can still claim a large
 * transient allocation.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { KafkaConnection } from '../../src/client/kafka-connection.js';
import { defaultIo } from '../../src/io/select.js';
import { ApiKey } from '../../src/protocol/index.js';
import { compress, prepareCompression, type Compression } from '../../src/storage/compression.js';
import { decodeRecordBatches, encodeRecordBatch } from '../../src/storage/record-codec.js';
import { connect, useBroker } from '../helpers/broker.js';
import { createTopicOn, fetchRequestFor, produceRequestFor } from './helpers/ledger.js';

const CORRUPT_MESSAGE = 2;
const INVALID_RECORD = 87;

function zigzag(v: number): Buffer {
  let u = v >= 0 ? v * 2 : -v * 2 - 1;
  const out: number[] = [];
  while (u >= 0x80) {
    out.push((u & 0x7f) | 0x80);
    u = Math.floor(u / 128);
  }
  out.push(u);
  return Buffer.from(out);
}

interface RecordSpec {
  offsetDelta: number;
  key?: Buffer | null;
  value?: Buffer | null;
  headers?: number;
  /** Added to the record's length field (a lie about its size). */
  lengthDelta?: number;
  /** Overrides the key length field. */
  keyLength?: number;
}

function record(spec: RecordSpec): Buffer {
  const key = spec.key === undefined ? Buffer.from('k') : spec.key;
  const value = spec.value === undefined ? Buffer.from('value') : spec.value;
  const parts = [
    Buffer.from([0]), // attributes
    zigzag(0), // timestamp delta
    zigzag(spec.offsetDelta),
    zigzag(spec.keyLength ?? (key ? key.length : -1)),
    key ?? Buffer.alloc(0),
    zigzag(value ? value.length : -1),
    value ?? Buffer.alloc(0),
    zigzag(spec.headers ?? 0),
  ];
  const body = Buffer.concat(parts);
  return Buffer.concat([zigzag(body.length + (spec.lengthDelta ?? 0)), body]);
}

/** A v2 batch around `records` (the plain records section), with the header fields given and a correct CRC. */
function batch(records: Buffer, header: { count: number; lastOffsetDelta?: number; compression?: Compression }): Buffer {
  const template = encodeRecordBatch([{ key: 'k', value: 'v', timestamp: 1_700_000_000_000 }], { compression: header.compression ?? 'none' });
  const section = header.compression && header.compression !== 'none' ? compress(header.compression, records) : records;
  const out = Buffer.concat([template.subarray(0, 61), section]);
  out.writeInt32BE(out.length - 12, 8);
  out.writeInt32BE(header.lastOffsetDelta ?? header.count - 1, 23);
  out.writeInt32BE(header.count, 57);
  out.writeUInt32BE(defaultIo().crc32c(out, 21, out.length) >>> 0, 17);
  return out;
}

const three = (specs: Partial<RecordSpec>[] = [{}, {}, {}]): Buffer => Buffer.concat(specs.map((s, i) => record({ offsetDelta: i, ...s })));

/** Doctored batches, each with a name; every one must be refused. */
function doctored(compression: Compression): [string, Buffer][] {
  const c = { compression };
  return [
    ['declares 4 records, holds 3', batch(three(), { count: 4, ...c })],
    ['declares 2 records, holds 3', batch(three(), { count: 2, ...c })],
    ['lastOffsetDelta 5 for 3 records', batch(three(), { count: 3, lastOffsetDelta: 5, ...c })],
    ['lastOffsetDelta -1', batch(three(), { count: 3, lastOffsetDelta: -1, ...c })],
    ['offset deltas 0, 0, 1', batch(three([{ offsetDelta: 0 }, { offsetDelta: 0 }, { offsetDelta: 1 }]), { count: 3, ...c })],
    ['offset deltas 0, 2, 1', batch(three([{ offsetDelta: 0 }, { offsetDelta: 2 }, { offsetDelta: 1 }]), { count: 3, ...c })],
    ['offset deltas 1, 2, 3', batch(three([{ offsetDelta: 1 }, { offsetDelta: 2 }, { offsetDelta: 3 }]), { count: 3, ...c })],
    ['a record length overrunning the batch', batch(three([{}, {}, { lengthDelta: 1000 }]), { count: 3, ...c })],
    ['a record length one byte short', batch(three([{}, { lengthDelta: -1 }, {}]), { count: 3, ...c })],
    ['a record length one byte long', batch(three([{ lengthDelta: 1 }, {}, {}]), { count: 3, ...c })],
    ['a key length overrunning its record', batch(three([{}, { keyLength: 500 }, {}]), { count: 3, ...c })],
    ['a negative record length', batch(Buffer.concat([zigzag(-5), three()]), { count: 3, ...c })],
    ['a header count with no headers', batch(three([{}, {}, { headers: 1000 }]), { count: 3, ...c })],
    ['a varint of 6 bytes', batch(Buffer.concat([three([{}, {}]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01])]), { count: 3, ...c })],
    ['records section cut in the middle of a record', batch(three().subarray(0, three().length - 3), { count: 3, ...c })],
  ];
}

async function produceCode(c: KafkaConnection, topic: string, records: Buffer): Promise<number> {
  const res: any = await c.request(ApiKey.Produce, 7, produceRequestFor(topic, 0, records, -1));
  return res.responses[0].partitionResponses[0].errorCode;
}

async function fetchValues(c: KafkaConnection, topic: string): Promise<{ highWatermark: number; count: number }> {
  const res: any = await c.request(ApiKey.Fetch, 11, fetchRequestFor(topic, 0, 0));
  const p = res.responses[0].partitions[0];
  return { highWatermark: Number(p.highWatermark), count: decodeRecordBatches(p.records).reduce((n, b) => n + b.records.length, 0) };
}

describe('CRC-valid but inconsistent record batches', () => {
  const broker = useBroker();

  beforeAll(() => prepareCompression('zstd'));

  for (const compression of ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const) {
    it(`are refused and never stored (${compression})`, async () => {
      const c = await connect(broker(), `bad-${compression}`);
      const topic = `bad-${compression}`;
      await createTopicOn(c, topic, 1);
      // The builder itself makes good batches: the control case is stored.
      expect(await produceCode(c, topic, batch(three(), { count: 3, compression }))).toBe(0);
      const accepted: string[] = [];
      for (const [name, bytes] of doctored(compression)) {
        const code = await produceCode(c, topic, bytes);
        if (code !== CORRUPT_MESSAGE && code !== INVALID_RECORD) accepted.push(`${name}: error ${code}`);
        // All or nothing: a good batch followed by the bad one in one request stores neither.
        const both = Buffer.concat([batch(three(), { count: 3, compression }), bytes]);
        const mixed = await produceCode(c, topic, both);
        if (mixed !== CORRUPT_MESSAGE && mixed !== INVALID_RECORD) accepted.push(`good + ${name}: error ${mixed}`);
      }
      expect(accepted).toEqual([]);
      expect(await fetchValues(c, topic)).toEqual({ highWatermark: 3, count: 3 });
    });
  }
});
