/**
 * The client half of classic consumer groups for the CLI: committed offsets (OffsetFetch /
 * OffsetCommit) and a group member (JoinGroup → SyncGroup → Heartbeat … LeaveGroup) that leads with
 * Kafka's range assignor when the coordinator makes it leader.
 */
import type { KafkaConnection } from '../client/kafka-connection.js';
import { ApiKey, ErrorCode } from '../protocol/index.js';
import { BrokerError, tpKey, type ClusterClient, type TopicPartition } from './cluster-client.js';
import { RANGE_ASSIGNOR, decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription, rangeAssign, type Assignment, type Subscription } from './consumer-protocol.js';

export interface PartitionOffset extends TopicPartition {
  offset: number;
}

/**
 * Committed offsets of a group (null partitions: every partition it has committed), keyed by
 * `tpKey`. Partitions without a commit are left out.
 */
export async function fetchCommittedOffsets(
  client: ClusterClient,
  coordinator: KafkaConnection,
  groupId: string,
  partitions: readonly TopicPartition[] | null,
): Promise<Map<string, PartitionOffset>> {
  let topics: { name: string; partitionIndexes: number[] }[] | null = null;
  if (partitions !== null) {
    const byTopic = new Map<string, number[]>();
    for (const p of partitions) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.partition]);
    topics = [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes }));
  }
  const response = await client.call(coordinator, ApiKey.OffsetFetch, { groupId, topics });
  if (response.errorCode !== ErrorCode.NONE) throw new BrokerError(response.errorCode, `offsets of group "${groupId}"`);
  const out = new Map<string, PartitionOffset>();
  for (const topic of response.topics) {
    for (const p of topic.partitions) {
      if (p.errorCode !== ErrorCode.NONE) throw new BrokerError(p.errorCode, `offset of group "${groupId}" for ${topic.name}-${p.partitionIndex}`);
      if (p.committedOffset >= 0) out.set(tpKey(topic.name, p.partitionIndex), { topic: topic.name, partition: p.partitionIndex, offset: p.committedOffset });
    }
  }
  return out;
}

/** Codes that mean "your generation is over: rejoin", not "fail". */
const REJOIN_CODES: ReadonlySet<number> = new Set([ErrorCode.REBALANCE_IN_PROGRESS, ErrorCode.ILLEGAL_GENERATION, ErrorCode.UNKNOWN_MEMBER_ID]);

/**
 * Commits offsets (the next offset to read, as Kafka's consumers do). Generation -1 with an empty
 * member id is the commit of a consumer outside group management, which the coordinator accepts
 * while the group has no members. Resolves 'rejoin' when the member's generation is over.
 */
export async function commitOffsets(
  client: ClusterClient,
  coordinator: KafkaConnection,
  groupId: string,
  member: { generationId: number; memberId: string },
  offsets: readonly PartitionOffset[],
): Promise<'committed' | 'rejoin'> {
  if (offsets.length === 0) return 'committed';
  const byTopic = new Map<string, PartitionOffset[]>();
  for (const o of offsets) byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), o]);
  const response = await client.call(coordinator, ApiKey.OffsetCommit, {
    groupId,
    generationIdOrMemberEpoch: member.generationId,
    memberId: member.memberId,
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [...byTopic].map(([name, list]) => ({
      name,
      partitions: list.map((o) => ({ partitionIndex: o.partition, committedOffset: o.offset, committedLeaderEpoch: -1, committedMetadata: null })),
    })),
  });
  for (const topic of response.topics) {
    for (const p of topic.partitions) {
      if (p.errorCode === ErrorCode.NONE) continue;
      if (REJOIN_CODES.has(p.errorCode) && member.generationId >= 0) return 'rejoin';
      throw new BrokerError(p.errorCode, `commit of group "${groupId}" for ${topic.name}-${p.partitionIndex}`);
    }
  }
  return 'committed';
}

export interface GroupMemberOptions {
  groupId: string;
  topics: readonly string[];
  /** Kafka's consumer defaults are 45 s / 5 min; a command-line tool wants a stopped member gone sooner. */
  sessionTimeoutMs?: number;
  rebalanceTimeoutMs?: number;
  heartbeatIntervalMs?: number;
}

/**
 * One member of a classic consumer group. `join()` runs a whole rebalance and yields this member's
 * partitions; heartbeats then run in the background on their own connection, and `rejoinNeeded`
 * turns true when the coordinator starts a new rebalance.
 */
export class GroupMember {
  memberId = '';
  generationId = -1;
  assignment: Assignment = new Map();
  /** The coordinator said a rebalance is under way (or this member fell out): call join() again. */
  rejoinNeeded = false;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatInFlight = false;
  private joining = false;
  private heartbeatFailure: Error | null = null;
  readonly groupId: string;
  private readonly topics: readonly string[];
  private readonly sessionTimeoutMs: number;
  private readonly rebalanceTimeoutMs: number;
  private readonly heartbeatIntervalMs: number;

  private constructor(
    private readonly client: ClusterClient,
    readonly coordinator: KafkaConnection,
    options: GroupMemberOptions,
  ) {
    this.groupId = options.groupId;
    this.topics = options.topics;
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000;
    this.rebalanceTimeoutMs = options.rebalanceTimeoutMs ?? 30_000;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 3_000;
  }

  /** Finds the group's coordinator and opens a connection of its own to it. */
  static async create(client: ClusterClient, options: GroupMemberOptions): Promise<GroupMember> {
    const nodeId = await client.findCoordinator(options.groupId);
    return new GroupMember(client, await client.dedicatedConnection(nodeId), options);
  }

  /** A heartbeat failed in a way rejoining cannot fix; the consumer should stop with it. */
  get failure(): Error | null {
    return this.heartbeatFailure;
  }

  /** This member's partitions, in topic then partition order. */
  get partitions(): TopicPartition[] {
    return [...this.assignment].flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })));
  }

  /** Joins (or rejoins) the group and waits for this generation's assignment. */
  async join(): Promise<Assignment> {
    this.joining = true;
    try {
      for (let attempt = 0; attempt < 50; attempt++) {
        const joined = await this.client.call(
          this.coordinator,
          ApiKey.JoinGroup,
          {
            groupId: this.groupId,
            sessionTimeoutMs: this.sessionTimeoutMs,
            rebalanceTimeoutMs: this.rebalanceTimeoutMs,
            memberId: this.memberId,
            groupInstanceId: null,
            protocolType: 'consumer',
            protocols: [{ name: RANGE_ASSIGNOR, metadata: encodeSubscription(this.topics) }],
          },
          this.rebalanceTimeoutMs + this.client.requestTimeoutMs,
        );
        if (joined.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
          this.memberId = joined.memberId;
          continue;
        }
        if (joined.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) {
          this.memberId = '';
          continue;
        }
        if (joined.errorCode === ErrorCode.REBALANCE_IN_PROGRESS) continue;
        if (joined.errorCode !== ErrorCode.NONE) throw new BrokerError(joined.errorCode, `joining group "${this.groupId}"`);
        this.memberId = joined.memberId;
        this.generationId = joined.generationId;

        const assignments = joined.leader === joined.memberId ? await this.assign(joined.members) : [];
        const synced = await this.client.call(
          this.coordinator,
          ApiKey.SyncGroup,
          { groupId: this.groupId, generationId: this.generationId, memberId: this.memberId, groupInstanceId: null, assignments },
          this.rebalanceTimeoutMs + this.client.requestTimeoutMs,
        );
        if (synced.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = '';
        if (REJOIN_CODES.has(synced.errorCode)) continue;
        if (synced.errorCode !== ErrorCode.NONE) throw new BrokerError(synced.errorCode, `syncing group "${this.groupId}"`);
        this.assignment = decodeAssignment(synced.assignment);
        this.rejoinNeeded = false;
        this.startHeartbeats();
        return this.assignment;
      }
      throw new Error(`group "${this.groupId}" kept rebalancing; gave up after 50 attempts to join`);
    } finally {
      this.joining = false;
    }
  }

  /** As leader: every member's partitions by the range assignor, from their subscriptions. */
  private async assign(members: readonly { memberId: string; metadata: Buffer }[]): Promise<{ memberId: string; assignment: Buffer }[]> {
    const subscriptions = new Map<string, Subscription>(members.map((m) => [m.memberId, decodeSubscription(m.metadata)]));
    const topics = [...new Set([...subscriptions.values()].flatMap((s) => s.topics))];
    const metadata = await this.client.metadata(topics);
    const counts = new Map<string, number>();
    for (const topic of metadata.topics) if (topic.errorCode === ErrorCode.NONE && topic.name) counts.set(topic.name, topic.partitions.length);
    return [...rangeAssign(subscriptions, counts)].map(([memberId, assignment]) => ({ memberId, assignment: encodeAssignment(assignment) }));
  }

  private startHeartbeats(): void {
    if (this.heartbeatTimer) return;
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
  }

  private async heartbeat(): Promise<void> {
    if (this.heartbeatInFlight || this.joining || this.rejoinNeeded) return;
    this.heartbeatInFlight = true;
    try {
      const response = await this.client.call(this.coordinator, ApiKey.Heartbeat, {
        groupId: this.groupId,
        generationId: this.generationId,
        memberId: this.memberId,
        groupInstanceId: null,
      });
      if (response.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = '';
      if (REJOIN_CODES.has(response.errorCode)) this.rejoinNeeded = true;
      else if (response.errorCode !== ErrorCode.NONE) this.heartbeatFailure = new BrokerError(response.errorCode, `heartbeat in group "${this.groupId}"`);
    } catch (err) {
      this.heartbeatFailure = err as Error;
    } finally {
      this.heartbeatInFlight = false;
    }
  }

  /** Commits with this member's generation; 'rejoin' means the generation ended first. */
  async commit(offsets: readonly PartitionOffset[]): Promise<'committed' | 'rejoin'> {
    const result = await commitOffsets(this.client, this.coordinator, this.groupId, this, offsets);
    if (result === 'rejoin') this.rejoinNeeded = true;
    return result;
  }

  /** Stops heartbeats and leaves the group, so the others rebalance at once instead of after a session timeout. */
  async leave(): Promise<void> {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    if (this.memberId === '') return;
    await this.client
      .call(this.coordinator, ApiKey.LeaveGroup, { groupId: this.groupId, memberId: '', members: [{ memberId: this.memberId, groupInstanceId: null }] })
      .catch(() => {});
  }
}
