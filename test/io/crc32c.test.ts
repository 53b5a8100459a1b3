import { describe, expect, it } from 'vitest';
import { crc32cJs } from '../../src/io/crc32c.js';
import { loadAddon } from '../../src/io/native.js';
import { defaultIo } from '../../src/io/select.js';
import { patternBytes } from './helpers.js';

const ascending = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const descending = Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i));

// RFC 3720 (iSCSI) appendix B.4 and the catalogue's check value.
const VECTORS: Array<[string, Buffer, number]> = [
  ['empty', Buffer.alloc(0), 0],
  ['"123456789"', Buffer.from('123456789'), 0xe3069283],
  ['32 zero bytes', Buffer.alloc(32, 0), 0x8a9136aa],
  ['32 0xff bytes', Buffer.alloc(32, 0xff), 0x62a8ab43],
  ['32 ascending bytes', ascending, 0x46dd794e],
  ['32 descending bytes', descending, 0x113fdb5c],
];

describe('crc32c', () => {
  const io = defaultIo();

  for (const [name, input, expected] of VECTORS) {
    it(`${io.kind}: ${name}`, () => {
      expect(io.crc32c(input)).toBe(expected);
      expect(crc32cJs(input)).toBe(expected);
    });
  }

  it(`${io.kind}: honours start/end and Uint8Array views`, () => {
    const buf = patternBytes(5000);
    expect(io.crc32c(buf, 17, 4099)).toBe(crc32cJs(buf.subarray(17, 4099)));
    const view = new Uint8Array(buf.buffer, buf.byteOffset + 3, 1000);
    expect(io.crc32c(view)).toBe(crc32cJs(buf.subarray(3, 1003)));
    expect(io.crc32c(buf, 100, 100)).toBe(0);
  });

  it(`${io.kind}: refuses ranges outside the buffer`, () => {
    const buf = Buffer.alloc(10);
    expect(() => io.crc32c(buf, 0, 11)).toThrow(RangeError);
    expect(() => io.crc32c(buf, 6, 5)).toThrow(RangeError);
  });

  it('native and fallback agree on random sizes and offsets', () => {
    const native = loadAddon().binding;
    const data = patternBytes(110_000, 7);
    let seed = 12345;
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    // Sizes around the native code's block boundaries (8, 3*256, 3*8192) and random ones.
    const sizes = [0, 1, 7, 8, 9, 767, 768, 769, 24575, 24576, 24577, 49160, 100_000];
    for (let i = 0; i < 300; i++) sizes.push(next(100_001));
    for (const size of sizes) {
      const start = next(data.length - size + 1);
      const end = start + size;
      expect(native.crc32c(data, start, end), `size ${size} at ${start}`).toBe(crc32cJs(data, start, end));
    }
  });
});
