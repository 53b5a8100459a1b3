import { describe, expect, it } from 'vitest';
import type { FileRegion } from '../../src/io/types.js';
import { ProtocolError, Reader } from '../../src/protocol/reader.js';
import { Writer, sendPartsLength } from '../../src/protocol/writer.js';
import { hex } from './util.js';

const bytesOf = (fn: (w: Writer) => void): string => {
  const w = new Writer(16);
  fn(w);
  return w.toBuffer().toString('hex');
};

function protocolError(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return err as ProtocolError;
  }
  throw new Error('expected a ProtocolError');
}

describe('varints', () => {
  it.each([
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '8001'],
    [300, 'ac02'],
    [16384, '808001'],
    [0xffffffff, 'ffffffff0f'],
  ])('uvarint %i = %s', (v, h) => {
    expect(bytesOf((w) => w.uvarint(v))).toBe(h);
    expect(new Reader(hex(h)).uvarint()).toBe(v);
  });

  it.each([
    [0, '00'],
    [-1, '01'],
    [1, '02'],
    [-2, '03'],
    [63, '7e'],
    [-64, '7f'],
    [2147483647, 'feffffff0f'],
    [-2147483648, 'ffffffff0f'],
  ])('varint %i = %s (zigzag)', (v, h) => {
    expect(bytesOf((w) => w.varint(v))).toBe(h);
    expect(new Reader(hex(h)).varint()).toBe(v);
  });

  it.each([0, -1, 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 40 + 3, -(2 ** 52), 2 ** 52 - 1])('varlong %i round-trips', (v) => {
    const w = new Writer();
    w.varlong(v).uvarlong(Math.abs(v));
    const r = new Reader(w.toBuffer());
    expect(r.varlong()).toBe(v);
    expect(r.uvarlong()).toBe(Math.abs(v));
    expect(r.remaining).toBe(0);
  });

  it('varlong -1 is 01 and 2^40 (zigzag 2^41) is 808080808040', () => {
    expect(bytesOf((w) => w.varlong(-1))).toBe('01');
    expect(bytesOf((w) => w.varlong(2 ** 40))).toBe('808080808040');
  });

  it('rejects varints that are too long or truncated', () => {
    expect(protocolError(() => new Reader(hex('ffffffffff01')).uvarint('x')).message).toMatch(/x: unsigned varint longer than 5 bytes at offset 0/);
    expect(protocolError(() => new Reader(hex('ff')).uvarint()).message).toMatch(/truncated/);
    protocolError(() => new Reader(hex('ffffffffffffffffffff01')).uvarlong());
    protocolError(() => new Reader(hex('ffffffff1f')).varint());
  });
});

describe('fixed-width integers', () => {
  it('int64 is exact within 2^53 and negative values use two’s complement', () => {
    expect(bytesOf((w) => w.int64(-1))).toBe('ffffffffffffffff');
    expect(bytesOf((w) => w.int64(-2))).toBe('fffffffffffffffe');
    expect(bytesOf((w) => w.int64(2 ** 32))).toBe('0000000100000000');
    expect(bytesOf((w) => w.int64(Number.MAX_SAFE_INTEGER))).toBe('001fffffffffffff');
    expect(bytesOf((w) => w.int64(Number.MIN_SAFE_INTEGER))).toBe('ffe0000000000001');
    for (const v of [0, -1, 1, -(2 ** 40) - 12345, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, -(2 ** 32), 2 ** 32 - 1]) {
      expect(new Reader(new Writer().int64(v).toBuffer()).int64()).toBe(v);
    }
  });

  it('Long.MAX_VALUE and Long.MIN_VALUE survive decode → encode', () => {
    for (const h of ['7fffffffffffffff', '8000000000000000']) {
      const v = new Reader(hex(h)).int64();
      expect(bytesOf((w) => w.int64(v))).toBe(h);
    }
    expect(() => new Writer().int64(1.5)).toThrow(ProtocolError);
  });

  it('reads every width big-endian and bounds-checks each', () => {
    const r = new Reader(hex('ff 7fff ffff 80000000 ffffffff 3ff0000000000000 01 00'));
    expect([r.int8(), r.int16(), r.uint16(), r.int32(), r.uint32(), r.float64(), r.bool(), r.bool()]).toEqual([
      -1, 32767, 65535, -2147483648, 4294967295, 1, true, false,
    ]);
    expect(protocolError(() => r.int8('tail')).message).toBe('tail: int8 needs 1 byte(s), only 0 remain at offset 23');
    for (const read of ['int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'uuid'] as const) {
      protocolError(() => new Reader(hex('00'))[read]());
    }
  });
});

describe('strings and bytes', () => {
  it('STRING counts UTF-8 bytes, not characters', () => {
    expect(bytesOf((w) => w.string('é☃'))).toBe('0005c3a9e29883');
    expect(new Reader(hex('0005c3a9e29883')).string()).toBe('é☃');
    expect(bytesOf((w) => w.nullableString(null))).toBe('ffff');
    expect(new Reader(hex('ffff')).nullableString()).toBeNull();
    expect(bytesOf((w) => w.compactString('é☃'))).toBe('06c3a9e29883');
    expect(bytesOf((w) => w.compactNullableString(null))).toBe('00');
    expect(new Reader(hex('00')).compactNullableString()).toBeNull();
    expect(new Reader(hex('06c3a9e29883')).compactString()).toBe('é☃');
  });

  it('rejects nulls and lengths that are not allowed', () => {
    expect(protocolError(() => new Reader(hex('ffff')).string('name')).message).toMatch(/name: non-nullable string has length -1 at offset 0/);
    protocolError(() => new Reader(hex('fffe')).nullableString());
    protocolError(() => new Reader(hex('00')).compactString());
    protocolError(() => new Reader(hex('0005 6162')).string());
    protocolError(() => new Reader(hex('ffffffff')).bytes());
    protocolError(() => new Reader(hex('fffffffe')).nullableBytes());
    protocolError(() => new Reader(hex('00')).compactBytes());
    protocolError(() => new Reader(hex('7fffffff 00')).bytes());
    expect(() => new Writer().string(null as unknown as string, 'x')).toThrow(ProtocolError);
    expect(() => new Writer().string('a'.repeat(0x8000))).toThrow(/exceeds 32767/);
    expect(() => new Writer().compactString('é'.repeat(0x4000))).toThrow(/exceeds 32767/);
    expect(() => new Writer().bytes(null as unknown as Buffer)).toThrow(ProtocolError);
  });

  it('returns byte fields as views of the input, not copies', () => {
    const buf = hex('00000003 616263 04 78797a 0002 abcd');
    const r = new Reader(buf);
    const a = r.bytes();
    const b = r.compactBytes();
    expect(a.toString()).toBe('abc');
    expect(b.toString()).toBe('xyz');
    expect(a.buffer).toBe(buf.buffer);
    expect(b.byteOffset).toBe(buf.byteOffset + 8);
    expect(r.raw(2).buffer).toBe(buf.buffer);
  });
});

describe('arrays and tagged fields', () => {
  it('rejects counts larger than the remaining bytes before allocating', () => {
    expect(protocolError(() => new Reader(hex('7fffffff 00')).arrayLength('topics')).message).toMatch(/topics: array of 2147483647 elements but only 1 bytes remain/);
    protocolError(() => new Reader(hex('fffffffe')).arrayLength());
    expect(new Reader(hex('ffffffff')).arrayLength()).toBe(-1);
    expect(new Reader(hex('00')).compactArrayLength()).toBe(-1);
    protocolError(() => new Reader(hex('ffffffff0f')).compactArrayLength());
    expect(new Reader(hex('03 0000')).compactArrayLength()).toBe(2);
  });

  it('skips unknown tagged fields and bounds-checks their sizes', () => {
    const r = new Reader(hex('02 05 02 abcd 0a 00 ee'));
    r.skipTaggedFields();
    expect(r.int8()).toBe(-18);
    protocolError(() => new Reader(hex('01 05 09 abcd')).skipTaggedFields());
    const t = new Reader(hex('0000000000'));
    const end = t.taggedFieldEnd(2);
    t.int32();
    protocolError(() => t.endTaggedField(end));
  });
});

describe('Writer', () => {
  it('grows by doubling and keeps earlier bytes', () => {
    const w = new Writer(16);
    for (let i = 0; i < 1000; i++) w.int32(i).string(`s${i}`);
    const r = new Reader(w.toBuffer());
    for (let i = 0; i < 1000; i++) {
      expect(r.int32()).toBe(i);
      expect(r.string()).toBe(`s${i}`);
    }
    expect(r.remaining).toBe(0);
  });

  it('keeps file regions and large record buffers as their own parts, and frames count their bytes', () => {
    const region: FileRegion = { fd: 99, position: 4096, length: 1000 };
    const big = Buffer.alloc(5000, 1);
    const w = new Writer(8);
    const mark = w.beginFrame();
    w.int32(7).records(region).int16(1).records([region, big]).compactRecords(hex('aabb')).records(null).compactRecords(null);
    w.endFrame(mark);
    const parts = w.finish();
    expect(parts.map((p) => (Buffer.isBuffer(p) ? `buf${p.length}` : `region${p.length}`))).toEqual([
      'buf12', // size, int32, records length
      'region1000',
      'buf6', // int16, records length
      'region1000',
      'buf5000',
      'buf8', // compact length + 2 bytes, int32 -1, uvarint 0
    ]);
    expect(parts[1]).toBe(region);
    expect(parts[4]).toBe(big);
    const total = sendPartsLength(parts);
    expect((parts[0] as Buffer).readInt32BE(0)).toBe(total - 4);
    expect((parts[0] as Buffer).readInt32BE(8)).toBe(1000);
    expect((parts[2] as Buffer).readInt32BE(2)).toBe(6000);
    expect((parts[5] as Buffer).toString('hex')).toBe('03aabb' + 'ffffffff' + '00');
  });

  it('patches a frame size that lies in an earlier part', () => {
    const w = new Writer(8);
    const mark = w.beginFrame();
    w.records({ fd: 1, position: 0, length: 10 });
    for (let i = 0; i < 100; i++) w.int64(i); // forces growth after the region
    w.endFrame(mark);
    const parts = w.finish();
    expect((parts[0] as Buffer).readInt32BE(0)).toBe(sendPartsLength(parts) - 4);
    expect(() => {
      const x = new Writer();
      x.records({ fd: 1, position: 0, length: 1 });
      x.toBuffer();
    }).toThrow(/file regions/);
  });

  it('copies small record buffers into the chunk', () => {
    const w = new Writer();
    w.records(hex('0102'));
    expect(w.finish()).toHaveLength(1);
  });
});
