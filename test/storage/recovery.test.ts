import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { brokerConfig } from '../../src/config.js';
import { CLEAN_SHUTDOWN_FILE, LogManager } from '../../src/storage/log-manager.js';
import { PartitionLog, type PartitionLogOptions } from '../../src/storage/partition-log.js';
import { readInt64 } from '../../src/storage/record-batch.js';
import type { LogSegment } from '../../src/storage/segment.js';
import { buildBatch, io, makeTempDir, parseBatches, prng, readRegion, removeDir, topicConfig, type ParsedBatch } from './helpers.js';

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

const CONFIG = { 'segment.bytes': 3000, 'index.interval.bytes': 300 };

function open(extra: Partial<PartitionLogOptions> = {}): PartitionLog {
  const log = PartitionLog.open({ topic: 't', partition: 0, dir: partitionDir, config: topicConfig(CONFIG), io, ...extra });
  logs.push(log);
  return log;
}

/** Fills a log with random batches and closes it; returns the bytes of every segment by base offset. */
async function fill(seed: number, batches: number): Promise<{ bytes: Buffer; recoveryPoint: number }> {
  const rand = prng(seed);
  const log = open();
  for (let i = 0; i < batches; i++) {
    const records = Array.from({ length: 1 + rand.int(3) }, (_, j) => ({
      key: `k${i}.${j}`,
      value: Buffer.alloc(20 + rand.int(250), i & 0xff),
      timestamp: 1_000_000 + i * 10 + j,
    }));
    await log.append(buildBatch(records));
  }
  await log.close();
  logs.splice(logs.indexOf(log), 1);
  return { bytes: Buffer.concat(log.segments.map((s) => fs.readFileSync(s.logPath))), recoveryPoint: log.recoveryPoint };
}

function readAll(log: PartitionLog): Buffer {
  const parts: Buffer[] = [];
  let offset = log.logStartOffset;
  while (offset < log.highWatermark) {
    const r = log.read(offset, 1 << 20, true);
    const bytes = readRegion(r.region!);
    r.release();
    const batches = parseBatches(bytes);
    parts.push(bytes.subarray(0, batches.at(-1)!.position + batches.at(-1)!.size));
    offset = batches.at(-1)!.lastOffset + 1;
  }
  return Buffer.concat(parts);
}

/** Every index entry points at the start of a batch it describes, as recovery's rebuild promises. */
function checkIndexes(segment: LogSegment): void {
  const bytes = fs.readFileSync(segment.logPath);
  const batches = parseBatches(bytes);
  const byPosition = new Map(batches.map((b) => [b.position, b]));
  for (let i = 0; i < segment.offsetIndex.entries; i++) {
    const e = segment.offsetIndex.entry(i);
    const b = byPosition.get(e.position);
    expect(b, `offset index entry ${i} points at a batch start`).toBeDefined();
    expect(b!.lastOffset).toBe(e.offset);
  }
  const byLast = new Map(batches.map((b) => [b.lastOffset, b]));
  let maxSoFar = -1;
  for (let i = 0; i < segment.timeIndex.entries; i++) {
    const e = segment.timeIndex.entry(i);
    const b = byLast.get(e.offset)!;
    expect(b).toBeDefined();
    maxSoFar = Math.max(...batches.filter((x) => x.lastOffset <= e.offset).map((x) => x.maxTimestamp));
    expect(e.timestamp).toBe(maxSoFar);
  }
  // Index files on disk say the same as memory.
  expect(fs.statSync(segment.offsetIndex.path).size).toBe(segment.offsetIndex.entries * 8);
  expect(fs.statSync(segment.timeIndex.path).size).toBe(segment.timeIndex.entries * 12);
}

function segmentFiles(): string[] {
  return fs.readdirSync(partitionDir).filter((f) => f.endsWith('.log')).sort();
}

describe('recovery after an unclean shutdown', () => {
  it('(a) a log cut at a random point keeps every whole batch before the cut and nothing after', async () => {
    for (let seed = 1; seed <= 25; seed++) {
      const { bytes, recoveryPoint } = await fill(seed, 40);
      const all = parseBatches(bytes);
      const files = segmentFiles();
      const active = path.join(partitionDir, files.at(-1)!);
      const activeSize = fs.statSync(active).size;
      const activeStart = bytes.length - activeSize;
      const cut = prng(seed * 31).int(activeSize + 1);
      fs.truncateSync(active, cut);

      const log = open({ cleanShutdown: false, recoveryPoint });
      const kept = all.filter((b) => b.position + b.size <= activeStart + cut);
      const expectedEnd = kept.length > 0 ? kept.at(-1)!.lastOffset + 1 : 0;
      expect(log.logEndOffset, `seed ${seed}`).toBe(expectedEnd);
      const keptBytes = kept.length > 0 ? kept.at(-1)!.position + kept.at(-1)!.size : 0;
      expect(readAll(log).equals(bytes.subarray(0, keptBytes))).toBe(true);
      expect(log.loadStats.truncatedBytes).toBe(activeStart + cut - keptBytes);
      for (const s of log.segments) checkIndexes(s);
      // The log takes appends again right after the recovered end.
      const r = await log.append(buildBatch([{ value: 'after' }]));
      expect(r.baseOffset).toBe(expectedEnd);
      await log.close();
      logs.length = 0;
      removeDir(partitionDir);
    }
  });

  it('(a) a cut inside an older segment, recovering from offset 0, drops every later segment', async () => {
    const { bytes } = await fill(40, 60);
    const files = segmentFiles();
    expect(files.length).toBeGreaterThan(3);
    const victim = path.join(partitionDir, files[1]!);
    const victimBase = Number(files[1]!.slice(0, 20));
    const victimBatches = parseBatches(fs.readFileSync(victim));
    fs.truncateSync(victim, victimBatches[2]!.position + 5);

    const log = open({ cleanShutdown: false, recoveryPoint: 0 });
    expect(log.loadStats.recoveredSegments).toBe(2);
    expect(log.segmentCount).toBe(2);
    expect(segmentFiles()).toEqual(files.slice(0, 2));
    expect(log.logEndOffset).toBe(victimBatches[1]!.lastOffset + 1);
    expect(log.segments[1]!.baseOffset).toBe(victimBase);
    const firstSize = fs.statSync(path.join(partitionDir, files[0]!)).size;
    expect(readAll(log).equals(bytes.subarray(0, firstSize + victimBatches[2]!.position))).toBe(true);
  });

  it('(b) garbage appended to the tail is truncated', async () => {
    for (const garbage of [
      Buffer.from('this is not a record batch at all, just noise'),
      Buffer.alloc(7, 0xff),
      (() => {
        const b = buildBatch([{ value: 'fake' }]);
        b.writeInt32BE(1 << 30, 8); // a header whose length runs far past the file
        return b;
      })(),
      Buffer.alloc(200), // zeroes: a "nonsense block" after an inode size update
    ]) {
      const { bytes, recoveryPoint } = await fill(50, 30);
      const active = path.join(partitionDir, segmentFiles().at(-1)!);
      const before = fs.statSync(active).size;
      fs.appendFileSync(active, garbage);
      const log = open({ cleanShutdown: false, recoveryPoint });
      expect(fs.statSync(active).size).toBe(before);
      expect(log.loadStats.truncatedBytes).toBe(garbage.length);
      expect(readAll(log).equals(bytes)).toBe(true);
      await log.close();
      logs.length = 0;
      removeDir(partitionDir);
    }
  });

  it('(c) a corrupt batch in the middle of a segment: everything before kept, it and all after gone', async () => {
    const { bytes } = await fill(60, 60);
    const files = segmentFiles();
    const victim = path.join(partitionDir, files[1]!);
    const content = fs.readFileSync(victim);
    const batches = parseBatches(content);
    const bad: ParsedBatch = batches[Math.floor(batches.length / 2)]!;
    content[bad.position + bad.size - 3]! ^= 0x40; // inside the records: only the CRC notices
    fs.writeFileSync(victim, content);

    const log = open({ cleanShutdown: false, recoveryPoint: 0 });
    expect(log.logEndOffset).toBe(bad.baseOffset);
    expect(log.segmentCount).toBe(2);
    expect(segmentFiles()).toEqual(files.slice(0, 2));
    const firstSize = fs.statSync(path.join(partitionDir, files[0]!)).size;
    expect(readAll(log).equals(bytes.subarray(0, firstSize + bad.position))).toBe(true);
    for (const s of log.segments) checkIndexes(s);
  });

  it('starts recovery at the segment holding the recovery point', async () => {
    const { recoveryPoint } = await fill(70, 60);
    const files = segmentFiles();
    // Corrupt a segment below the recovery point: a scan would notice, so none must run there.
    const early = path.join(partitionDir, files[0]!);
    const content = fs.readFileSync(early);
    content[content.length - 2]! ^= 1;
    fs.writeFileSync(early, content);
    const lastBase = Number(files.at(-1)!.slice(0, 20));
    const log = open({ cleanShutdown: false, recoveryPoint: lastBase + 1 });
    expect(log.loadStats.recoveredSegments).toBe(1);
    expect(log.logEndOffset).toBe(recoveryPoint);
    expect(log.segmentCount).toBe(files.length);
  });

  it('a missing index file makes that segment recover even after a clean shutdown', async () => {
    await fill(80, 40);
    const files = segmentFiles();
    fs.rmSync(path.join(partitionDir, files[0]!.replace('.log', '.index')));
    const log = open({ cleanShutdown: true });
    expect(log.loadStats.recoveredSegments).toBe(1);
    checkIndexes(log.segments[0]!);
  });
});

describe('(d) clean shutdown', () => {
  it('skips the scan: corrupt bytes inside batches are neither noticed nor truncated', async () => {
    const { bytes } = await fill(90, 50);
    const files = segmentFiles();
    const corrupted = Buffer.from(bytes);
    let offsetInLog = 0;
    for (const f of [files[0]!, files.at(-1)!]) {
      const file = path.join(partitionDir, f);
      const content = fs.readFileSync(file);
      const batches = parseBatches(content);
      const b = batches.at(-1)!;
      content[b.position + b.size - 1]! ^= 0x01;
      fs.writeFileSync(file, content);
      const start = f === files[0] ? 0 : bytes.length - content.length;
      corrupted[start + b.position + b.size - 1]! ^= 0x01;
      offsetInLog = start;
    }
    expect(offsetInLog).toBeGreaterThan(0);
    const log = open({ cleanShutdown: true });
    expect(log.loadStats.recoveredSegments).toBe(0);
    expect(log.loadStats.truncatedBytes).toBe(0);
    expect(readAll(log).equals(corrupted)).toBe(true);
    // The same files without the marker are recovered: the flipped batch in segment 0 ends the log.
    await log.close();
    logs.length = 0;
    const unclean = open({ cleanShutdown: false, recoveryPoint: 0 });
    expect(unclean.loadStats.recoveredSegments).toBeGreaterThan(0);
    expect(unclean.segmentCount).toBe(1);
  });

  it('through the log manager: the marker is written at close, consumed at start, and recovery skipped', async () => {
    const config = brokerConfig({ 'log.segment.bytes': 3000 });
    const manager = await LogManager.open({ dataDir: dir, config, io });
    await manager.createTopic('events', 2);
    const p0 = manager.partition('events', 0)!;
    for (let i = 0; i < 50; i++) await p0.append(buildBatch([{ value: Buffer.alloc(200, i) }]));
    const endBefore = p0.logEndOffset;
    await manager.close();
    expect(fs.existsSync(path.join(dir, CLEAN_SHUTDOWN_FILE))).toBe(true);

    const reopened = await LogManager.open({ dataDir: dir, config, io });
    expect(reopened.cleanStart).toBe(true);
    expect(fs.existsSync(path.join(dir, CLEAN_SHUTDOWN_FILE))).toBe(false);
    const again = reopened.partition('events', 0)!;
    expect(again.loadStats.recoveredSegments).toBe(0);
    expect(again.logEndOffset).toBe(endBefore);
    expect(again.recoveryPoint).toBe(endBefore);
    expect(again.segmentCount).toBe(p0.segmentCount);
    await again.append(buildBatch([{ value: 'more' }]));

    // A "crash" (no close): the next start has no marker and recovers from the checkpointed point.
    await reopened.checkpoint();
    const afterCrash = await LogManager.open({ dataDir: dir, config, io });
    expect(afterCrash.cleanStart).toBe(false);
    const recovered = afterCrash.partition('events', 0)!;
    expect(recovered.loadStats.recoveredSegments).toBeGreaterThan(0);
    expect(recovered.logEndOffset).toBe(endBefore + 1);
    const last = recovered.read(endBefore, 1000, true);
    expect(readInt64(readRegion(last.region!), 0)).toBe(endBefore);
    last.release();
    await afterCrash.close();
  });
});
