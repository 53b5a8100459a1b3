import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startBroker } from '../../src/broker/start.js';
import type { KafkaConnection } from '../../src/client/kafka-connection.js';
import { ApiKey } from '../../src/protocol/index.js';
import { connect, createTopic } from '../helpers/broker.js';

const CONFIG = { 'group.initial.rebalance.delay.ms': 0, 'offsets.topic.num.partitions': 2, 'offsets.retention.minutes': 1 };
const RETENTION_MS = 60_000;

function commit(c: KafkaConnection, version: number, groupId: string, generationId: number, memberId: string, offset: number, retentionTimeMs = -1) {
  return c.request(ApiKey.OffsetCommit, version, {
    groupId,
    generationIdOrMemberEpoch: generationId,
    memberId,
    groupInstanceId: null,
    retentionTimeMs,
    topics: [{ name: 'retained', partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: null }] }],
  });
}

async function committedOffset(c: KafkaConnection, groupId: string): Promise<number> {
  const res = await c.request(ApiKey.OffsetFetch, 3, { groupId, topics: [{ name: 'retained', partitionIndexes: [0] }] });
  return res.topics[0].partitions[0].committedOffset;
}

async function joinAndSync(c: KafkaConnection, groupId: string): Promise<{ memberId: string; generationId: number }> {
  const joined = await c.request(ApiKey.JoinGroup, 2, { groupId, sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 30_000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] });
  expect(joined.errorCode).toBe(0);
  const synced = await c.request(ApiKey.SyncGroup, 1, { groupId, generationId: joined.generationId, memberId: joined.memberId, assignments: [] });
  expect(synced.errorCode).toBe(0);
  return { memberId: joined.memberId, generationId: joined.generationId };
}

describe('OffsetCommit retention near Long.MAX_VALUE', () => {
  it('is kept as "never expires" instead of overflowing the stored expire timestamp', async () => {
    const running = await startBroker({ port: 0, config: CONFIG });
    try {
      const c = await connect(running);
      await createTopic(c, 'retained', 1);
      const res = await commit(c, 2, 'g-long-max', -1, '', 7, 9_223_372_036_854_775_807);
      expect(res.topics[0].partitions[0].errorCode).toBe(0);
      expect(await committedOffset(c, 'g-long-max')).toBe(7);
      // A committed offset of Long.MAX_VALUE itself is stored, not an encoder crash.
      const max = await commit(c, 2, 'g-long-max-offset', -1, '', 9_223_372_036_854_775_807);
      expect(max.topics[0].partitions[0].errorCode).toBe(0);
      expect(await committedOffset(c, 'g-long-max-offset')).toBeGreaterThan(Number.MAX_SAFE_INTEGER);
    } finally {
      await running.close();
    }
  });
});

describe('offsets.retention.minutes', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'penstock-retention-'));
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('expires offsets of simple and Empty groups, keeps those of groups with members, and the expiry survives a restart', async () => {
    let running = await startBroker({ port: 0, dataDir, config: CONFIG });
    let c = await connect(running);
    await createTopic(c, 'retained', 1);
    await commit(c, 7, 'g-simple', -1, '', 11);
    // OffsetCommit v2 may carry its own retention: it expires at commit + retentionTimeMs.
    await commit(c, 2, 'g-explicit', -1, '', 22, 1_000);
    const stable = await joinAndSync(c, 'g-stable');
    await commit(c, 7, 'g-stable', stable.generationId, stable.memberId, 33);
    const leaving = await joinAndSync(c, 'g-empty');
    await commit(c, 7, 'g-empty', leaving.generationId, leaving.memberId, 44);
    expect((await c.request(ApiKey.LeaveGroup, 1, { groupId: 'g-empty', memberId: leaving.memberId })).errorCode).toBe(0);

    const groups = running.broker.groups;
    expect(await groups.cleanupExpiredOffsets(Date.now() + 2_000)).toBe(1);
    expect(await committedOffset(c, 'g-explicit')).toBe(-1);
    expect(await committedOffset(c, 'g-simple')).toBe(11);

    expect(await groups.cleanupExpiredOffsets(Date.now() + RETENTION_MS + 1_000)).toBe(2);
    expect(await committedOffset(c, 'g-simple')).toBe(-1);
    expect(await committedOffset(c, 'g-empty')).toBe(-1);
    expect(await committedOffset(c, 'g-stable')).toBe(33);
    const listed = (await c.request(ApiKey.ListGroups, 1, {})).groups.map((g: any) => g.groupId).sort();
    expect(listed).toEqual(['g-stable']);
    await running.close();

    running = await startBroker({ port: 0, dataDir, config: CONFIG });
    try {
      c = await connect(running);
      for (const g of ['g-simple', 'g-explicit', 'g-empty']) expect(await committedOffset(c, g)).toBe(-1);
      expect(await committedOffset(c, 'g-stable')).toBe(33);
      expect((await c.request(ApiKey.ListGroups, 1, {})).groups.map((g: any) => g.groupId)).toEqual(['g-stable']);
    } finally {
      await running.close();
    }
  });
});
