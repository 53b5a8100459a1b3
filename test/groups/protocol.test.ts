import { describe, expect, it } from 'vitest';
import type { KafkaConnection } from '../../src/client/kafka-connection.js';
import { ApiKey, ErrorCode } from '../../src/protocol/index.js';
import { connect, createTopic, useBroker } from '../helpers/broker.js';

const RANGE = { name: 'range', metadata: Buffer.from('range-meta') };
const ROUNDROBIN = { name: 'roundrobin', metadata: Buffer.from('rr-meta') };

interface JoinOptions {
  memberId?: string;
  groupInstanceId?: string | null;
  sessionTimeoutMs?: number;
  rebalanceTimeoutMs?: number;
  protocolType?: string;
  protocols?: { name: string; metadata: Buffer }[];
}

function join(c: KafkaConnection, version: number, groupId: string, o: JoinOptions = {}) {
  return c.request(ApiKey.JoinGroup, version, {
    groupId,
    sessionTimeoutMs: o.sessionTimeoutMs ?? 10_000,
    rebalanceTimeoutMs: o.rebalanceTimeoutMs ?? 10_000,
    memberId: o.memberId ?? '',
    groupInstanceId: o.groupInstanceId ?? null,
    protocolType: o.protocolType ?? 'consumer',
    protocols: o.protocols ?? [RANGE],
  });
}

/** JoinGroup v4 the way clients do it: the first answer is MEMBER_ID_REQUIRED with the id to use. */
async function joinV4(c: KafkaConnection, groupId: string, o: JoinOptions = {}) {
  const first = await join(c, 4, groupId, o);
  expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
  return join(c, 4, groupId, { ...o, memberId: first.memberId });
}

function sync(c: KafkaConnection, groupId: string, generationId: number, memberId: string, assignments: { memberId: string; assignment: Buffer }[] = []) {
  return c.request(ApiKey.SyncGroup, 3, { groupId, generationId, memberId, groupInstanceId: null, assignments });
}

function heartbeat(c: KafkaConnection, groupId: string, generationId: number, memberId: string, groupInstanceId: string | null = null) {
  return c.request(ApiKey.Heartbeat, 3, { groupId, generationId, memberId, groupInstanceId });
}

function commit(c: KafkaConnection, groupId: string, generationId: number, memberId: string, topic: string, offsets: [number, number][], version = 7, metadata: string | null = 'm') {
  return c.request(ApiKey.OffsetCommit, version, {
    groupId,
    generationIdOrMemberEpoch: generationId,
    memberId,
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [{ name: topic, partitions: offsets.map(([partitionIndex, committedOffset]) => ({ partitionIndex, committedOffset, committedLeaderEpoch: -1, committedMetadata: metadata })) }],
  });
}

function commitCodes(res: any): number[] {
  return res.topics.flatMap((t: any) => t.partitions.map((p: any) => p.errorCode));
}

function fetchOffsets(c: KafkaConnection, groupId: string, topics: { name: string; partitionIndexes: number[] }[] | null, version = 5) {
  return c.request(ApiKey.OffsetFetch, version, { groupId, topics });
}

function describeGroup(c: KafkaConnection, groupId: string) {
  return c.request(ApiKey.DescribeGroups, 2, { groups: [groupId] }).then((r: any) => r.groups[0]);
}

describe('group coordinator: protocol and error codes per state', () => {
  const broker = useBroker({ config: { 'group.min.session.timeout.ms': 200, 'offsets.topic.num.partitions': 4 } });

  it('FindCoordinator names this broker for groups (v0-v2) and has no transaction coordinator', async () => {
    const c = await connect(broker());
    for (const version of [0, 1, 2]) {
      const res = await c.request(ApiKey.FindCoordinator, version, { key: 'g', keyType: 0 });
      expect(res).toMatchObject({ errorCode: 0, nodeId: 0, host: '127.0.0.1', port: broker().port });
    }
    const txn = await c.request(ApiKey.FindCoordinator, 1, { key: 'txn', keyType: 1 });
    expect(txn.errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  });

  it('creates __consumer_offsets as an internal topic with offsets.topic.num.partitions partitions', async () => {
    const topic = broker().broker.logs.getTopic('__consumer_offsets');
    expect(topic?.internal).toBe(true);
    expect(topic?.partitions).toHaveLength(4);
    expect(topic?.config['cleanup.policy']).toBe('compact');
  });

  it('answers MEMBER_ID_REQUIRED on JoinGroup v4 with an empty member id, then admits that id', async () => {
    const c = await connect(broker(), 'member-id-client');
    const first = await join(c, 4, 'g-member-id');
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    expect(first.memberId).toMatch(/^member-id-client-[0-9a-f-]{36}$/);
    expect(first.generationId).toBe(-1);
    const second = await join(c, 4, 'g-member-id', { memberId: first.memberId });
    expect(second).toMatchObject({ errorCode: 0, generationId: 1, protocolName: 'range', leader: first.memberId, memberId: first.memberId });
    expect(second.members).toEqual([{ memberId: first.memberId, groupInstanceId: null, metadata: RANGE.metadata }]);
    // v3 and below never ask for a member id.
    const old = await join(await connect(broker()), 3, 'g-member-id-v3');
    expect(old.errorCode).toBe(0);
  });

  it('rejects session timeouts outside group.min/max.session.timeout.ms and empty group ids', async () => {
    const c = await connect(broker());
    expect((await join(c, 2, 'g-timeouts', { sessionTimeoutMs: 100 })).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT);
    expect((await join(c, 2, 'g-timeouts', { sessionTimeoutMs: 1_800_001 })).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT);
    expect((await join(c, 2, '')).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
    expect((await heartbeat(c, '', 0, 'x')).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
    // A failed first join leaves no group behind.
    const listed = await c.request(ApiKey.ListGroups, 2, {});
    expect(listed.groups.map((g: any) => g.groupId)).not.toContain('g-timeouts');
  });

  it('answers UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION and INCONSISTENT_GROUP_PROTOCOL', async () => {
    const a = await connect(broker());
    const b = await connect(broker());
    const joined = await join(a, 2, 'g-errors', { protocols: [RANGE, ROUNDROBIN] });
    expect(joined.errorCode).toBe(0);
    const synced = await sync(a, 'g-errors', joined.generationId, joined.memberId, [{ memberId: joined.memberId, assignment: Buffer.from('all') }]);
    expect(synced).toMatchObject({ errorCode: 0, assignment: Buffer.from('all') });

    expect((await heartbeat(a, 'g-errors', joined.generationId, 'nobody')).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await heartbeat(a, 'no-such-group', 1, 'nobody')).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await join(a, 2, 'no-such-group', { memberId: 'nobody' })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await sync(a, 'g-errors', joined.generationId, 'nobody')).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await heartbeat(a, 'g-errors', joined.generationId + 1, joined.memberId)).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect((await sync(a, 'g-errors', joined.generationId - 1, joined.memberId)).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect((await heartbeat(a, 'g-errors', joined.generationId, joined.memberId)).errorCode).toBe(0);

    // No protocol in common with the group, or another protocol type: refused, and no rebalance.
    const other = await join(b, 2, 'g-errors', { protocols: [{ name: 'sticky', metadata: Buffer.alloc(0) }] });
    expect(other.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect((await join(b, 2, 'g-errors', { protocolType: 'connect', protocols: [RANGE] })).errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect((await join(b, 2, 'g-errors', { protocols: [] })).errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect((await describeGroup(a, 'g-errors')).groupState).toBe('Stable');

    const stale = await c2Commit(a, joined.generationId + 5, joined.memberId);
    expect(stale).toEqual([ErrorCode.ILLEGAL_GENERATION]);
    expect(await c2Commit(a, joined.generationId, 'nobody')).toEqual([ErrorCode.UNKNOWN_MEMBER_ID]);
    // Generation -1 without a member id is for groups nobody is a member of.
    expect(await c2Commit(a, -1, '')).toEqual([ErrorCode.UNKNOWN_MEMBER_ID]);

    async function c2Commit(c: KafkaConnection, generation: number, memberId: string) {
      await ensureTopic(c, 'errors-topic', 1);
      return commitCodes(await commit(c, 'g-errors', generation, memberId, 'errors-topic', [[0, 1]]));
    }
  });

  it('walks a two-member rebalance: REBALANCE_IN_PROGRESS on heartbeat and commit, leader-only metadata, assignments', async () => {
    await ensureTopic(await connect(broker()), 'rebalance-topic', 2);
    const a = await connect(broker(), 'client-a');
    const b = await connect(broker(), 'client-b');
    const g = 'g-rebalance';
    const first = await joinV4(a, g, { protocols: [RANGE, ROUNDROBIN] });
    expect(first.errorCode).toBe(0);
    expect((await sync(a, g, first.generationId, first.memberId, [{ memberId: first.memberId, assignment: Buffer.from('p0p1') }])).errorCode).toBe(0);

    // B's join parks and starts a rebalance; A learns it from its heartbeat.
    const bJoinedPromise = joinV4(b, g, { protocols: [ROUNDROBIN, RANGE] });
    await waitFor(async () => (await describeGroup(a, g)).groupState === 'PreparingRebalance');
    expect((await heartbeat(a, g, first.generationId, first.memberId)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect((await sync(a, g, first.generationId, first.memberId)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    // Still a member of the previous generation: its commit is accepted while preparing.
    expect(commitCodes(await commit(a, g, first.generationId, first.memberId, 'rebalance-topic', [[0, 5]]))).toEqual([0]);

    const aRejoined = await join(a, 4, g, { memberId: first.memberId, protocols: [RANGE, ROUNDROBIN] });
    const bJoined = await bJoinedPromise;
    expect(aRejoined.generationId).toBe(first.generationId + 1);
    expect(bJoined.generationId).toBe(aRejoined.generationId);
    // The old leader keeps leading; it alone gets the members' metadata for the chosen protocol.
    expect(aRejoined.leader).toBe(first.memberId);
    expect(bJoined.leader).toBe(first.memberId);
    expect(['range', 'roundrobin']).toContain(aRejoined.protocolName);
    expect(bJoined.protocolName).toBe(aRejoined.protocolName);
    const chosen = aRejoined.protocolName === 'range' ? RANGE : ROUNDROBIN;
    expect(new Set(aRejoined.members.map((m: any) => m.memberId))).toEqual(new Set([first.memberId, bJoined.memberId]));
    for (const m of aRejoined.members) expect(m.metadata).toEqual(chosen.metadata);
    expect(bJoined.members).toEqual([]);

    // CompletingRebalance: commits wait for the assignment, heartbeats are fine.
    const gen = aRejoined.generationId;
    expect(commitCodes(await commit(a, g, gen, first.memberId, 'rebalance-topic', [[0, 6]]))).toEqual([ErrorCode.REBALANCE_IN_PROGRESS]);
    expect((await heartbeat(a, g, gen, first.memberId)).errorCode).toBe(0);
    expect((await describeGroup(a, g)).groupState).toBe('CompletingRebalance');

    const bSync = sync(b, g, gen, bJoined.memberId);
    const aSync = await sync(a, g, gen, first.memberId, [
      { memberId: first.memberId, assignment: Buffer.from('p0') },
      { memberId: bJoined.memberId, assignment: Buffer.from('p1') },
    ]);
    expect(aSync).toMatchObject({ errorCode: 0, assignment: Buffer.from('p0') });
    expect(await bSync).toMatchObject({ errorCode: 0, assignment: Buffer.from('p1') });

    const described = await describeGroup(a, g);
    expect(described).toMatchObject({ errorCode: 0, groupState: 'Stable', protocolType: 'consumer', protocolData: chosen.name });
    expect(described.members.map((m: any) => [m.clientId, m.clientHost, m.memberAssignment.toString()]).sort()).toEqual([
      ['client-a', '/127.0.0.1', 'p0'],
      ['client-b', '/127.0.0.1', 'p1'],
    ]);

    expect(commitCodes(await commit(b, g, gen, bJoined.memberId, 'rebalance-topic', [[1, 9]]))).toEqual([0]);
    const fetched = await fetchOffsets(a, g, [{ name: 'rebalance-topic', partitionIndexes: [0, 1] }]);
    expect(fetched.topics[0].partitions.map((p: any) => [p.partitionIndex, p.committedOffset, p.metadata])).toEqual([
      [0, 5, 'm'],
      [1, 9, 'm'],
    ]);

    // DeleteGroups refuses a group with members.
    const del = await a.request(ApiKey.DeleteGroups, 1, { groupsNames: [g, 'never-existed'] });
    expect(del.results).toEqual([
      { groupId: g, errorCode: ErrorCode.NON_EMPTY_GROUP },
      { groupId: 'never-existed', errorCode: ErrorCode.GROUP_ID_NOT_FOUND },
    ]);

    // LeaveGroup v3 (batch) for both; the group ends Empty and can then be deleted with its offsets.
    const left = await a.request(ApiKey.LeaveGroup, 3, {
      groupId: g,
      members: [
        { memberId: first.memberId, groupInstanceId: null },
        { memberId: bJoined.memberId, groupInstanceId: null },
        { memberId: 'stranger', groupInstanceId: null },
      ],
    });
    expect(left.errorCode).toBe(0);
    expect(left.members.map((m: any) => m.errorCode)).toEqual([0, 0, ErrorCode.UNKNOWN_MEMBER_ID]);
    await waitFor(async () => (await describeGroup(a, g)).groupState === 'Empty');
    expect((await a.request(ApiKey.DeleteGroups, 1, { groupsNames: [g] })).results).toEqual([{ groupId: g, errorCode: 0 }]);
    const after = await fetchOffsets(a, g, [{ name: 'rebalance-topic', partitionIndexes: [0] }]);
    expect(after.topics[0].partitions[0]).toMatchObject({ committedOffset: -1, errorCode: 0 });
    expect((await describeGroup(a, g)).groupState).toBe('Dead');
  });

  it('accepts commits with generation -1 from a consumer without group management, and fetches them', async () => {
    const c = await connect(broker());
    await ensureTopic(c, 'simple-topic', 3);
    const res = await commit(c, 'g-simple', -1, '', 'simple-topic', [[0, 10], [2, 30]], 2, null);
    expect(commitCodes(res)).toEqual([0, 0]);
    // v1 (kafka-python): named partitions; unknown ones answer -1.
    const v1 = await fetchOffsets(c, 'g-simple', [{ name: 'simple-topic', partitionIndexes: [0, 1, 2] }], 1);
    expect(v1.topics[0].partitions.map((p: any) => [p.partitionIndex, p.committedOffset, p.metadata, p.errorCode])).toEqual([
      [0, 10, '', 0],
      [1, -1, '', 0],
      [2, 30, '', 0],
    ]);
    // v2+: null topics = everything committed.
    const all = await fetchOffsets(c, 'g-simple', null, 3);
    expect(all.errorCode).toBe(0);
    expect(all.topics).toHaveLength(1);
    expect(all.topics[0].partitions.map((p: any) => [p.partitionIndex, p.committedOffset])).toEqual([
      [0, 10],
      [2, 30],
    ]);
    const listed = await c.request(ApiKey.ListGroups, 0, {});
    expect(listed.groups).toContainEqual({ groupId: 'g-simple', protocolType: '' });
    // A group that does not exist yet: a generation >= 0 is from a group that is gone.
    expect(commitCodes(await commit(c, 'g-never', 3, 'm-1', 'simple-topic', [[0, 1]]))).toEqual([ErrorCode.ILLEGAL_GENERATION]);
    // Unknown partitions and oversized metadata are per-partition errors.
    const mixed = await commit(c, 'g-simple', -1, '', 'simple-topic', [[0, 11], [7, 1]]);
    expect(commitCodes(mixed)).toEqual([0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    const big = await commit(c, 'g-simple', -1, '', 'simple-topic', [[1, 1]], 7, 'x'.repeat(4097));
    expect(commitCodes(big)).toEqual([ErrorCode.OFFSET_METADATA_TOO_LARGE]);
  });

  it('expires a silent member after its session timeout and rebalances the rest', async () => {
    const a = await connect(broker());
    const b = await connect(broker());
    const g = 'g-session';
    const aJoin = await join(a, 2, g, { sessionTimeoutMs: 5_000 });
    await sync(a, g, aJoin.generationId, aJoin.memberId, []);
    const bJoinP = join(b, 2, g, { sessionTimeoutMs: 300 });
    await waitFor(async () => (await heartbeat(a, g, aJoin.generationId, aJoin.memberId)).errorCode === ErrorCode.REBALANCE_IN_PROGRESS);
    const aRejoin = await join(a, 2, g, { memberId: aJoin.memberId, sessionTimeoutMs: 5_000 });
    const bJoin = await bJoinP;
    expect(bJoin.generationId).toBe(aRejoin.generationId);
    const bSync = sync(b, g, bJoin.generationId, bJoin.memberId);
    await sync(a, g, aRejoin.generationId, aJoin.memberId, []);
    expect((await bSync).errorCode).toBe(0);

    // B goes silent; A keeps heartbeating and, within a few of B's session timeouts, is told to rejoin.
    const started = Date.now();
    await waitFor(async () => (await heartbeat(a, g, aRejoin.generationId, aJoin.memberId)).errorCode === ErrorCode.REBALANCE_IN_PROGRESS, 5_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    const alone = await join(a, 2, g, { memberId: aJoin.memberId, sessionTimeoutMs: 5_000 });
    expect(alone.generationId).toBe(aRejoin.generationId + 1);
    expect(alone.members.map((m: any) => m.memberId)).toEqual([aJoin.memberId]);
    expect((await heartbeat(b, g, bJoin.generationId, bJoin.memberId)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('drops members that do not rejoin within the rebalance timeout', async () => {
    const a = await connect(broker());
    const b = await connect(broker());
    const g = 'g-rebalance-timeout';
    const aJoin = await join(a, 2, g, { sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 400 });
    await sync(a, g, aJoin.generationId, aJoin.memberId, []);
    // A keeps heartbeating (so its session stays alive) but never rejoins.
    const b1 = await join(b, 2, g, { sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 400 });
    expect(b1.errorCode).toBe(0);
    expect(b1.members.map((m: any) => m.memberId)).toEqual([b1.memberId]);
    expect(b1.leader).toBe(b1.memberId);
    expect((await heartbeat(a, g, aJoin.generationId, aJoin.memberId)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('lets a static member (JoinGroup v5) come back under a new member id without a rebalance, fencing the old id', async () => {
    const a = await connect(broker());
    const g = 'g-static';
    const first = await join(a, 5, g, { groupInstanceId: 'instance-1' });
    expect(first.errorCode).toBe(0);
    expect(first.members).toEqual([{ memberId: first.memberId, groupInstanceId: 'instance-1', metadata: RANGE.metadata }]);
    await sync(a, g, first.generationId, first.memberId, [{ memberId: first.memberId, assignment: Buffer.from('mine') }]);

    const again = await join(await connect(broker()), 5, g, { groupInstanceId: 'instance-1' });
    expect(again.errorCode).toBe(0);
    expect(again.memberId).not.toBe(first.memberId);
    expect(again.generationId).toBe(first.generationId);
    expect((await heartbeat(a, g, first.generationId, first.memberId, 'instance-1')).errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID);
    expect((await heartbeat(a, g, first.generationId, again.memberId, 'instance-1')).errorCode).toBe(0);
    const s = await sync(a, g, first.generationId, again.memberId);
    expect(s).toMatchObject({ errorCode: 0, assignment: Buffer.from('mine') });
    expect((await describeGroup(a, g)).groupState).toBe('Stable');
    // An admin removes it by instance id alone.
    const left = await a.request(ApiKey.LeaveGroup, 3, { groupId: g, members: [{ memberId: '', groupInstanceId: 'instance-1' }] });
    expect(left.members[0].errorCode).toBe(0);
    await waitFor(async () => (await describeGroup(a, g)).groupState === 'Empty');
  });

  it('LeaveGroup v0-v2 answer the member error at the top level', async () => {
    const a = await connect(broker());
    const joined = await join(a, 1, 'g-leave-v1');
    expect((await a.request(ApiKey.LeaveGroup, 1, { groupId: 'g-leave-v1', memberId: 'stranger', members: [] })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await a.request(ApiKey.LeaveGroup, 0, { groupId: 'g-leave-v1', memberId: joined.memberId, members: [] })).errorCode).toBe(0);
  });
});

describe('group coordinator: the initial rebalance delay', () => {
  const broker = useBroker({ config: { 'group.initial.rebalance.delay.ms': 500, 'offsets.topic.num.partitions': 2 } });

  it('extends the first rebalance while members keep arriving, then picks the protocol most members prefer', async () => {
    const g = 'g-initial-delay';
    const conns = await Promise.all([connect(broker()), connect(broker()), connect(broker())]);
    const preferences = [[RANGE, ROUNDROBIN], [ROUNDROBIN, RANGE], [RANGE, ROUNDROBIN]];
    // Joins 300 ms apart: each lands inside the (extended) delay, so one generation holds all three.
    const joins = [];
    for (let i = 0; i < 3; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 300));
      joins.push(join(conns[i]!, 3, g, { protocols: preferences[i] }));
    }
    const results = await Promise.all(joins);
    for (const r of results) {
      expect(r.errorCode).toBe(0);
      expect(r.generationId).toBe(1);
      expect(r.protocolName).toBe('range');
    }
    const leaders = results.filter((r) => r.members.length > 0);
    expect(leaders).toHaveLength(1);
    expect(leaders[0].members).toHaveLength(3);
  });
});

describe('group coordinator shutdown', () => {
  it('answers parked joins and leaves no timer behind when the broker closes', async () => {
    const { startBroker } = await import('../../src/broker/start.js');
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const running = await startBroker({ port: 0, config: { 'group.initial.rebalance.delay.ms': 60_000, 'offsets.topic.num.partitions': 2 } });
    const c = await connect(running);
    // The initial delay keeps this join parked until the broker goes away.
    const parked = join(c, 2, 'g-parked', { rebalanceTimeoutMs: 120_000 });
    await waitFor(async () => running.broker.groups.group('g-parked')?.state === 'PreparingRebalance');
    expect(running.broker.groups.timer.size).toBeGreaterThan(0);
    const closing = running.close();
    const answer = await parked.catch((err: Error) => err);
    await closing;
    // Either answered NOT_COORDINATOR or the socket closed under it; never left hanging.
    if (!(answer instanceof Error)) expect(answer.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(running.broker.groups.timer.size).toBe(0);
    expect(running.broker.groups.timer.armed).toBe(false);
    const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    expect(after).toBeLessThanOrEqual(before);
  });
});

async function ensureTopic(c: KafkaConnection, name: string, partitions: number): Promise<void> {
  try {
    await createTopic(c, name, partitions);
  } catch (err) {
    if (!/error 36/.test((err as Error).message)) throw err;
  }
}

/** Polls `check` every 20 ms until it holds, failing after `timeoutMs`. */
async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

describe('group coordinator: __consumer_offsets is created on first use', () => {
  const broker = useBroker({ config: { 'offsets.topic.num.partitions': 3 } });

  it('starts without the topic, and the first group request creates it', async () => {
    expect(broker().broker.logs.getTopic('__consumer_offsets')).toBeUndefined();
    const c = await connect(broker());
    const res = await c.request(ApiKey.FindCoordinator, 0, { key: 'first-group' });
    expect(res.errorCode).toBe(0);
    expect(broker().broker.logs.getTopic('__consumer_offsets')?.partitions).toHaveLength(3);
  });
});
