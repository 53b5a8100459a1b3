import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../src/broker/start.js';
import type { KafkaConnection } from '../../src/client/kafka-connection.js';
import { ApiKey, ErrorCode } from '../../src/protocol/index.js';
import { connect, createTopic } from '../helpers/broker.js';
import { run } from '../helpers/process.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const CONFIG = { 'group.initial.rebalance.delay.ms': 0, 'group.min.session.timeout.ms': 200, 'offsets.topic.num.partitions': 3 };

function commit(c: KafkaConnection, groupId: string, generationId: number, memberId: string, topic: string, offsets: [number, number][]) {
  return c.request(ApiKey.OffsetCommit, 7, {
    groupId,
    generationIdOrMemberEpoch: generationId,
    memberId,
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [{ name: topic, partitions: offsets.map(([partitionIndex, committedOffset]) => ({ partitionIndex, committedOffset, committedLeaderEpoch: 2, committedMetadata: `meta-${committedOffset}` })) }],
  });
}

async function fetched(c: KafkaConnection, groupId: string): Promise<[string, number, number, string | null][]> {
  const res = await c.request(ApiKey.OffsetFetch, 5, { groupId, topics: null });
  expect(res.errorCode).toBe(0);
  return res.topics.flatMap((t: any) => t.partitions.map((p: any) => [t.name, p.partitionIndex, p.committedOffset, p.metadata]));
}

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

describe('committed offsets and groups across restarts', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'penstock-groups-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('replays commits and group metadata after a clean restart; the member is kept until its session expires', async () => {
    const dataDir = tempDir();
    let running: RunningBroker = await startBroker({ port: 0, dataDir, config: CONFIG });
    let c = await connect(running);
    await createTopic(c, 'restart-topic', 3);
    expect((await commit(c, 'g-simple', -1, '', 'restart-topic', [[0, 5], [1, 6], [2, 7]])).topics[0].partitions.map((p: any) => p.errorCode)).toEqual([0, 0, 0]);
    const joined = await c.request(ApiKey.JoinGroup, 2, {
      groupId: 'g-managed',
      sessionTimeoutMs: 1_000,
      rebalanceTimeoutMs: 5_000,
      memberId: '',
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.from('sub') }],
    });
    expect(joined.errorCode).toBe(0);
    const synced = await c.request(ApiKey.SyncGroup, 1, { groupId: 'g-managed', generationId: 1, memberId: joined.memberId, assignments: [{ memberId: joined.memberId, assignment: Buffer.from('asg') }] });
    expect(synced.errorCode).toBe(0);
    expect((await commit(c, 'g-managed', 1, joined.memberId, 'restart-topic', [[0, 42]])).topics[0].partitions[0].errorCode).toBe(0);
    // A deleted group stays deleted.
    await commit(c, 'g-deleted', -1, '', 'restart-topic', [[0, 1]]);
    expect((await c.request(ApiKey.DeleteGroups, 1, { groupsNames: ['g-deleted'] })).results[0].errorCode).toBe(0);
    await running.close();

    running = await startBroker({ port: 0, dataDir, config: CONFIG });
    try {
      c = await connect(running);
      expect(await fetched(c, 'g-simple')).toEqual([
        ['restart-topic', 0, 5, 'meta-5'],
        ['restart-topic', 1, 6, 'meta-6'],
        ['restart-topic', 2, 7, 'meta-7'],
      ]);
      expect(await fetched(c, 'g-managed')).toEqual([['restart-topic', 0, 42, 'meta-42']]);
      expect(await fetched(c, 'g-deleted')).toEqual([]);
      const leaderEpoch = (await c.request(ApiKey.OffsetFetch, 5, { groupId: 'g-managed', topics: [{ name: 'restart-topic', partitionIndexes: [0] }] })).topics[0].partitions[0].committedLeaderEpoch;
      expect(leaderEpoch).toBe(2);

      // Like Kafka after a coordinator move: the group is back Stable with its member, generation and assignment.
      const described = (await c.request(ApiKey.DescribeGroups, 0, { groups: ['g-managed'] })).groups[0];
      expect(described).toMatchObject({ groupState: 'Stable', protocolType: 'consumer', protocolData: 'range' });
      expect(described.members.map((m: any) => [m.memberId, m.memberAssignment.toString(), m.memberMetadata.toString()])).toEqual([[joined.memberId, 'asg', 'sub']]);
      expect((await c.request(ApiKey.Heartbeat, 1, { groupId: 'g-managed', generationId: 1, memberId: joined.memberId })).errorCode).toBe(0);
      // ...and a member that does not come back is expired by its session timeout.
      await waitFor(async () => (await c.request(ApiKey.DescribeGroups, 0, { groups: ['g-managed'] })).groups[0].groupState === 'Empty', 10_000);
      const rejoined = await c.request(ApiKey.JoinGroup, 2, { groupId: 'g-managed', sessionTimeoutMs: 1_000, rebalanceTimeoutMs: 5_000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] });
      expect(rejoined.generationId).toBe(3);
    } finally {
      await running.close();
    }
  });

  it('a kafkajs member carries on across a clean restart without rejoining, and reads each record once', async () => {
    const dataDir = tempDir();
    let running = await startBroker({ port: 0, dataDir, config: CONFIG });
    const port = running.port;
    const kafka = new Kafka({ clientId: 'restart', brokers: [running.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 50 } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'kjs-restart', numPartitions: 2 }] });
    await admin.disconnect();
    const producer = kafka.producer();
    const consumer = kafka.consumer({ groupId: 'kjs-restart-group', sessionTimeout: 6_000, heartbeatInterval: 200, maxWaitTimeInMs: 100 });
    const seen: string[] = [];
    let joins = 0;
    consumer.on(consumer.events.GROUP_JOIN, () => joins++);
    try {
      await producer.connect();
      await consumer.connect();
      await consumer.subscribe({ topic: 'kjs-restart', fromBeginning: true });
      await consumer.run({ autoCommitInterval: 50, eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
      await producer.send({ topic: 'kjs-restart', messages: [{ value: 'a', partition: 0 }, { value: 'b', partition: 1 }] });
      await waitFor(() => seen.length === 2, 10_000);
      await waitFor(() => running.broker.groups.fetchOffsets('kjs-restart-group', null).topics[0]?.partitions.every((p) => p.offset === 1) ?? false, 10_000);
      await running.close();
      running = await startBroker({ port, dataDir, config: CONFIG });
      await producer.send({ topic: 'kjs-restart', messages: [{ value: 'c', partition: 0 }] });
      await waitFor(() => seen.length >= 3, 15_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(seen.sort()).toEqual(['a', 'b', 'c']);
      // The restored Stable group accepted its heartbeats: no second JoinGroup.
      expect(joins).toBe(1);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await running.close();
    }
  });

  describe('after kill -9', () => {
    let buildRoot = '';
    beforeAll(async () => {
      // `npm test` builds dist first; use it when no source file is newer than it.
      if (distIsFresh()) {
        buildRoot = REPO;
        return;
      }
      // Otherwise a private build of src (tsc emits even if someone else's file has a type error right now).
      buildRoot = tempDir();
      fs.writeFileSync(path.join(buildRoot, 'package.json'), '{"type":"module"}\n');
      fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(buildRoot, 'node_modules'), 'dir');
      // The addon is found relative to the package root, as in dist/.
      if (fs.existsSync(path.join(REPO, 'build'))) fs.symlinkSync(path.join(REPO, 'build'), path.join(buildRoot, 'build'), 'dir');
      const tsc = await run(process.execPath, [path.join(REPO, 'node_modules/typescript/bin/tsc'), '-p', path.join(REPO, 'tsconfig.build.json'), '--outDir', path.join(buildRoot, 'dist'), '--declaration', 'false', '--sourceMap', 'false'], { timeoutMs: 120_000 });
      if (!fs.existsSync(path.join(buildRoot, 'dist/broker/start.js'))) throw new Error(`build failed: ${tsc.stdout}${tsc.stderr}`);
    }, 150_000);

    function spawnBroker(dataDir: string): Promise<{ child: ChildProcess; port: number }> {
      const script = `
        const { startBroker } = await import(process.argv[1]);
        const b = await startBroker({ port: 0, dataDir: process.argv[2], config: JSON.parse(process.argv[3]) });
        process.stdout.write(JSON.stringify({ port: b.port }) + '\\n');
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, path.join(buildRoot, 'dist/broker/start.js'), dataDir, JSON.stringify(CONFIG)], { stdio: ['ignore', 'pipe', 'pipe'] });
      return new Promise((resolve, reject) => {
        let out = '';
        let err = '';
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`broker child did not start: ${err}`));
        }, 20_000);
        child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          const line = out.split('\n').find((l) => l.startsWith('{"port"'));
          if (line) {
            clearTimeout(timer);
            resolve({ child, port: (JSON.parse(line) as { port: number }).port });
          }
        });
        child.on('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`broker child exited with ${code}: ${err}`));
        });
      });
    }

    it('keeps every acknowledged commit when the broker process is SIGKILLed', async () => {
      const dataDir = tempDir();
      const { child, port } = await spawnBroker(dataDir);
      const fake = { host: '127.0.0.1', port } as RunningBroker;
      let acked = -1;
      try {
        const c = await connect(fake);
        await createTopic(c, 'kill-topic', 2);
        // Pipelined commits of growing offsets; the last acknowledged one must survive.
        const pending = Array.from({ length: 200 }, (_, i) => commit(c, 'g-kill', -1, '', 'kill-topic', [[0, i + 1], [1, 1000 + i + 1]]));
        for (const [i, p] of pending.entries()) {
          const res = await p;
          expect(res.topics[0].partitions.map((x: any) => x.errorCode)).toEqual([0, 0]);
          acked = i + 1;
        }
      } finally {
        child.kill('SIGKILL');
      }
      await new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
      expect(child.signalCode).toBe('SIGKILL');
      expect(fs.existsSync(path.join(dataDir, '.kafka_cleanshutdown'))).toBe(false);

      const running = await startBroker({ port: 0, dataDir, config: CONFIG });
      try {
        const c = await connect(running);
        expect(await fetched(c, 'g-kill')).toEqual([
          ['kill-topic', 0, acked, `meta-${acked}`],
          ['kill-topic', 1, 1000 + acked, `meta-${1000 + acked}`],
        ]);
      } finally {
        await running.close();
      }
    });
  });

  it('bounds __consumer_offsets by snapshot once segments roll, and replays the same state', async () => {
    const dataDir = tempDir();
    const config = { ...CONFIG, 'offsets.topic.num.partitions': 1, 'offsets.topic.segment.bytes': 4096 };
    let running = await startBroker({ port: 0, dataDir, config });
    let c = await connect(running);
    await createTopic(c, 'compact-topic', 4);
    for (let i = 1; i <= 300; i++) {
      const res = await commit(c, `g-compact-${i % 3}`, -1, '', 'compact-topic', [[i % 4, i]]);
      expect(res.topics[0].partitions[0].errorCode).toBe(0);
    }
    const expected = new Map<string, [string, number, number, string | null][]>();
    for (const g of [0, 1, 2]) expected.set(`g-compact-${g}`, await fetched(c, `g-compact-${g}`));
    // __consumer_offsets exists once the first group request has needed it.
    const log = running.broker.logs.partition('__consumer_offsets', 0)!;
    // 300 commit records, 12 live keys: most segments must be gone.
    expect(log.logStartOffset).toBeGreaterThan(0);
    expect(log.logEndOffset - log.logStartOffset).toBeLessThan(150);
    expect(log.segmentCount).toBeLessThanOrEqual(3);
    await running.close();

    running = await startBroker({ port: 0, dataDir, config });
    try {
      expect(running.broker.logs.partition('__consumer_offsets', 0)!.logStartOffset).toBeGreaterThan(0);
      c = await connect(running);
      for (const [g, offsets] of expected) expect(await fetched(c, g)).toEqual(offsets);
    } finally {
      await running.close();
    }
  });
});

function distIsFresh(): boolean {
  const built = path.join(REPO, 'dist/broker/start.js');
  if (!fs.existsSync(built)) return false;
  const builtAt = fs.statSync(built).mtimeMs;
  const newest = (dir: string): number =>
    fs.readdirSync(dir, { withFileTypes: true }).reduce((max, e) => {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) return Math.max(max, newest(full));
      return e.name.endsWith('.ts') ? Math.max(max, fs.statSync(full).mtimeMs) : max;
    }, 0);
  return newest(path.join(REPO, 'src')) <= builtAt;
}

