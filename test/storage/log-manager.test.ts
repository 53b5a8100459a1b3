import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { brokerConfig, type BrokerConfig } from '../../src/config.js';
import { ErrorCode, KafkaError } from '../../src/protocol/error-codes.js';
import {
  CheckpointFormatError,
  formatOffsetCheckpoint,
  parseOffsetCheckpoint,
  readOffsetCheckpoint,
  writeOffsetCheckpoint,
} from '../../src/storage/checkpoint.js';
import {
  LOG_START_OFFSET_CHECKPOINT_FILE,
  LogManager,
  META_PROPERTIES_FILE,
  RECOVERY_POINT_CHECKPOINT_FILE,
  TOPICS_FILE,
  parsePartitionDirName,
  validateTopicName,
} from '../../src/storage/log-manager.js';
import { buildBatch, io, makeTempDir, readRegion, removeDir } from './helpers.js';

let dir: string;
const managers: LogManager[] = [];
beforeEach(() => {
  dir = makeTempDir();
});
afterEach(async () => {
  await Promise.allSettled(managers.splice(0).map((m) => m.close()));
  removeDir(dir);
});

async function open(overrides: Record<string, string | number | boolean> = {}): Promise<LogManager> {
  const config: BrokerConfig = brokerConfig({ 'file.delete.delay.ms': 0, ...overrides });
  const manager = await LogManager.open({ dataDir: dir, config, io });
  managers.push(manager);
  return manager;
}

async function reopen(manager: LogManager, overrides: Record<string, string | number | boolean> = {}): Promise<LogManager> {
  await manager.close();
  managers.splice(managers.indexOf(manager), 1);
  return open(overrides);
}

async function codeOf(fn: () => unknown): Promise<number> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KafkaError);
    return (err as KafkaError).errorCode;
  }
  throw new Error('expected a KafkaError');
}

describe('checkpoint files', () => {
  it('round-trip in Kafka’s text format', async () => {
    const entries = [
      { topic: 'a', partition: 0, offset: 0 },
      { topic: 'my-topic.v2', partition: 13, offset: 2 ** 40 },
    ];
    expect(formatOffsetCheckpoint(entries)).toBe('0\n2\na 0 0\nmy-topic.v2 13 1099511627776\n');
    const file = path.join(dir, 'cp');
    await writeOffsetCheckpoint(file, entries);
    expect(readOffsetCheckpoint(file)).toEqual(entries);
    expect(fs.existsSync(`${file}.tmp`)).toBe(false);
    expect(readOffsetCheckpoint(path.join(dir, 'missing'))).toBeNull();
    await writeOffsetCheckpoint(file, []);
    expect(fs.readFileSync(file, 'utf8')).toBe('0\n0\n');
  });

  it('refuses malformed files', () => {
    for (const text of ['', '1\n0\n', '0\n2\na 0 1\n', '0\n1\na 0\n', '0\n1\na x 1\n', '0\nx\n', '0\n0\nextra 0 0\n']) {
      expect(() => parseOffsetCheckpoint(text)).toThrow(CheckpointFormatError);
    }
  });
});

describe('topic names', () => {
  it('follow Kafka’s rules', () => {
    for (const ok of ['a', 'A-b_c.9', 'x'.repeat(249), '__consumer_offsets', '-lead']) expect(() => validateTopicName(ok)).not.toThrow();
    for (const bad of ['', '.', '..', 'x'.repeat(250), 'a b', 'a/b', 'ü', 'a\nb', 'a:b']) {
      try {
        validateTopicName(bad);
        throw new Error(`accepted ${JSON.stringify(bad)}`);
      } catch (err) {
        expect((err as KafkaError).errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
      }
    }
  });

  it('partition directories split on the last dash', () => {
    expect(parsePartitionDirName('my-topic-12')).toEqual({ topic: 'my-topic', partition: 12 });
    expect(parsePartitionDirName('t-0')).toEqual({ topic: 't', partition: 0 });
    expect(parsePartitionDirName('nodash')).toBeNull();
    expect(parsePartitionDirName('t-x')).toBeNull();
    expect(parsePartitionDirName('-3')).toBeNull();
  });
});

describe('LogManager', () => {
  it('writes meta.properties once and keeps the cluster id across restarts', async () => {
    const m1 = await open();
    expect(m1.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(m1.clusterId.startsWith('-')).toBe(false);
    const text = fs.readFileSync(path.join(dir, META_PROPERTIES_FILE), 'utf8');
    expect(text).toContain('version=1');
    expect(text).toContain(`cluster.id=${m1.clusterId}`);
    expect(text).toContain('node.id=0');
    const m2 = await reopen(m1);
    expect(m2.clusterId).toBe(m1.clusterId);
    expect(m2.nodeId).toBe(0);
    await m2.close();
    managers.length = 0;
    await expect(LogManager.open({ dataDir: dir, config: brokerConfig({ 'node.id': 3 }), io })).rejects.toThrow(/node.id/);
  });

  it('creates topics with partitions, ids, overrides, and keeps them across restarts', async () => {
    const m1 = await open();
    const topic = await m1.createTopic('orders', 3, { 'retention.ms': '12345', 'segment.bytes': '2048' });
    expect(topic.partitions).toHaveLength(3);
    expect(topic.topicId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(topic.topicIdBytes).toHaveLength(16);
    expect(topic.config['retention.ms']).toBe(12345);
    expect(topic.partitions[2]!.config['segment.bytes']).toBe(2048);
    expect(m1.topicNames()).toEqual(['orders']);
    expect(m1.partition('orders', 2)).toBe(topic.partitions[2]);
    expect(m1.partition('orders', 3)).toBeUndefined();
    expect(m1.partition('nope', 0)).toBeUndefined();
    for (let p = 0; p < 3; p++) {
      const meta = fs.readFileSync(path.join(dir, `orders-${p}`, 'partition.metadata'), 'utf8');
      expect(meta).toBe(`version: 0\ntopic_id: ${topic.topicId}\n`);
      expect(fs.existsSync(path.join(dir, `orders-${p}`, '00000000000000000000.log'))).toBe(true);
    }
    await topic.partitions[1]!.append(buildBatch([{ value: 'kept' }]));
    await m1.createTopic('dflt', -1);
    expect(m1.getTopic('dflt')!.partitions).toHaveLength(1);

    const m2 = await reopen(m1);
    const again = m2.getTopic('orders')!;
    expect(again.topicId).toBe(topic.topicId);
    expect(again.partitions).toHaveLength(3);
    expect(again.overrides).toEqual({ 'retention.ms': '12345', 'segment.bytes': '2048' });
    expect(again.partitions[0]!.config['retention.ms']).toBe(12345);
    expect(again.partitions[1]!.logEndOffset).toBe(1);
    expect(m2.topicNames().sort()).toEqual(['dflt', 'orders']);
    const file = JSON.parse(fs.readFileSync(path.join(dir, TOPICS_FILE), 'utf8'));
    expect(file.topics.orders).toEqual({ topicId: topic.topicId, partitions: 3, internal: false, configs: { 'retention.ms': '12345', 'segment.bytes': '2048' } });
  });

  it('refuses bad topic requests with Kafka’s error codes', async () => {
    const m = await open();
    await m.createTopic('a.b', 1);
    expect(await codeOf(() => m.createTopic('a.b', 1))).toBe(ErrorCode.TOPIC_ALREADY_EXISTS);
    expect(await codeOf(() => m.createTopic('a_b', 1))).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
    expect(await codeOf(() => m.createTopic('bad name', 1))).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
    expect(await codeOf(() => m.createTopic('', 1))).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
    for (const n of [0, -2, 1.5, 1e9]) expect(await codeOf(() => m.createTopic('p', n))).toBe(ErrorCode.INVALID_PARTITIONS);
    expect(await codeOf(() => m.createTopic('c', 1, { 'no.such.setting': '1' }))).toBe(ErrorCode.INVALID_CONFIG);
    expect(await codeOf(() => m.createTopic('c', 1, { 'retention.ms': 'soon' }))).toBe(ErrorCode.INVALID_CONFIG);
    expect(await codeOf(() => m.createTopic('c', 1, { 'message.timestamp.type': 'Whenever' }))).toBe(ErrorCode.INVALID_CONFIG);
    expect(await codeOf(() => m.createTopic('__consumer_offsets', 50))).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
    expect(await codeOf(() => m.deleteTopic('missing'))).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(await codeOf(() => m.createPartitions('missing', 3))).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(await codeOf(() => m.createPartitions('a.b', 1))).toBe(ErrorCode.INVALID_PARTITIONS);
    expect(m.topicNames()).toEqual(['a.b']);
  });

  it('validateOnly checks everything and creates nothing', async () => {
    const m = await open();
    const t = await m.createTopic('v', 4, { 'retention.ms': '5' }, { validateOnly: true });
    expect(t.config['retention.ms']).toBe(5);
    expect(t.partitions).toEqual([]);
    expect(m.getTopic('v')).toBeUndefined();
    expect(fs.existsSync(path.join(dir, 'v-0'))).toBe(false);
    await m.createTopic('w', 1);
    await m.createPartitions('w', 5, { validateOnly: true });
    expect(m.getTopic('w')!.partitions).toHaveLength(1);
  });

  it('internal topics are flagged, listed, and created only when asked as internal', async () => {
    const m = await open();
    expect(m.isInternal('__consumer_offsets')).toBe(true);
    expect(m.isInternal('plain')).toBe(false);
    await m.createTopic('__consumer_offsets', 3, { 'cleanup.policy': 'compact' }, { internal: true });
    expect(m.topicNames()).toContain('__consumer_offsets');
    expect(m.getTopic('__consumer_offsets')!.internal).toBe(true);
    const m2 = await reopen(m);
    expect(m2.isInternal('__consumer_offsets')).toBe(true);
    expect(m2.getTopic('__consumer_offsets')!.config['cleanup.policy']).toBe('compact');
  });

  it('deletes topics: directories go, the name can be reused, and nothing comes back after a restart', async () => {
    const m = await open();
    const t = await m.createTopic('gone', 2);
    await t.partitions[0]!.append(buildBatch([{ value: 'x' }]));
    const read = t.partitions[0]!.read(0, 1000, true); // a fetch in flight during the delete
    const before = readRegion(read.region!);
    await m.deleteTopic('gone');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(readRegion(read.region!).equals(before)).toBe(true);
    expect(m.getTopic('gone')).toBeUndefined();
    expect(m.partition('gone', 0)).toBeUndefined();
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('gone'))).toEqual([]);
    read.release();
    expect(await codeOf(() => t.partitions[0]!.append(buildBatch([{ value: 'y' }])))).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);

    const again = await m.createTopic('gone', 1);
    expect(again.topicId).not.toBe(t.topicId);
    expect(again.partitions[0]!.logEndOffset).toBe(0);
    await m.deleteTopic('gone');
    const m2 = await reopen(m);
    expect(m2.getTopic('gone')).toBeUndefined();
    expect(await codeOf(() => m2.deleteTopic('gone'))).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it('deletion can be disabled', async () => {
    const m = await open({ 'delete.topic.enable': false });
    await m.createTopic('stays', 1);
    expect(await codeOf(() => m.deleteTopic('stays'))).toBe(ErrorCode.TOPIC_DELETION_DISABLED);
  });

  it('adds partitions, and they persist', async () => {
    const m = await open();
    await m.createTopic('grow', 2);
    await m.createPartitions('grow', 5);
    expect(m.getTopic('grow')!.partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3, 4]);
    await m.partition('grow', 4)!.append(buildBatch([{ value: 'x' }]));
    const m2 = await reopen(m);
    expect(m2.getTopic('grow')!.partitions).toHaveLength(5);
    expect(m2.partition('grow', 4)!.logEndOffset).toBe(1);
    expect(await codeOf(() => m2.createPartitions('grow', 5))).toBe(ErrorCode.INVALID_PARTITIONS);
  });

  it('alters topic config: partitions see it at once and after a restart', async () => {
    const m = await open();
    await m.createTopic('cfg', 2, { 'retention.ms': '100' });
    await m.alterTopicConfig('cfg', { 'retention.bytes': '4096' });
    expect(m.partition('cfg', 1)!.config['retention.bytes']).toBe(4096);
    expect(m.partition('cfg', 1)!.config['retention.ms']).toBe(604_800_000); // back to the default
    expect(await codeOf(() => m.alterTopicConfig('cfg', { 'retention.bytes': 'lots' }))).toBe(ErrorCode.INVALID_CONFIG);
    const m2 = await reopen(m);
    expect(m2.getTopic('cfg')!.overrides).toEqual({ 'retention.bytes': '4096' });
  });

  it('writes recovery-point and log-start-offset checkpoints', async () => {
    const m = await open({ 'log.segment.bytes': 1000 });
    await m.createTopic('cp', 2, { 'retention.ms': '1000' });
    const p0 = m.partition('cp', 0)!;
    for (let i = 0; i < 20; i++) await p0.append(buildBatch([{ value: Buffer.alloc(100), timestamp: 1000 + i }]));
    expect(m.runRetention(10_000_000)).toBeGreaterThan(0);
    const start = p0.logStartOffset;
    expect(start).toBe(20);
    await m.close();
    managers.length = 0;
    expect(readOffsetCheckpoint(path.join(dir, RECOVERY_POINT_CHECKPOINT_FILE))).toEqual([
      { topic: 'cp', partition: 0, offset: 20 },
      { topic: 'cp', partition: 1, offset: 0 },
    ]);
    expect(readOffsetCheckpoint(path.join(dir, LOG_START_OFFSET_CHECKPOINT_FILE))).toEqual([
      { topic: 'cp', partition: 0, offset: 20 },
      { topic: 'cp', partition: 1, offset: 0 },
    ]);
    const m2 = await open();
    expect(m2.partition('cp', 0)!.logStartOffset).toBe(20);
    expect(m2.partition('cp', 0)!.logEndOffset).toBe(20);
  });

  it('an unreadable checkpoint means recovery from the start, not a failed start', async () => {
    const m = await open();
    await m.createTopic('r', 1);
    await m.partition('r', 0)!.append(buildBatch([{ value: 'x' }]));
    await m.checkpoint();
    fs.writeFileSync(path.join(dir, RECOVERY_POINT_CHECKPOINT_FILE), 'garbage');
    const crashed = await open(); // the first manager was never closed: no clean-shutdown marker
    expect(crashed.partition('r', 0)!.loadStats.recoveredSegments).toBe(1);
    expect(crashed.partition('r', 0)!.logEndOffset).toBe(1);
  });

  it('sets aside partition directories it has no topic for, and removes leftover -delete directories', async () => {
    const m = await open();
    await m.createTopic('known', 1);
    await m.close();
    managers.length = 0;
    fs.mkdirSync(path.join(dir, 'unknown-0'));
    fs.mkdirSync(path.join(dir, 'known-7'));
    fs.mkdirSync(path.join(dir, 'known-0.0123456789abcdef0123456789abcdef-delete'));
    const m2 = await open();
    const names = fs.readdirSync(dir);
    expect(names.filter((n) => n.endsWith('-stray'))).toHaveLength(2);
    expect(names).not.toContain('unknown-0');
    expect(names.filter((n) => n.endsWith('-delete'))).toEqual([]);
    expect(m2.topicNames()).toEqual(['known']);
    // A new partition never adopts a directory that was already there.
    fs.mkdirSync(path.join(dir, 'fresh-0'));
    fs.writeFileSync(path.join(dir, 'fresh-0', '00000000000000000000.log'), 'old bytes');
    await m2.createTopic('fresh', 1);
    expect(m2.partition('fresh', 0)!.logEndOffset).toBe(0);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('fresh-0.') && n.endsWith('-stray'))).toHaveLength(1);
  });

  it('a corrupt topics file stops the start with a storage error naming it', async () => {
    const m = await open();
    await m.createTopic('x', 1);
    await m.close();
    managers.length = 0;
    fs.writeFileSync(path.join(dir, TOPICS_FILE), '{ not json');
    await expect(LogManager.open({ dataDir: dir, config: brokerConfig(), io })).rejects.toMatchObject({ errorCode: ErrorCode.KAFKA_STORAGE_ERROR });
  });
});
