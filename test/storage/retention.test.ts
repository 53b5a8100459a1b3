import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, KafkaError } from '../../src/protocol/error-codes.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { buildBatch, io, makeTempDir, readRegion, removeDir, topicConfig } from './helpers.js';

let dir: string;
let partitionDir: string;
const logs: PartitionLog[] = [];
beforeEach(() => {
  dir = makeTempDir();
  partitionDir = path.join(dir, 't-0');
});
afterEach(async () => {
  await Promise.allSettled(logs.splice(0).map((l) => l.close()));
  removeDir(dir);
});

function open(overrides: Record<string, string | number>, partition = 0): PartitionLog {
  const log = PartitionLog.open({ topic: 't', partition, dir: path.join(dir, `t-${partition}`), config: topicConfig({ 'file.delete.delay.ms': 0, ...overrides }), io });
  logs.push(log);
  return log;
}

/** Ten segments of ~1000 bytes; segment i holds records stamped at 1_000_000 + i * 1000. */
async function fillSegments(log: PartitionLog, segments = 10): Promise<void> {
  for (let s = 0; s < segments; s++) {
    for (let i = 0; i < 4; i++) await log.append(buildBatch([{ value: Buffer.alloc(180, s), timestamp: 1_000_000 + s * 1000 + i }]));
  }
}

function files(): string[] {
  return fs.readdirSync(partitionDir).sort();
}

function expectOutOfRange(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect((err as KafkaError).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    return;
  }
  throw new Error('expected OFFSET_OUT_OF_RANGE');
}

describe('retention', () => {
  it('by time deletes segments whose newest record is older than retention.ms', async () => {
    const log = open({ 'segment.bytes': 1000, 'retention.ms': 2500 });
    await fillSegments(log);
    expect(log.segmentCount).toBe(10);
    const bases = log.segments.map((s) => s.baseOffset);
    // now = 1_006_000: segments 0..3 (newest ≤ 1_003_003) are older than 2500 ms.
    const deleted = log.deleteOldSegments(1_006_000);
    expect(deleted).toBe(4);
    expect(log.logStartOffset).toBe(bases[4]);
    expect(log.segments[0]!.baseOffset).toBe(bases[4]);
    for (const base of bases.slice(0, 4)) {
      const name = String(base).padStart(20, '0');
      expect(files().filter((f) => f.startsWith(name))).toEqual([]);
    }
    expectOutOfRange(() => log.read(bases[4]! - 1, 1000, true));
    const r = log.read(bases[4]!, 1000, true);
    expect(r.region).not.toBeNull();
    r.release();
    expect(log.deleteOldSegments(1_006_000)).toBe(0);
  });

  it('rolls first when every segment has expired, keeping an empty active segment at the log end', async () => {
    const log = open({ 'segment.bytes': 1000, 'retention.ms': 1000 });
    await fillSegments(log, 3);
    const end = log.logEndOffset;
    expect(log.deleteOldSegments(10_000_000)).toBe(3);
    expect(log.segmentCount).toBe(1);
    expect(log.segments[0]!.baseOffset).toBe(end);
    expect(log.logStartOffset).toBe(end);
    expect(log.size).toBe(0);
    expect(log.read(end, 1000, true).region).toBeNull();
    expectOutOfRange(() => log.read(0, 1000, true));
    const r = await log.append(buildBatch([{ value: 'new' }]));
    expect(r.baseOffset).toBe(end);
    expect(r.logStartOffset).toBe(end);
    // An empty active segment alone is never deleted.
    const fresh = open({ 'retention.ms': 0 }, 1);
    expect(fresh.deleteOldSegments(Date.now() + 1e9)).toBe(0);
  });

  it('by size deletes the oldest segments while the log exceeds retention.bytes', async () => {
    const log = open({ 'segment.bytes': 1000, 'retention.bytes': 3000, 'retention.ms': -1 });
    await fillSegments(log);
    const sizes = log.segments.map((s) => s.size);
    const total = sizes.reduce((a, b) => a + b, 0);
    let excess = total - 3000;
    let expected = 0;
    for (const size of sizes) {
      if (excess - size < 0) break;
      excess -= size;
      expected++;
    }
    expect(expected).toBeGreaterThan(0);
    expect(log.deleteOldSegments(Date.now())).toBe(expected);
    expect(log.size).toBe(total - sizes.slice(0, expected).reduce((a, b) => a + b, 0));
    expect(log.size).toBeGreaterThanOrEqual(3000);
  });

  it('maybeIncrementLogStartOffset hides offsets below it and lets deleteOldSegments remove their segments', async () => {
    const log = open({ 'segment.bytes': 1000, 'cleanup.policy': 'compact' });
    await fillSegments(log);
    const segmentsBefore = log.segmentCount;
    expect(log.maybeIncrementLogStartOffset(21)).toBe(true);
    expect(log.maybeIncrementLogStartOffset(5)).toBe(false);
    expect(log.logStartOffset).toBe(21);
    expectOutOfRange(() => log.read(20, 1 << 20, true));
    expect(log.read(21, 1 << 20, true).region).not.toBeNull();
    log.deleteOldSegments();
    expect(log.segmentCount).toBeLessThan(segmentsBefore);
    expect(log.segments[0]!.baseOffset).toBeLessThanOrEqual(21);
    expect(() => log.maybeIncrementLogStartOffset(log.highWatermark + 1)).toThrow(KafkaError);
  });

  it('does nothing for compact-only topics', async () => {
    const log = open({ 'segment.bytes': 1000, 'retention.ms': 0, 'cleanup.policy': 'compact' });
    await fillSegments(log, 3);
    expect(log.deleteOldSegments(Date.now())).toBe(0);
  });

  it('a region handed out before its segment is deleted stays readable until released', async () => {
    const log = open({ 'segment.bytes': 1000, 'retention.ms': 1000 });
    await fillSegments(log, 4);
    const first = log.segments[0]!;
    const read = log.read(0, 1 << 20, true);
    const before = readRegion(read.region!);
    expect(first.activeReaders).toBe(1);
    expect(log.deleteOldSegments(1_001_000 + 5000)).toBeGreaterThan(0);
    expect(first.isDeleted).toBe(true);
    expect(fs.existsSync(first.logPath)).toBe(false); // unlinked already (file.delete.delay.ms = 0)
    await new Promise((resolve) => setTimeout(resolve, 20)); // any asynchronous close would have landed
    // The fd still reads the same bytes: a sendfile in flight would not notice.
    expect(readRegion(read.region!).equals(before)).toBe(true);
    const inode = fs.fstatSync(read.region!.fd).ino;
    read.release();
    read.release(); // idempotent
    expect(first.activeReaders).toBe(0);
    let stillOpen = true;
    try {
      stillOpen = fs.fstatSync(read.region!.fd).ino === inode;
    } catch {
      stillOpen = false;
    }
    expect(stillOpen).toBe(false);
  });

  it('with file.delete.delay.ms, files wait as .deleted and are removed at close', async () => {
    const log = open({ 'segment.bytes': 1000, 'retention.ms': 1000, 'file.delete.delay.ms': 60_000 });
    await fillSegments(log, 3);
    expect(log.deleteOldSegments(1_001_500)).toBe(1);
    const deleted = files().filter((f) => f.endsWith('.deleted'));
    expect(deleted.map((f) => f.replace(/^\d+/, ''))).toEqual(['.index.deleted', '.log.deleted', '.timeindex.deleted']);
    await log.close();
    expect(files().filter((f) => f.endsWith('.deleted'))).toEqual([]);
  });

  it('a restart removes leftover .deleted files', async () => {
    const log = open({ 'segment.bytes': 1000, 'retention.ms': 1000, 'file.delete.delay.ms': 60_000 });
    await fillSegments(log, 3);
    log.deleteOldSegments(1_001_000 + 5000);
    const reopened = open({ 'segment.bytes': 1000 });
    expect(files().filter((f) => f.endsWith('.deleted'))).toEqual([]);
    expect(reopened.logEndOffset).toBe(log.logEndOffset);
  });
});

