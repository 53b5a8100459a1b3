import { randomBytes } from 'node:crypto';
import Module from 'node:module';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  COMPRESSION_CODEC_IDS,
  CompressionError,
  compress,
  compressionCodecId,
  compressionFromAttributes,
  decompress,
  isCompressionAvailable,
  prepareCompression,
  type Compression,
} from '../../src/storage/compression.js';

const CODECS: Compression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
const COMPRESSING: Compression[] = ['gzip', 'snappy', 'lz4', 'zstd'];

beforeAll(async () => {
  for (const c of CODECS) await prepareCompression(c);
});

// Reference streams written by other implementations, so decoding is not only checked against our own encoder.
// Built with Debian bookworm's python3-kafka 2.0.2 / python3-snappy / python3-lz4 / python3-zstandard:
//   SNAPPY_PAYLOAD = b'penstock ' * 4000
//   XERIAL = kafka.codec.snappy_encode(SNAPPY_PAYLOAD)                       (snappy-java framing, 32 KiB blocks)
//   RAW    = kafka.codec.snappy_encode(SNAPPY_PAYLOAD, xerial_compatible=False)
//   FRAME_PAYLOAD = b'penstock lz4 and zstd fixture; ' * 5000
//   LZ4_LINKED = lz4.frame.compress(FRAME_PAYLOAD, block_linked=True, content_checksum=True, block_checksum=True,
//                                   store_size=True, block_size=lz4.frame.BLOCKSIZE_MAX64KB)
//   ZSTD_STREAM = streaming zstandard compressobj() output (no content size in the header, as zstd-jni streams write)
//   ZSTD_TWO_FRAMES = ZstdCompressor().compress(p[:50000]) + ZstdCompressor().compress(p[50000:])
const SNAPPY_PAYLOAD = Buffer.from('penstock '.repeat(4000));
const FRAME_PAYLOAD = Buffer.from('penstock lz4 and zstd fixture; '.repeat(5000));
const XERIAL_SNAPPY_B64 =
  'glNOQVBQWQAAAAABAAAAAQAABg2AgAIgcGVuc3RvY2sg/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/g' +
  'kA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA' +
  '/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/g' +
  'kA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA' +
  '/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/g' +
  'kA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA' +
  '/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/g' +
  'kA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA' +
  '/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/g' +
  'kA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA' +
  '/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/g' +
  'kA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA' +
  '/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/g' +
  'kA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA' +
  '/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/g' +
  'kA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA' +
  '/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/g' +
  'kA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA' +
  '/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA/gkA2g' +
  'kAAAAApaAZICBwZW5zdG9ja/4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4J' +
  'AP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP' +
  '4JAFoJAA==';
const RAW_SNAPPY_B64 =
  'oJkCIHBlbnN0b2NrIP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP' +
  '4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4J' +
  'AP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP' +
  '4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4J' +
  'AP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP' +
  '4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4J' +
  'AP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP' +
  '4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4J' +
  'AP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP' +
  '4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4J' +
  'AP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP' +
  '4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4J' +
  'AP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP' +
  '4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4J' +
  'AP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP' +
  '4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4J' +
  'AP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP' +
  '4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4J' +
  'AP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP' +
  '4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4J' +
  'AP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAP4JAFoJAA==';
const LZ4_LINKED_B64 =
  'BCJNGFxAeF0CAAAAAADXKgEAAP8QcGVuc3RvY2sgbHo0IGFuZCB6c3RkIGZpeHR1cmU7IB8A//////////////////////////////////////' +
  '//////////////////////////////////////////////////////////////////////////////////////////////////////////////' +
  '//////////////////////////////////////////////////////////////////////////////////////////////////////////////' +
  '///////////////////////////////////////////////////////////////////////////////////8lQZTsgcGWPaQGGCgEAAA/+////' +
  '//////////////////////////////////////////////////////////////////////////////////////////////////////////////' +
  '//////////////////////////////////////////////////////////////////////////////////////////////////////////////' +
  '//////////////////////////////////////////////////////////////////////////////////////////////////////////////' +
  '/////////oUCBwZW5z4yTdzmcAAAAPHwD/////////////////////////////////////////////////////////////////////////////' +
  '//////////////////////////////////////////////+9UHVyZTsgJWbUUQAAAAC/V1IP';
const ZSTD_STREAM_B64 =
  'KLUv/QBYRAEA+HBlbnN0b2NrIGx6NCBhbmQgenN0ZCBmaXh0dXJlOyABAHv/i1w5AUUAAAh0AQB03Q6E';
const ZSTD_TWO_FRAMES_B64 =
  'KLUv/WBQwj0BAPhwZW5zdG9jayBsejQgYW5kIHpzdGQgZml4dHVyZTsgAQC7DIWunCi1L/2gKJoBAEUBAPhlOyBwZW5zdG9jayBsejQgYW5kIH' +
  'pzdGQgZml4dHVyAQAbaIpcOQE=';

const b64 = (s: string): Buffer => Buffer.from(s, 'base64');

function samples(): Array<[string, Buffer]> {
  return [
    ['empty', Buffer.alloc(0)],
    ['one byte', Buffer.from([0x2a])],
    ['text', Buffer.from('a record batch, a record batch, a record batch ü ключ')],
    ['100 KiB random', randomBytes(100 * 1024)],
    ['300 KiB repetitive', Buffer.from('0123456789abcdef'.repeat(300 * 64))],
  ];
}

function expectCodecError(fn: () => unknown, code: string, codec?: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a CompressionError').toBeInstanceOf(CompressionError);
  expect((caught as CompressionError).code).toBe(code);
  if (codec) expect((caught as CompressionError).codec).toBe(codec);
  expect((caught as Error).message.length).toBeGreaterThan(10);
}

describe('codec ids', () => {
  it('match Kafka attribute bits 0-2', () => {
    expect(COMPRESSION_CODEC_IDS).toEqual({ none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 });
    for (const c of CODECS) {
      expect(compressionFromAttributes(compressionCodecId(c))).toBe(c);
      // Higher attribute bits (timestamp type, transactional, control) don't disturb the codec.
      expect(compressionFromAttributes(compressionCodecId(c) | 0x38)).toBe(c);
    }
  });

  it('reject unassigned ids and unknown names', () => {
    for (const id of [5, 6, 7]) expectCodecError(() => compressionFromAttributes(id), 'UNSUPPORTED_COMPRESSION_TYPE');
    expectCodecError(() => compress('brotli' as Compression, Buffer.from('x')), 'UNSUPPORTED_COMPRESSION_TYPE');
    expectCodecError(() => compressionCodecId('constructor' as Compression), 'UNSUPPORTED_COMPRESSION_TYPE');
    expectCodecError(() => decompress('brotli' as Compression, Buffer.from('x')), 'UNSUPPORTED_COMPRESSION_TYPE');
  });

  it('all codec libraries load here', () => {
    for (const c of CODECS) expect(isCompressionAvailable(c), c).toBe(true);
  });
});

describe.each(CODECS)('%s', (codec) => {
  it.each(samples())('round-trips %s', (_name, input) => {
    const packed = compress(codec, input);
    expect(Buffer.isBuffer(packed)).toBe(true);
    expect(decompress(codec, packed).equals(input)).toBe(true);
  });

  it('accepts a Uint8Array view into a larger buffer', () => {
    const backing = Buffer.from('xxxxpayload-in-the-middle-of-a-bufferxxxx');
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 4, backing.length - 8);
    const packed = compress(codec, view);
    expect(decompress(codec, new Uint8Array(packed)).toString()).toBe('payload-in-the-middle-of-a-buffer');
  });
});

describe('gzip', () => {
  it('writes a standard gzip member (magic 1f 8b, deflate)', () => {
    const packed = compress('gzip', Buffer.from('hello'));
    expect([...packed.subarray(0, 3)]).toEqual([0x1f, 0x8b, 0x08]);
  });
});

describe('snappy', () => {
  it('writes snappy-java (xerial) framing: magic, version 1, compatible 1, 32 KiB blocks', () => {
    const input = Buffer.from('penstock '.repeat(8000)); // 72000 bytes: blocks of 32768, 32768, 6464
    const packed = compress('snappy', input);
    expect(packed.subarray(0, 8).toString('hex')).toBe('82534e4150505900');
    expect(packed.readInt32BE(8)).toBe(1);
    expect(packed.readInt32BE(12)).toBe(1);
    const blockLengths: number[] = [];
    let pos = 16;
    while (pos < packed.length) {
      const len = packed.readInt32BE(pos);
      blockLengths.push(len);
      pos += 4 + len;
    }
    expect(pos).toBe(packed.length);
    expect(blockLengths).toHaveLength(3);
  });

  it('decodes the xerial framing written by kafka-python (the Java framing) with two blocks', () => {
    const xerial = b64(XERIAL_SNAPPY_B64);
    expect(xerial.subarray(0, 8).toString('hex')).toBe('82534e4150505900');
    expect(decompress('snappy', xerial).equals(SNAPPY_PAYLOAD)).toBe(true);
  });

  it('decodes a raw snappy block (what librdkafka and kafkajs-snappy may write)', () => {
    const raw = b64(RAW_SNAPPY_B64);
    expect(raw.subarray(0, 8).toString('hex')).not.toBe('82534e4150505900');
    expect(decompress('snappy', raw).equals(SNAPPY_PAYLOAD)).toBe(true);
  });

  it('decodes an empty xerial stream (header only) to nothing', () => {
    expect(decompress('snappy', compress('snappy', Buffer.alloc(0))).length).toBe(0);
  });
});

describe('lz4', () => {
  it('writes a standard LZ4 frame with independent blocks (Kafka Java decodes every block on its own)', () => {
    const packed = compress('lz4', Buffer.from('penstock '.repeat(20000)));
    expect(packed.readUInt32LE(0)).toBe(0x184d2204);
    const flg = packed[4]!;
    expect(flg >> 6).toBe(0b01); // frame version 01
    expect(flg & 0x20).toBe(0x20); // block independence
    const bd = packed[5]!;
    expect((bd >> 4) & 0x7).toBeGreaterThanOrEqual(4); // 64 KiB..4 MiB, the sizes Kafka's reader accepts
    expect((bd >> 4) & 0x7).toBeLessThanOrEqual(7);
    expect(packed.readUInt32LE(packed.length - 4)).toBe(0); // end mark, no content checksum
  });

  it('decodes a frame with linked blocks, block and content checksums and a content size (python-lz4)', () => {
    const frame = b64(LZ4_LINKED_B64);
    expect(decompress('lz4', frame).equals(FRAME_PAYLOAD)).toBe(true);
  });
});

describe('zstd', () => {
  it('writes a standard zstd frame (magic 0xFD2FB528)', () => {
    expect(compress('zstd', Buffer.from('hello')).readUInt32LE(0)).toBe(0xfd2fb528);
  });

  it('decodes a skippable frame followed by a data frame', () => {
    const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
    expect(decompress('zstd', Buffer.concat([skippable, compress('zstd', Buffer.from('after'))])).toString()).toBe('after');
  });

  it('decodes a streamed frame without content size and two concatenated frames', () => {
    expect(decompress('zstd', b64(ZSTD_STREAM_B64)).equals(FRAME_PAYLOAD)).toBe(true);
    expect(decompress('zstd', b64(ZSTD_TWO_FRAMES_B64)).equals(FRAME_PAYLOAD)).toBe(true);
  });
});

describe('corrupt input throws CORRUPT_MESSAGE, never hangs or returns junk', () => {
  const garbage = [
    Buffer.from('this is certainly not compressed data at all, just text'),
    Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    Buffer.alloc(0),
  ];
  it.each(COMPRESSING)('%s: garbage', (codec) => {
    for (const g of garbage) expectCodecError(() => decompress(codec, g), 'CORRUPT_MESSAGE', codec);
  });

  it.each(COMPRESSING)('%s: its own output cut short', (codec) => {
    const packed = compress(codec, Buffer.from('penstock record batch payload '.repeat(3000)));
    const cuts = [1, 5, 7, 8, 11, Math.floor(packed.length / 2), packed.length - 5, packed.length - 4, packed.length - 1];
    for (const cut of cuts) {
      expectCodecError(() => decompress(codec, packed.subarray(0, cut)), 'CORRUPT_MESSAGE', codec);
    }
  });

  it('snappy: a xerial block length that overruns the stream', () => {
    const packed = compress('snappy', Buffer.from('penstock '.repeat(100)));
    packed.writeInt32BE(packed.length, 16);
    expectCodecError(() => decompress('snappy', packed), 'CORRUPT_MESSAGE', 'snappy');
  });

  it('lz4: a wrong content checksum', () => {
    const frame = b64(LZ4_LINKED_B64);
    frame[frame.length - 1]! ^= 0x01;
    expectCodecError(() => decompress('lz4', frame), 'CORRUPT_MESSAGE', 'lz4');
  });

  it('lz4: bytes after the end mark are ignored, as Kafka does', () => {
    const packed = compress('lz4', Buffer.from('penstock'));
    expect(decompress('lz4', Buffer.concat([packed, Buffer.from('trailing')])).toString()).toBe('penstock');
  });

  it('lz4: a block size larger than the frame', () => {
    const packed = compress('lz4', Buffer.from('penstock '.repeat(1000)));
    const bad = Buffer.from(packed);
    bad[10] = 0x40; // high byte of the first block's size (after magic, FLG, BD, HC): ~1 GiB
    expectCodecError(() => decompress('lz4', bad), 'CORRUPT_MESSAGE', 'lz4');
  });
});

describe('lazy loading', () => {
  // A fresh copy of the module, with nothing loaded yet; `blocked` packages fail to load, as if not installed.
  async function freshModule(blocked: string[]): Promise<{ mod: typeof import('../../src/storage/compression.js'); restore: () => void }> {
    const modules = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
    const original = modules._load;
    modules._load = function (request: string, ...rest: unknown[]): unknown {
      if (blocked.includes(request)) throw new Error(`Cannot find module '${request}'`);
      return original.call(this, request, ...rest);
    };
    vi.resetModules();
    const mod = await import('../../src/storage/compression.js');
    return {
      mod,
      restore: () => {
        modules._load = original;
        vi.resetModules();
      },
    };
  }

  function codeOf(fn: () => unknown): string | undefined {
    try {
      fn();
    } catch (err) {
      return (err as CompressionError).code;
    }
    return undefined;
  }

  it('a missing library breaks only its own codec, with UNSUPPORTED_COMPRESSION_TYPE naming the package', async () => {
    const zstdFrame = compress('zstd', Buffer.from('still readable'));
    const { mod: fresh, restore } = await freshModule(['snappy', '@bokuweb/zstd-wasm']);
    try {
      expect(codeOf(() => fresh.compress('snappy', Buffer.from('x')))).toBe('UNSUPPORTED_COMPRESSION_TYPE');
      expect(() => fresh.compress('snappy', Buffer.from('x'))).toThrow(/"snappy"/);
      expect(() => fresh.decompress('snappy', Buffer.from('x'))).toThrow(/"snappy"/);
      await expect(fresh.prepareCompression('snappy')).rejects.toMatchObject({ code: 'UNSUPPORTED_COMPRESSION_TYPE' });
      await expect(fresh.prepareCompression('zstd')).rejects.toThrow(/"@bokuweb\/zstd-wasm"/);
      expect(() => fresh.compress('zstd', Buffer.from('x'))).toThrow(/"@bokuweb\/zstd-wasm"/);
      expect(fresh.isCompressionAvailable('snappy')).toBe(false);
      expect(fresh.isCompressionAvailable('zstd')).toBe(false);
      // Other codecs, and zstd decoding (a separate pure-JS library), are unaffected.
      expect(fresh.decompress('zstd', zstdFrame).toString()).toBe('still readable');
      expect(fresh.decompress('lz4', fresh.compress('lz4', Buffer.from('lz'))).toString()).toBe('lz');
      expect(fresh.decompress('gzip', fresh.compress('gzip', Buffer.from('gz'))).toString()).toBe('gz');
    } finally {
      restore();
    }
  });

  it('zstd compression needs prepareCompression first, and says so', async () => {
    const { mod: fresh, restore } = await freshModule([]);
    try {
      expect(fresh.isCompressionAvailable('zstd')).toBe(false);
      expect(codeOf(() => fresh.compress('zstd', Buffer.from('x')))).toBe('UNSUPPORTED_COMPRESSION_TYPE');
      expect(() => fresh.compress('zstd', Buffer.from('x'))).toThrow(/prepareCompression\('zstd'\)/);
      await Promise.all([fresh.prepareCompression('zstd'), fresh.prepareCompression('zstd')]);
      expect(fresh.isCompressionAvailable('zstd')).toBe(true);
      expect(fresh.decompress('zstd', fresh.compress('zstd', Buffer.from('ready'))).toString()).toBe('ready');
    } finally {
      restore();
    }
  });
});
