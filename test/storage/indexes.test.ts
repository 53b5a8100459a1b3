import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OffsetIndex } from '../../src/storage/offset-index.js';
import { assignOffsets, lastOffset, maxTimestamp } from '../../src/storage/record-batch.js';
import { LogSegment, type SegmentAppend } from '../../src/storage/segment.js';
import { TimeIndex } from '../../src/storage/time-index.js';
import { buildBatch, io, makeTempDir, prng, removeDir } from './helpers.js';

let dir: string;
beforeEach(() => {
  dir = makeTempDir();
});
afterEach(() => removeDir(dir));

function bruteOffsetLookup(entries: [number, number][], base: number, target: number): { offset: number; position: number } {
  let best = { offset: base, position: 0 };
  for (const [offset, position] of entries) if (offset <= target) best = { offset, position };
  return best;
}

function bruteTimeLookup(entries: [number, number][], base: number, target: number): { timestamp: number; offset: number } {
  let best = { timestamp: -1, offset: base };
  for (const [timestamp, offset] of entries) if (timestamp <= target) best = { timestamp, offset };
  return best;
}

describe('offset index', () => {
  it('lookups match a brute-force scan on random data, in memory and after reload', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const rand = prng(seed);
      const base = rand.int(1_000_000);
      const file = path.join(dir, `${seed}.index`);
      const index = new OffsetIndex(file, base, 10 * 1024 * 1024, { create: true });
      const entries: [number, number][] = [];
      let offset = base;
      let position = 0;
      const n = 1 + rand.int(2000);
      for (let i = 0; i < n; i++) {
        offset += 1 + rand.int(100);
        position += rand.int(5000);
        index.append(offset, position);
        entries.push([offset, position]);
        if (rand.int(10) === 0) index.flush(); // files are written in pieces, as a live segment does
      }
      index.flush();
      expect(fs.statSync(file).size).toBe(n * 8);
      const reloaded = new OffsetIndex(file, base, 10 * 1024 * 1024, { create: false });
      expect(reloaded.load()).toBeNull();
      expect(reloaded.entries).toBe(n);
      for (let q = 0; q < 500; q++) {
        const target = base - 5 + rand.int(offset - base + 200);
        const expected = bruteOffsetLookup(entries, base, target);
        expect(index.lookup(target)).toEqual(expected);
        expect(reloaded.lookup(target)).toEqual(expected);
      }
      expect(reloaded.lastEntry()).toEqual({ offset, position });
    }
  });

  it('stores Kafka’s format: int32 relative offset, int32 position, big-endian', () => {
    const file = path.join(dir, 'f.index');
    const index = new OffsetIndex(file, 100, 1024, { create: true });
    index.append(103, 0x01020304);
    index.flush();
    expect(fs.readFileSync(file).toString('hex')).toBe('0000000301020304');
  });

  it('refuses offsets that do not increase, and counts as full at segment.index.bytes', () => {
    const index = new OffsetIndex(path.join(dir, 'f.index'), 0, 8 * 3 + 5, { create: true });
    index.append(10, 0);
    expect(() => index.append(10, 5)).toThrow(RangeError);
    expect(() => index.append(9, 5)).toThrow(RangeError);
    index.append(11, 5);
    expect(index.isFull).toBe(false);
    index.append(12, 9);
    expect(index.isFull).toBe(true);
  });

  it('drops a torn trailing entry on load and rejects out-of-order files', () => {
    const file = path.join(dir, 'f.index');
    const index = new OffsetIndex(file, 0, 1024, { create: true });
    index.append(5, 100);
    index.append(9, 200);
    index.flush();
    fs.appendFileSync(file, Buffer.from([0, 0, 0]));
    const reloaded = new OffsetIndex(file, 0, 1024, { create: false });
    expect(reloaded.load()).toBeNull();
    expect(reloaded.entries).toBe(2);
    expect(fs.statSync(file).size).toBe(16);

    fs.writeFileSync(file, Buffer.from('0000000900000010' + '0000000500000020', 'hex'));
    expect(new OffsetIndex(file, 0, 1024, { create: false }).load()).toMatch(/does not increase/);
    const beyond = new OffsetIndex(file, 0, 1024, { create: false });
    fs.writeFileSync(file, Buffer.from('0000000500000400', 'hex'));
    beyond.logSize = 100;
    expect(beyond.load()).toMatch(/beyond/);
  });
});

describe('time index', () => {
  it('lookups match a brute-force scan, only rising timestamps are kept, reload is identical', () => {
    for (const seed of [11, 12, 13]) {
      const rand = prng(seed);
      const base = rand.int(1000);
      const file = path.join(dir, `${seed}.timeindex`);
      const index = new TimeIndex(file, base, 10 * 1024 * 1024, { create: true });
      const entries: [number, number][] = [];
      let ts = 1_700_000_000_000;
      let offset = base;
      for (let i = 0; i < 1000; i++) {
        ts += rand.int(3) === 0 ? 0 : rand.int(1000); // repeats must be skipped
        offset += rand.int(50);
        const last = entries[entries.length - 1];
        index.maybeAppend(ts, offset);
        if (!last || ts > last[0]) entries.push([ts, offset]);
      }
      index.flush();
      expect(index.entries).toBe(entries.length);
      const reloaded = new TimeIndex(file, base, 10 * 1024 * 1024, { create: false });
      expect(reloaded.load()).toBeNull();
      for (let q = 0; q < 500; q++) {
        const target = 1_700_000_000_000 - 100 + rand.int(ts - 1_700_000_000_000 + 200);
        const expected = bruteTimeLookup(entries, base, target);
        expect(index.lookup(target)).toEqual(expected);
        expect(reloaded.lookup(target)).toEqual(expected);
      }
    }
  });

  it('stores Kafka’s format: int64 timestamp, int32 relative offset, big-endian', () => {
    const file = path.join(dir, 'f.timeindex');
    const index = new TimeIndex(file, 10, 1024, { create: true });
    index.maybeAppend(0x0102030405, 12);
    index.flush();
    expect(fs.readFileSync(file).toString('hex')).toBe('0000000102030405' + '00000002');
  });

  it('answers (NO_TIMESTAMP, baseOffset) below the first entry', () => {
    const index = new TimeIndex(path.join(dir, 'f.timeindex'), 50, 1024, { create: true });
    index.maybeAppend(1000, 60);
    expect(index.lookup(999)).toEqual({ timestamp: -1, offset: 50 });
    expect(index.lookup(1000)).toEqual({ timestamp: 1000, offset: 60 });
  });
});

describe("Kafka's sparse index rule in a segment", () => {
  function stamped(base: number, values: number[], ts: number): SegmentAppend {
    const buffer = buildBatch(values.map((size, i) => ({ value: Buffer.alloc(size), timestamp: ts + i })));
    assignOffsets(buffer, 0, base, 0);
    return {
      buffer,
      lastOffset: lastOffset(buffer, 0),
      maxTimestamp: maxTimestamp(buffer, 0),
      offsetOfMaxTimestamp: lastOffset(buffer, 0),
      firstBatchMaxTimestamp: maxTimestamp(buffer, 0),
    };
  }

  it('indexes the last offset of an append at its start position once > index.interval.bytes went by', async () => {
    const rand = prng(99);
    const interval = 500;
    const segment = LogSegment.create(dir, 1000, io, { indexIntervalBytes: interval, maxIndexSize: 1 << 20 });
    const expected: [number, number][] = [];
    let bytesSince = 0;
    let position = 0;
    let offset = 1000;
    for (let i = 0; i < 300; i++) {
      const a = stamped(offset, Array.from({ length: 1 + rand.int(3) }, () => rand.int(200)), 1_000_000 + i * 10);
      if (bytesSince > interval) {
        expected.push([a.lastOffset, position]);
        bytesSince = 0;
      }
      bytesSince += a.buffer.length;
      position += a.buffer.length;
      offset = a.lastOffset + 1;
      segment.append([a]);
    }
    const got: [number, number][] = [];
    for (let i = 0; i < segment.offsetIndex.entries; i++) {
      const e = segment.offsetIndex.entry(i);
      got.push([e.offset, e.position]);
    }
    expect(got).toEqual(expected);
    expect(got.length).toBeGreaterThan(10);
    // The first append is never indexed.
    expect(got[0]![1]).toBeGreaterThan(0);
    // Time index entries sit at the same offsets (timestamps rise with every append here).
    expect(segment.timeIndex.entries).toBe(got.length);
    for (let i = 0; i < got.length; i++) expect(segment.timeIndex.entry(i).offset).toBe(got[i]![0]);
    expect(segment.size).toBe(position);
    expect(fs.statSync(segment.logPath).size).toBe(position);
    await segment.close();
  });

  it('a full offset index makes shouldRoll true', async () => {
    const segment = LogSegment.create(dir, 0, io, { indexIntervalBytes: 0, maxIndexSize: 8 * 2 });
    const params = { segmentBytes: 1 << 30, segmentMs: Number.MAX_SAFE_INTEGER, now: Date.now() };
    let offset = 0;
    const next = (): SegmentAppend => {
      const a = stamped(offset, [10], 5_000_000 + offset);
      offset = a.lastOffset + 1;
      return a;
    };
    const a1 = next();
    expect(segment.shouldRoll(segment.planState(), a1, params)).toBe(false);
    segment.append([a1]);
    segment.append([next()]);
    segment.append([next()]);
    expect(segment.offsetIndex.entries).toBe(2);
    expect(segment.shouldRoll(segment.planState(), next(), params)).toBe(true);
    await segment.close();
  });
});
