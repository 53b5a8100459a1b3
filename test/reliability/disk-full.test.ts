/**
 * Disk full. On a small tmpfs the test mounts (it runs as root here and in CI), a filler file takes the
 * last free byte; produce must answer KAFKA_STORAGE_ERROR (56) with nothing partial kept, fetches must go
 * on serving what was there, and once the filler is deleted produce works again with contiguous offsets.
 * Where mounting is not allowed, an Io that fails writes with ENOSPC half-way stands in for the tmpfs;
 * that variant also runs everywhere, since it is the one that can cut a write at an exact byte.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../src/broker/start.js';
import type { KafkaConnection } from '../../src/client/kafka-connection.js';
import { defaultIo } from '../../src/io/select.js';
import type { Io } from '../../src/io/types.js';
import { ApiKey } from '../../src/protocol/index.js';
import { decodeRecordBatches, encodeRecordBatch } from '../../src/storage/record-codec.js';
import { connect } from '../helpers/broker.js';
import { createTopicOn, fetchRequestFor, produceRequestFor } from './helpers/ledger.js';
import { scanSegment, listSegments } from './helpers/segment-files.js';

const TOPIC = 'full';
const CONFIG = { 'offsets.topic.num.partitions': 1, 'group.initial.rebalance.delay.ms': 0 };

/** An Io whose appends fail with ENOSPC while `full` is set, after writing part of what they were given. */
function enospcIo(inner: Io): Io & { full: boolean } {
  const io = Object.create(inner) as Io & { full: boolean };
  io.full = false;
  io.appendv = (fd, buffers) => {
    if (!io.full) return inner.appendv(fd, buffers);
    const first = buffers[0]!;
    inner.appendv(fd, [first.subarray(0, Math.floor(first.length / 2))]);
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  };
  return io;
}

function bigBatch(tag: string, i: number): Buffer {
  // Bigger than a page, so a tmpfs with no free page cannot take it in the slack of the last one.
  return encodeRecordBatch([{ key: `${tag}-${i}`, value: Buffer.alloc(20_000, i & 0xff) }]);
}

async function produce(c: KafkaConnection, records: Buffer): Promise<{ errorCode: number; baseOffset: number }> {
  const res: any = await c.request(ApiKey.Produce, 7, produceRequestFor(TOPIC, 0, records, -1));
  const p = res.responses[0].partitionResponses[0];
  return { errorCode: p.errorCode, baseOffset: Number(p.baseOffset) };
}

async function fetchAll(c: KafkaConnection): Promise<{ keys: string[]; highWatermark: number }> {
  const keys: string[] = [];
  let offset = 0;
  let highWatermark = 0;
  for (let round = 0; round < 1000; round++) {
    const res: any = await c.request(ApiKey.Fetch, 11, fetchRequestFor(TOPIC, 0, offset, 1 << 20));
    const p = res.responses[0].partitions[0];
    expect(p.errorCode).toBe(0);
    highWatermark = Number(p.highWatermark);
    if (offset >= highWatermark) break;
    for (const b of decodeRecordBatches(p.records)) {
      expect(b.baseOffset).toBe(offset);
      for (const r of b.records) keys.push(r.key!.toString());
      offset = b.lastOffset + 1;
    }
  }
  expect(offset).toBe(highWatermark);
  return { keys, highWatermark };
}

async function commit(c: KafkaConnection, offset: number): Promise<number> {
  const res: any = await c.request(ApiKey.OffsetCommit, 7, {
    groupId: 'full-group',
    generationIdOrMemberEpoch: -1,
    memberId: '',
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: null }] }],
  });
  return res.topics[0].partitions[0].errorCode;
}

/** The partition's files hold whole, CRC-valid batches and nothing after them. */
function expectNoPartialBytes(dataDir: string): void {
  for (const seg of listSegments(path.join(dataDir, `${TOPIC}-0`))) {
    const scanned = scanSegment(seg.log);
    expect(scanned.fileSize, `${seg.log} holds bytes past its last whole batch`).toBe(scanned.validBytes);
  }
}

/**
 * The scenario both variants run: produce, fill the disk, produce fails with 56 and keeps nothing,
 * fetch and commit-read still work, free the disk, produce resumes at the next offset.
 */
async function diskFullScenario(running: RunningBroker, fill: () => void, free: () => void): Promise<void> {
  const c = await connect(running, 'disk-full');
  await createTopicOn(c, TOPIC, 1);
  const acked: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await produce(c, bigBatch('before', i));
    expect(r.errorCode).toBe(0);
    acked.push(`before-${i}`);
  }
  expect(await commit(c, 5)).toBe(0);

  fill();
  // Some write may still fit in slack; within a few, one must fail, and every failure must be 56.
  let failures = 0;
  for (let i = 0; i < 20 && failures < 3; i++) {
    const r = await produce(c, bigBatch('full', i));
    if (r.errorCode === 0) acked.push(`full-${i}`);
    else {
      expect(r.errorCode).toBe(56);
      failures++;
    }
  }
  expect(failures).toBeGreaterThan(0);
  expectNoPartialBytes(running.dataDir);
  // Reads go on: everything acknowledged, whole, nothing else.
  const during = await fetchAll(c);
  expect(during.keys).toEqual(acked);
  const fetched: any = await c.request(ApiKey.OffsetFetch, 5, { groupId: 'full-group', topics: [{ name: TOPIC, partitionIndexes: [0] }] });
  expect(Number(fetched.topics[0].partitions[0].committedOffset)).toBe(5);
  const metadata: any = await c.request(ApiKey.Metadata, 1, { topics: [{ name: TOPIC }] });
  expect(metadata.topics[0].errorCode).toBe(0);

  free();
  const after = await produce(c, bigBatch('after', 0));
  expect(after.errorCode).toBe(0);
  expect(after.baseOffset).toBe(during.highWatermark);
  acked.push('after-0');
  expect(await commit(c, after.baseOffset + 1)).toBe(0);
  const final = await fetchAll(c);
  expect(final.keys).toEqual(acked);
  expectNoPartialBytes(running.dataDir);
  c.close();
}

describe('disk full', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'penstock-diskfull-'));
  const mountPoint = path.join(root, 'fs');
  let mounted = false;

  beforeAll(() => {
    fs.mkdirSync(mountPoint);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mountPoint], { stdio: 'pipe' });
      mounted = true;
    } catch (err) {
      console.log(`[disk-full] cannot mount a tmpfs (${(err as Error).message.split('\n')[0]}); the tmpfs case runs on an ENOSPC-injecting Io instead`);
    }
  });
  afterAll(() => {
    if (mounted) {
      try {
        execFileSync('umount', [mountPoint], { stdio: 'pipe' });
      } catch {
        execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' });
      }
    }
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('on a filled filesystem: produce gets KAFKA_STORAGE_ERROR, fetch keeps serving, produce resumes once space is freed', async () => {
    const dataDir = path.join(mountPoint, 'data');
    const filler = path.join(mountPoint, 'filler');
    const io = mounted ? defaultIo() : enospcIo(defaultIo());
    const running = await startBroker({ port: 0, dataDir, config: CONFIG, io });
    try {
      const fill = (): void => {
        if (!mounted) return void ((io as ReturnType<typeof enospcIo>).full = true);
        const fd = fs.openSync(filler, 'w');
        const chunk = Buffer.alloc(64 * 1024, 1);
        try {
          for (let i = 0; i < 10_000; i++) fs.writeSync(fd, chunk);
        } catch (err) {
          expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
        } finally {
          fs.closeSync(fd);
        }
        // Page slack: fill the last few bytes too.
        try {
          fs.appendFileSync(filler, Buffer.alloc(4096, 2));
        } catch {
          /* already full */
        }
      };
      const free = (): void => {
        if (!mounted) return void ((io as ReturnType<typeof enospcIo>).full = false);
        fs.rmSync(filler);
      };
      await diskFullScenario(running, fill, free);
    } finally {
      await running.close();
    }
  });

  it('a write cut by ENOSPC half-way is rolled back whole (injected)', async () => {
    const dataDir = path.join(root, 'injected');
    const io = enospcIo(defaultIo());
    const running = await startBroker({ port: 0, dataDir, config: CONFIG, io });
    try {
      await diskFullScenario(
        running,
        () => (io.full = true),
        () => (io.full = false),
      );
    } finally {
      await running.close();
    }
  });
});
