/**
 * One classic group (Kafka's GroupMetadata): its state, generation, members, selected protocol and
 * committed offsets. It knows the rules of its own state; the coordinator drives it and owns the timers.
 */
import { KafkaError } from '../../protocol/error-codes.js';
import { EMPTY_BUFFER, type JoinGroupMember, type JoinGroupResult, type MemberMetadata, type MemberProtocol, type SyncGroupResult } from './member.js';
import type { TimerTask } from './timer.js';

/** Kafka's GroupState names, as DescribeGroups reports them. */
export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

/** Which states a group may come from into each state (GroupMetadata.scala). */
const VALID_PREVIOUS_STATES: Record<GroupState, readonly GroupState[]> = {
  Empty: ['PreparingRebalance'],
  PreparingRebalance: ['Stable', 'CompletingRebalance', 'Empty'],
  CompletingRebalance: ['PreparingRebalance'],
  Stable: ['CompletingRebalance'],
  Dead: ['Stable', 'PreparingRebalance', 'CompletingRebalance', 'Empty', 'Dead'],
};

export interface CommittedOffset {
  offset: number;
  leaderEpoch: number;
  metadata: string;
  /** Wall-clock ms. */
  commitTimestamp: number;
  /** Wall-clock ms, only for commits that asked for their own retention (OffsetCommit v2-v4). */
  expireTimestamp: number | null;
}

export interface TopicPartitionOffset extends CommittedOffset {
  topic: string;
  partition: number;
}

export class GroupMetadata {
  state: GroupState;
  /** Wall-clock ms of the last state change; offsets of an Empty group expire relative to it. */
  currentStateTimestamp: number;
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, MemberMetadata>();
  /** Members given an id by MEMBER_ID_REQUIRED that have not joined with it yet, with their expiry. */
  readonly pendingMembers = new Map<string, TimerTask | null>();
  /** groupInstanceId → memberId of the static members. */
  readonly staticMembers = new Map<string, string>();
  /** Members of the new generation that have not sent SyncGroup yet. */
  readonly pendingSyncMembers = new Set<string>();
  /** A member joined during the initial delay: the delay is extended (InitialDelayedJoin). */
  newMemberAdded = false;
  /** The deadline of the current join phase (DelayedJoin / InitialDelayedJoin). */
  joinTask: TimerTask | null = null;
  /** True while the join phase is the initial delay, which only its deadline completes. */
  initialJoinDelay = false;
  /** The deadline for members to send SyncGroup after a join completed (DelayedSync). */
  syncTask: TimerTask | null = null;
  /** topic → partition → committed offset. */
  readonly offsets = new Map<string, Map<number, CommittedOffset>>();
  /** Offset commits appended but not yet acknowledged; expiry leaves such groups alone. */
  pendingOffsetCommits = 0;

  constructor(
    readonly groupId: string,
    initialState: GroupState,
    now: number,
  ) {
    this.state = initialState;
    this.currentStateTimestamp = now;
  }

  is(state: GroupState): boolean {
    return this.state === state;
  }

  transitionTo(state: GroupState, now: number): void {
    if (!VALID_PREVIOUS_STATES[state].includes(this.state)) {
      throw new KafkaError('UNKNOWN_SERVER_ERROR', `group ${this.groupId} cannot go from ${this.state} to ${state}`, { groupId: this.groupId, from: this.state, to: state });
    }
    this.state = state;
    this.currentStateTimestamp = now;
  }

  /** A rebalance may start from these states (Kafka's canRebalance). */
  get canRebalance(): boolean {
    return VALID_PREVIOUS_STATES.PreparingRebalance.includes(this.state);
  }

  get size(): number {
    return this.members.size;
  }

  has(memberId: string): boolean {
    return this.members.has(memberId);
  }

  get(memberId: string): MemberMetadata {
    const member = this.members.get(memberId);
    if (!member) throw new KafkaError('UNKNOWN_MEMBER_ID', `member ${memberId} is not in group ${this.groupId}`, { groupId: this.groupId, memberId });
    return member;
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  isPendingMember(memberId: string): boolean {
    return this.pendingMembers.has(memberId);
  }

  currentStaticMemberId(groupInstanceId: string): string | undefined {
    return this.staticMembers.get(groupInstanceId);
  }

  /** Longest rebalance timeout of the members: how long a rebalance waits for them to rejoin. */
  get rebalanceTimeoutMs(): number {
    let max = 0;
    for (const member of this.members.values()) max = Math.max(max, member.rebalanceTimeoutMs);
    return max;
  }

  add(member: MemberMetadata, callback: ((result: JoinGroupResult) => void) | null): void {
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId);
    if (this.members.size === 0) this.protocolType = member.protocolType;
    if (this.leaderId === null) this.leaderId = member.memberId;
    this.members.set(member.memberId, member);
    member.awaitingJoin = callback;
    this.pendingMembers.delete(member.memberId);
  }

  /** Removes a member (or a pending member id); a removed leader is replaced by any remaining member. */
  remove(memberId: string): MemberMetadata | undefined {
    const member = this.members.get(memberId);
    if (member) {
      this.members.delete(memberId);
      if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === memberId) {
        this.staticMembers.delete(member.groupInstanceId);
      }
    }
    if (this.isLeader(memberId)) {
      const next = this.members.keys().next();
      this.leaderId = next.done ? null : next.value;
    }
    this.pendingMembers.delete(memberId);
    this.pendingSyncMembers.delete(memberId);
    return member;
  }

  /** A new JoinGroup from a known member: new protocols, parked until the rebalance completes. */
  updateMember(member: MemberMetadata, protocols: MemberProtocol[], callback: (result: JoinGroupResult) => void): void {
    member.protocols = protocols;
    member.awaitingJoin = callback;
  }

  /**
   * Whether a member with these protocols may join: an Empty group takes any non-empty set; otherwise
   * the protocol type must match and at least one protocol must be supported by every member.
   */
  supportsProtocols(protocolType: string, protocols: readonly string[]): boolean {
    if (this.is('Empty')) return protocolType !== '' && protocols.length > 0;
    if (this.protocolType !== protocolType) return false;
    const candidates = this.candidateProtocols();
    return protocols.some((p) => candidates.has(p));
  }

  /** Protocols every current member supports. */
  candidateProtocols(): Set<string> {
    let candidates: Set<string> | null = null;
    for (const member of this.members.values()) {
      const names = new Set(member.protocolNames());
      if (candidates === null) candidates = names;
      else for (const name of candidates) if (!names.has(name)) candidates.delete(name);
    }
    return candidates ?? new Set();
  }

  /** Each member votes for its most preferred candidate; most votes wins, ties to the first voted for. */
  selectProtocol(): string {
    if (this.members.size === 0) throw new KafkaError('UNKNOWN_SERVER_ERROR', `cannot select a protocol for empty group ${this.groupId}`, { groupId: this.groupId });
    const candidates = this.candidateProtocols();
    const votes = new Map<string, number>();
    for (const member of this.members.values()) {
      const choice = member.vote(candidates);
      votes.set(choice, (votes.get(choice) ?? 0) + 1);
    }
    let best = '';
    let bestVotes = -1;
    for (const [name, count] of votes) {
      if (count > bestVotes) {
        best = name;
        bestVotes = count;
      }
    }
    return best;
  }

  /** Every member has rejoined and no member id handed out by MEMBER_ID_REQUIRED is still outstanding. */
  get hasAllMembersJoined(): boolean {
    if (this.pendingMembers.size > 0) return false;
    for (const member of this.members.values()) if (!member.isAwaitingJoin) return false;
    return true;
  }

  notYetRejoinedMembers(): MemberMetadata[] {
    return [...this.members.values()].filter((m) => !m.isAwaitingJoin);
  }

  /** If the leader did not rejoin, any member that did leads; false when no member rejoined. */
  maybeElectNewJoinedLeader(): boolean {
    if (this.leaderId === null) return false;
    const leader = this.members.get(this.leaderId);
    if (leader?.isAwaitingJoin) return true;
    for (const member of this.members.values()) {
      if (member.isAwaitingJoin) {
        this.leaderId = member.memberId;
        return true;
      }
    }
    return false;
  }

  /** The next generation: a protocol for the members (CompletingRebalance), or none (Empty). */
  initNextGeneration(now: number): void {
    this.generationId++;
    if (this.members.size > 0) {
      this.protocolName = this.selectProtocol();
      this.transitionTo('CompletingRebalance', now);
    } else {
      this.protocolName = null;
      this.transitionTo('Empty', now);
    }
    this.pendingSyncMembers.clear();
  }

  /** What the leader's JoinGroup response carries: every member's metadata for the selected protocol. */
  currentMemberMetadata(): JoinGroupMember[] {
    const protocol = this.protocolName ?? '';
    return [...this.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata(protocol) }));
  }

  /** A static member rejoining with a new member id takes over the old one's place (and fences it). */
  replaceStaticMember(groupInstanceId: string, oldMemberId: string, newMemberId: string, fenced: number): MemberMetadata {
    const member = this.get(oldMemberId);
    this.members.delete(oldMemberId);
    // A duplicate instance still parked in a rebalance learns it was fenced.
    member.invokeJoin(this.errorJoinResult(oldMemberId, fenced));
    member.invokeSync({ errorCode: fenced, protocolType: null, protocolName: null, assignment: EMPTY_BUFFER });
    member.memberId = newMemberId;
    this.members.set(newMemberId, member);
    if (this.isLeader(oldMemberId)) this.leaderId = newMemberId;
    this.staticMembers.set(groupInstanceId, newMemberId);
    if (this.pendingSyncMembers.delete(oldMemberId)) this.pendingSyncMembers.add(newMemberId);
    return member;
  }

  errorJoinResult(memberId: string, errorCode: number): JoinGroupResult {
    return { errorCode, memberId, generationId: -1, protocolType: null, protocolName: null, leaderId: '', members: [] };
  }

  /** The join result for a member of the current generation. */
  joinResult(memberId: string, withMembers: boolean, leaderId: string | null = this.leaderId): JoinGroupResult {
    return {
      errorCode: 0,
      memberId,
      generationId: this.generationId,
      protocolType: this.protocolType,
      protocolName: this.protocolName,
      leaderId: leaderId ?? '',
      members: withMembers ? this.currentMemberMetadata() : [],
    };
  }

  // ---- offsets ----

  get hasOffsets(): boolean {
    return this.offsets.size > 0 || this.pendingOffsetCommits > 0;
  }

  offset(topic: string, partition: number): CommittedOffset | undefined {
    return this.offsets.get(topic)?.get(partition);
  }

  putOffset(topic: string, partition: number, committed: CommittedOffset): void {
    let partitions = this.offsets.get(topic);
    if (!partitions) this.offsets.set(topic, (partitions = new Map()));
    partitions.set(partition, committed);
  }

  removeOffset(topic: string, partition: number): void {
    const partitions = this.offsets.get(topic);
    if (!partitions) return;
    partitions.delete(partition);
    if (partitions.size === 0) this.offsets.delete(topic);
  }

  allOffsets(): TopicPartitionOffset[] {
    const out: TopicPartitionOffset[] = [];
    for (const [topic, partitions] of this.offsets) for (const [partition, c] of partitions) out.push({ topic, partition, ...c });
    return out;
  }

  /**
   * Offsets past their retention (Kafka's removeExpiredOffsets): a group without a protocol type
   * (simple consumers that only commit) expires each offset `retentionMs` after its commit; an Empty
   * group expires them `retentionMs` after it became Empty; a commit that asked for its own retention
   * (OffsetCommit v2-v4) expires at its expire timestamp instead. A group with members keeps its offsets
   * (Kafka's expiry of unsubscribed topics in Stable consumer groups is not implemented).
   */
  expiredOffsets(now: number, retentionMs: number): TopicPartitionOffset[] {
    if (this.pendingOffsetCommits > 0) return [];
    let base: (c: CommittedOffset) => number;
    if (this.protocolType === null) base = (c) => c.commitTimestamp;
    else if (this.is('Empty')) base = (c) => (this.currentStateTimestamp >= 0 ? this.currentStateTimestamp : c.commitTimestamp);
    else return [];
    return this.allOffsets().filter((c) => (c.expireTimestamp !== null ? now >= c.expireTimestamp : now - base(c) >= retentionMs));
  }
}
