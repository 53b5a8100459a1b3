import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Io } from '../../src/io/types.js';
import { ErrorCode, KafkaError } from '../../src/protocol/error-codes.js';
import { PartitionLog, type PartitionLogOptions } from '../../src/storage/partition-log.js';
import { hasValidCrc, readBatchHeader } from '../../src/storage/record-batch.js';
import { buildBatch, io, makeTempDir, parseBatches, prng, readRegion, removeDir, topicConfig, type TestRecord } from './helpers.js';

let dir: string;
const logs: PartitionLog[] = [];
beforeEach(() => {
  dir = makeTempDir();
});
afterEach(async () => {
  await Promise.allSettled(logs.splice(0).map((l) => l.close()));
  removeDir(dir);
});

function open(overrides: Record<string, string | number> = {}, extra: Partial<PartitionLogOptions> = {}): PartitionLog {
  const log = PartitionLog.open({ topic: 't', partition: 0, dir: path.join(dir, 't-0'), config: topicConfig(overrides), io, ...extra });
  logs.push(log);
  return log;
}

async function expectKafkaError(promise: Promise<unknown> | (() => unknown), code: number): Promise<void> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    expect(err).toBeInstanceOf(KafkaError);
    expect((err as KafkaError).errorCode).toBe(code);
    return;
  }
  throw new Error(`expected KafkaError ${code}`);
}

interface Generated {
  buffer: Buffer;
  timestamps: number[];
}

/** Random batches with per-record timestamps that wander (not monotonic), as real producers' can. */
function generate(seed: number, n: number, maxValue = 200): Generated[] {
  const rand = prng(seed);
  let clock = 1_700_000_000_000;
  const out: Generated[] = [];
  for (let i = 0; i < n; i++) {
    const count = 1 + rand.int(4);
    const records: TestRecord[] = [];
    const timestamps: number[] = [];
    for (let j = 0; j < count; j++) {
      clock += rand.int(40);
      const ts = clock - rand.int(60);
      timestamps.push(ts);
      const value = Buffer.alloc(rand.int(maxValue));
      for (let k = 0; k < value.length; k++) value[k] = rand.int(256);
      records.push({ key: `key-${i}-${j}`, value, timestamp: ts, headers: j % 2 ? [['h', `v${j}`]] : [] });
    }
    out.push({ buffer: buildBatch(records), timestamps });
  }
  return out;
}

/** Everything from offset 0 to the log end, read segment by segment as a consumer would. */
function readAll(log: PartitionLog, from = log.logStartOffset): Buffer {
  const parts: Buffer[] = [];
  let offset = from;
  while (offset < log.highWatermark) {
    const r = log.read(offset, 1 << 20, true);
    expect(r.region).not.toBeNull();
    const bytes = readRegion(r.region!);
    r.release();
    const batches = parseBatches(bytes);
    expect(batches.length).toBeGreaterThan(0);
    parts.push(bytes.subarray(0, batches[batches.length - 1]!.position + batches[batches.length - 1]!.size));
    offset = batches[batches.length - 1]!.lastOffset + 1;
  }
  return Buffer.concat(parts);
}

describe('PartitionLog append and read', () => {
  it('round-trips byte-exact across many small segments with contiguous offsets', async () => {
    const log = open({ 'segment.bytes': 4096, 'index.interval.bytes': 256 });
    const data = generate(1, 400);
    const results = [];
    // Mixed pacing: some appends share a turn (group commit), some are awaited one by one.
    for (let i = 0; i < data.length; ) {
      const n = 1 + (i % 7);
      const group = data.slice(i, i + n).map((g) => log.append(g.buffer));
      results.push(...(await Promise.all(group)));
      i += n;
    }
    expect(log.segmentCount).toBeGreaterThan(15);
    let expected = 0;
    results.forEach((r, i) => {
      expect(r.baseOffset).toBe(expected);
      expect(r.lastOffset).toBe(expected + data[i]!.timestamps.length - 1);
      expect(r.logAppendTime).toBe(-1);
      expected = r.lastOffset + 1;
    });
    expect(log.logEndOffset).toBe(expected);
    expect(log.highWatermark).toBe(expected);
    // The appended buffers were stamped in place: they are exactly the stored bytes.
    const all = Buffer.concat(data.map((g) => g.buffer));
    expect(readAll(log).equals(all)).toBe(true);
    expect(log.size).toBe(all.length);
    for (const segment of log.segments) {
      expect(segment.size).toBeLessThanOrEqual(4096);
      expect(fs.statSync(segment.logPath).size).toBe(segment.size);
    }

    // Random reads start at the batch holding the offset and never cross a segment.
    const rand = prng(7);
    const starts = parseBatches(all);
    for (let q = 0; q < 300; q++) {
      const offset = rand.int(log.logEndOffset);
      const r = log.read(offset, 1 << 20, false);
      const bytes = readRegion(r.region!);
      r.release();
      const first = parseBatches(bytes)[0]!;
      expect(first.baseOffset).toBeLessThanOrEqual(offset);
      expect(first.lastOffset).toBeGreaterThanOrEqual(offset);
      const at = starts.find((b) => b.baseOffset === first.baseOffset)!;
      expect(bytes.equals(all.subarray(at.position, at.position + bytes.length))).toBe(true);
      const segment = log.segments.find((s) => s.baseOffset <= offset && s === log.segments.filter((x) => x.baseOffset <= offset).pop())!;
      expect(r.region!.position + r.region!.length).toBeLessThanOrEqual(segment.size);
    }
  });

  it('bounds reads by maxBytes, honours minOneBatch, and answers null at the high watermark', async () => {
    const log = open();
    const data = generate(2, 20, 500);
    for (const g of data) await log.append(g.buffer);
    const first = data[0]!.buffer.length;

    const small = log.read(0, 10, false);
    expect(small.region!.length).toBe(10); // Kafka slices by size, even inside a batch
    small.release();
    const one = log.read(0, 10, true);
    expect(one.region!.length).toBe(first);
    one.release();
    const big = log.read(0, first + 5, true);
    expect(big.region!.length).toBe(first + 5);
    big.release();
    const zero = log.read(0, 0, false);
    expect(zero.region).toBeNull();
    zero.release();
    const everything = log.read(0, 1 << 30, false);
    expect(everything.region!.length).toBe(log.size);
    everything.release();

    const end = log.read(log.highWatermark, 1000, true);
    expect(end.region).toBeNull();
    expect(end.highWatermark).toBe(log.logEndOffset);
    expect(end.logStartOffset).toBe(0);
    end.release();
  });

  it('throws OFFSET_OUT_OF_RANGE outside [logStartOffset, logEndOffset]', async () => {
    const log = open();
    await log.append(buildBatch([{ value: 'a' }, { value: 'b' }]));
    await expectKafkaError(() => log.read(3, 100, true), ErrorCode.OFFSET_OUT_OF_RANGE);
    await expectKafkaError(() => log.read(-1, 100, true), ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(log.read(2, 100, true).region).toBeNull();
  });

  it('offsetForTimestamp matches a brute-force search over every record', async () => {
    const log = open({ 'segment.bytes': 3000, 'index.interval.bytes': 200 });
    const data = generate(3, 300);
    const records: { offset: number; ts: number }[] = [];
    for (const g of data) {
      const r = await log.append(g.buffer);
      g.timestamps.forEach((ts, i) => records.push({ offset: r.baseOffset + i, ts }));
    }
    expect(log.segmentCount).toBeGreaterThan(10);
    const rand = prng(4);
    const lo = Math.min(...records.map((r) => r.ts));
    const hi = Math.max(...records.map((r) => r.ts));
    for (let q = 0; q < 400; q++) {
      const target = lo - 50 + rand.int(hi - lo + 100);
      const hit = records.find((r) => r.ts >= target);
      expect(log.offsetForTimestamp(target)).toEqual(hit ? { offset: hit.offset, timestamp: hit.ts } : null);
    }
    expect(log.offsetForTimestamp(hi + 1)).toBeNull();
  });

  it('stamps LogAppendTime topics and returns the append time', async () => {
    const log = open({ 'message.timestamp.type': 'LogAppendTime' });
    const before = Date.now();
    const batch = buildBatch([{ value: 'x', timestamp: 5 }]);
    const r = await log.append(batch);
    expect(r.logAppendTime).toBeGreaterThanOrEqual(before);
    const read = log.read(0, 1000, true);
    const bytes = readRegion(read.region!);
    read.release();
    const h = readBatchHeader(bytes, 0);
    expect(h.attributes & 0x08).toBe(0x08);
    expect(h.maxTimestamp).toBe(r.logAppendTime);
    expect(hasValidCrc(bytes, 0, bytes.length, io)).toBe(true);
  });

  it('rejects bad input and appends nothing of it', async () => {
    const log = open({ 'segment.bytes': 2000, 'max.message.bytes': 1500 });
    await log.append(buildBatch([{ value: 'first' }]));
    const size = log.size;
    const corrupt = buildBatch([{ value: 'x' }]);
    corrupt[corrupt.length - 1]! ^= 0xff;
    await expectKafkaError(log.append(Buffer.concat([buildBatch([{ value: 'ok' }]), corrupt])), ErrorCode.CORRUPT_MESSAGE);
    await expectKafkaError(log.append(buildBatch([{ value: Buffer.alloc(1600) }])), ErrorCode.MESSAGE_TOO_LARGE);
    const twoBig = Buffer.concat([buildBatch([{ value: Buffer.alloc(1200) }]), buildBatch([{ value: Buffer.alloc(1200) }])]);
    await expectKafkaError(log.append(twoBig), ErrorCode.RECORD_LIST_TOO_LARGE);
    await expectKafkaError(log.append(buildBatch([{ value: 'x' }], { attributes: 0x20 })), ErrorCode.INVALID_RECORD);
    expect(log.logEndOffset).toBe(1);
    expect(log.size).toBe(size);
    const next = await log.append(buildBatch([{ value: 'second' }]));
    expect(next.baseOffset).toBe(1);
  });

  it('stores several batches of one append under consecutive offsets', async () => {
    const log = open();
    const a = buildBatch([{ value: '1' }, { value: '2' }]);
    const b = buildBatch([{ value: '3' }]);
    const r = await log.append(Buffer.concat([a, b]));
    expect(r).toMatchObject({ baseOffset: 0, lastOffset: 2 });
    const read = log.read(2, 1000, true);
    const batches = parseBatches(readRegion(read.region!));
    read.release();
    expect(batches.map((x) => [x.baseOffset, x.lastOffset])).toEqual([[2, 2]]);
  });

  it('rolls by segment.ms from the first batch’s timestamp', async () => {
    const log = open({ 'segment.ms': 1000 });
    await log.append(buildBatch([{ value: 'a', timestamp: 10_000 }]));
    await log.append(buildBatch([{ value: 'b', timestamp: 10_900 }]));
    expect(log.segmentCount).toBe(1);
    await log.append(buildBatch([{ value: 'c', timestamp: 11_001 }]));
    expect(log.segmentCount).toBe(2);
    expect(log.segments[1]!.baseOffset).toBe(2);
  });

  it('calls append listeners after the high watermark moved', async () => {
    const log = open();
    const seen: number[] = [];
    const off = log.onAppend(() => {
      seen.push(log.highWatermark);
      const r = log.read(log.highWatermark - 1, 1000, true);
      expect(r.region).not.toBeNull();
      r.release();
    });
    await log.append(buildBatch([{ value: 'a' }]));
    await Promise.all([log.append(buildBatch([{ value: 'b' }])), log.append(buildBatch([{ value: 'c' }]))]);
    off();
    await log.append(buildBatch([{ value: 'd' }]));
    expect(seen).toEqual([1, 3]);
  });

  it('closes: later appends are refused, data stays', async () => {
    const log = open();
    await log.append(buildBatch([{ value: 'a' }]));
    await log.close();
    await expectKafkaError(log.append(buildBatch([{ value: 'b' }])), ErrorCode.NOT_LEADER_OR_FOLLOWER);
    const again = open();
    expect(again.logEndOffset).toBe(1);
  });
});

/** An Io that counts calls and can be told to fail the next appendv after writing part of it. */
function spyIo(): Io & { appendvCalls: number; datasyncCalls: number; failNextAppend: string | null } {
  const spy = {
    ...io,
    appendvCalls: 0,
    datasyncCalls: 0,
    failNextAppend: null as string | null,
    appendv(fd: number, buffers: readonly Buffer[]): number {
      spy.appendvCalls++;
      if (spy.failNextAppend) {
        const code = spy.failNextAppend;
        spy.failNextAppend = null;
        // A torn write: half of the first buffer reaches the file before the disk fills up.
        io.appendv(fd, [buffers[0]!.subarray(0, buffers[0]!.length >> 1)]);
        throw Object.assign(new Error(`${code}: no space left on device, write`), { code, syscall: 'write' });
      }
      return io.appendv(fd, buffers);
    },
    datasync(fd: number): Promise<void> {
      spy.datasyncCalls++;
      return io.datasync(fd);
    },
  };
  return spy;
}

describe('group commit', () => {
  it('writes everything appended in one turn with one appendv, offsets in arrival order', async () => {
    const spy = spyIo();
    const log = open({}, { io: spy });
    const data = generate(5, 50);
    const promises = data.map((g) => log.append(g.buffer));
    expect(spy.appendvCalls).toBe(0); // nothing is written before the turn ends
    expect(log.highWatermark).toBe(0);
    expect(log.read(0, 1 << 20, true).region).toBeNull(); // queued bytes are invisible to readers
    await expectKafkaError(() => log.read(1, 1 << 20, true), ErrorCode.OFFSET_OUT_OF_RANGE);
    const results = await Promise.all(promises);
    expect(spy.appendvCalls).toBe(1);
    let next = 0;
    results.forEach((r, i) => {
      expect(r.baseOffset).toBe(next);
      next += data[i]!.timestamps.length;
    });
    expect(readAll(log).equals(Buffer.concat(data.map((g) => g.buffer)))).toBe(true);
  });

  it('batches appends from separate callbacks of the same loop phase (as two sockets’ data events are)', async () => {
    const spy = spyIo();
    const log = open({}, { io: spy });
    const data = generate(15, 6);
    const promises: Promise<unknown>[] = [];
    await new Promise<void>((resolve) => {
      // Three callbacks in one check phase; microtasks run between them, so only a flush deferred to
      // the next loop turn sees all three.
      setImmediate(() => promises.push(log.append(data[0]!.buffer), log.append(data[1]!.buffer)));
      setImmediate(() => promises.push(log.append(data[2]!.buffer), log.append(data[3]!.buffer)));
      setImmediate(() => {
        promises.push(log.append(data[4]!.buffer), log.append(data[5]!.buffer));
        resolve();
      });
    });
    await Promise.all(promises);
    expect(spy.appendvCalls).toBe(1);
    expect(readAll(log).equals(Buffer.concat(data.map((g) => g.buffer)))).toBe(true);
  });

  it('uses one appendv per segment when the turn crosses rolls', async () => {
    const spy = spyIo();
    const log = open({ 'segment.bytes': 2000 }, { io: spy });
    const data = generate(6, 60);
    await Promise.all(data.map((g) => log.append(g.buffer)));
    expect(log.segmentCount).toBeGreaterThan(3);
    expect(spy.appendvCalls).toBe(log.segmentCount);
    expect(readAll(log).equals(Buffer.concat(data.map((g) => g.buffer)))).toBe(true);
  });

  it('with flush.messages=1, one datasync per turn before any append resolves', async () => {
    const spy = spyIo();
    const log = open({ 'flush.messages': 1 }, { io: spy });
    const data = generate(7, 30);
    let resolvedBeforeSync = false;
    const promises = data.map((g) =>
      log.append(g.buffer).then((r) => {
        if (spy.datasyncCalls === 0) resolvedBeforeSync = true;
        return r;
      }),
    );
    await Promise.all(promises);
    expect(resolvedBeforeSync).toBe(false);
    expect(spy.appendvCalls).toBe(1);
    expect(spy.datasyncCalls).toBe(1);
    expect(log.recoveryPoint).toBe(log.logEndOffset);
    await log.append(generate(8, 1)[0]!.buffer);
    expect(spy.datasyncCalls).toBe(2);
  });

  it('without flush.messages, acknowledges without datasync', async () => {
    const spy = spyIo();
    const log = open({}, { io: spy });
    await Promise.all(generate(9, 10).map((g) => log.append(g.buffer)));
    expect(spy.datasyncCalls).toBe(0);
    expect(log.recoveryPoint).toBe(0);
  });
});

describe('write failure', () => {
  it('a disk-full write rejects with KAFKA_STORAGE_ERROR, leaves the log unchanged, and the next append works', async () => {
    const spy = spyIo();
    const log = open({}, { io: spy });
    const first = generate(10, 3);
    for (const g of first) await log.append(g.buffer);
    const leo = log.logEndOffset;
    const size = log.size;
    const file = log.segments[0]!.logPath;
    expect(fs.statSync(file).size).toBe(size);

    spy.failNextAppend = 'ENOSPC';
    const doomed = generate(11, 5).map((g) => log.append(g.buffer));
    for (const p of doomed) await expectKafkaError(p, ErrorCode.KAFKA_STORAGE_ERROR);
    expect(log.logEndOffset).toBe(leo);
    expect(log.highWatermark).toBe(leo);
    expect(log.size).toBe(size);
    expect(fs.statSync(file).size).toBe(size);
    expect(log.read(leo, 1000, true).region).toBeNull();

    const after = generate(12, 2);
    const r = await log.append(after[0]!.buffer);
    expect(r.baseOffset).toBe(leo);
    await log.append(after[1]!.buffer);
    expect(readAll(log).equals(Buffer.concat([...first, ...after].map((g) => g.buffer)))).toBe(true);
  });
});
