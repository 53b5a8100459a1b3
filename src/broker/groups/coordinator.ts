/**
 * The group coordinator for Kafka's classic group protocol on one broker (Kafka's GroupCoordinator):
 * JoinGroup/SyncGroup/Heartbeat/LeaveGroup drive each group's state machine, OffsetCommit/OffsetFetch
 * read and write committed offsets, and everything durable goes through `__consumer_offsets`.
 *
 * The behaviour per request and state follows GroupCoordinator.scala (AK 3.8); the delayed operations
 * (DelayedJoin, InitialDelayedJoin, DelayedSync, DelayedHeartbeat) are deadlines on one coordinator
 * timer, and their "try to complete now" checks run where Kafka's purgatory would run them.
 * Parked JoinGroup/SyncGroup requests are promises answered when the rebalance moves on.
 */
import { randomUUID } from 'node:crypto';
import type { BrokerConfig } from '../../config.js';
import type { Io } from '../../io/types.js';
import type { Logger } from '../../logger.js';
import { ErrorCode, KafkaError, errorCodeOf } from '../../protocol/error-codes.js';
import type { LogManager } from '../../storage/log-manager.js';
import { GroupMetadata, type CommittedOffset, type GroupState } from './group.js';
import { EMPTY_BUFFER, MemberMetadata, type JoinGroupResult, type MemberProtocol, type SyncGroupResult } from './member.js';
import { OffsetsLog, type OffsetsRecord } from './offsets-log.js';
import {
  decodeGroupMetadataValue,
  decodeKey,
  decodeOffsetCommitValue,
  encodeGroupMetadataKey,
  encodeGroupMetadataValue,
  encodeOffsetCommitKey,
  encodeOffsetCommitValue,
  OFFSETS_TOPIC,
  type GroupMetadataValue,
} from './records.js';
import { CoordinatorTimer, type TimerTask } from './timer.js';

/** How long a new member's first JoinGroup may wait in a rebalance (Kafka's NewMemberJoinTimeoutMs). */
const NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60 * 1000;
/** Kafka's offsets.retention.check.interval.ms default: how often expired offsets are removed. */
const OFFSETS_RETENTION_CHECK_INTERVAL_MS = 600_000;

export interface JoinGroupParams {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  /** JoinGroup v4+ without a group instance id: an empty member id gets MEMBER_ID_REQUIRED. */
  requireKnownMemberId: boolean;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  protocolType: string;
  protocols: MemberProtocol[];
}

export interface SyncGroupParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** SyncGroup v5+ only; null when the version has none. */
  protocolType: string | null;
  protocolName: string | null;
  assignments: { memberId: string; assignment: Buffer }[];
}

export interface MemberIdentity {
  memberId: string;
  groupInstanceId: string | null;
}

export interface LeaveGroupResult {
  errorCode: number;
  members: (MemberIdentity & { errorCode: number })[];
}

export interface OffsetCommitParams {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  generationId: number;
  /** OffsetCommit v2-v4; -1 means the broker's retention. */
  retentionTimeMs: number;
  offsets: { topic: string; partition: number; offset: number; leaderEpoch: number; metadata: string | null }[];
}

export interface FetchedOffset {
  partition: number;
  offset: number;
  leaderEpoch: number;
  metadata: string;
  errorCode: number;
}

export interface OffsetFetchResult {
  errorCode: number;
  topics: { topic: string; partitions: FetchedOffset[] }[];
}

export interface GroupDescription {
  errorCode: number;
  groupId: string;
  state: GroupState;
  protocolType: string;
  protocolName: string;
  members: { memberId: string; groupInstanceId: string | null; clientId: string; clientHost: string; metadata: Buffer; assignment: Buffer }[];
}

export interface GroupListing {
  groupId: string;
  protocolType: string;
  state: GroupState;
}

export interface GroupCoordinatorOptions {
  config: BrokerConfig;
  logs: LogManager;
  io: Io;
  log: Logger;
  /** Monotonic clock for deadlines (tests may replace it). */
  now?: () => number;
  /** Wall clock for stored timestamps and offset retention. */
  wallClock?: () => number;
}

type Api = 'join' | 'sync' | 'heartbeat' | 'leave' | 'commit' | 'fetch' | 'describe' | 'delete';

export class GroupCoordinator {
  private readonly config: BrokerConfig;
  private readonly logs: LogManager;
  private readonly io: Io;
  private readonly log: Logger;
  private readonly wallClock: () => number;
  readonly timer: CoordinatorTimer;
  private readonly groups = new Map<string, GroupMetadata>();
  /** Encoded value of the last group metadata record appended for each group (for snapshots). */
  private readonly storedMetadata = new Map<string, Buffer>();
  private offsetsLog: OffsetsLog | null = null;
  private active = false;
  private retentionTask: TimerTask | null = null;
  private closing: Promise<void> | null = null;
  private activating: Promise<void> | null = null;

  constructor(options: GroupCoordinatorOptions) {
    this.config = options.config;
    this.logs = options.logs;
    this.io = options.io;
    this.log = options.log.child({ component: 'group-coordinator' });
    this.wallClock = options.wallClock ?? Date.now;
    this.timer = new CoordinatorTimer(options.now, (err) => this.log.error({ err }, 'group coordinator timer task failed'));
  }

  get isActive(): boolean {
    return this.active;
  }

  /**
   * Replays `__consumer_offsets` when it exists. A fresh data directory has none: like Kafka, the topic is
   * created by the first request that needs a coordinator (see activate), so a new broker starts at once.
   */
  async start(): Promise<void> {
    if (this.logs.getTopic(OFFSETS_TOPIC)) await this.activate();
  }

  /** Opens `__consumer_offsets` (creating it when missing), replays it, and starts serving. Idempotent. */
  activate(): Promise<void> {
    if (this.closing) return Promise.reject(new KafkaError('COORDINATOR_NOT_AVAILABLE', 'the group coordinator is shutting down'));
    this.activating ??= this.openAndReplay().catch((err: unknown) => {
      this.activating = null;
      throw err;
    });
    return this.activating;
  }

  private async openAndReplay(): Promise<void> {
    const started = performance.now();
    const offsetsLog = await OffsetsLog.open(this.logs, this.config, this.io, this.log);
    this.offsetsLog = offsetsLog;
    const stats = this.load(offsetsLog);
    offsetsLog.setSnapshotSource({
      snapshot: (partition) => this.snapshot(partition),
      liveKeyCount: (partition) => this.liveKeyCount(partition),
    });
    this.active = true;
    this.scheduleRetentionCheck();
    this.log.info({ ...stats, partitions: offsetsLog.numPartitions, ms: Math.round(performance.now() - started) }, 'loaded consumer groups from __consumer_offsets');
  }

  /**
   * Stops serving: parked JoinGroup/SyncGroup requests are answered NOT_COORDINATOR (as when Kafka's
   * coordinator resigns), every deadline is dropped, and queued offset writes are waited for.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      // A topic creation under way finishes first, so nothing turns the coordinator back on.
      await this.activating?.catch(() => undefined);
      this.active = false;
      this.timer.close();
      this.retentionTask = null;
      for (const group of this.groups.values()) {
        for (const member of group.members.values()) {
          member.expiryTask = null;
          member.invokeJoin(group.errorJoinResult(member.memberId, ErrorCode.NOT_COORDINATOR));
          member.invokeSync(this.syncError(ErrorCode.NOT_COORDINATOR));
        }
        group.joinTask = null;
        group.syncTask = null;
      }
      if (this.offsetsLog) {
        this.offsetsLog.close();
        await this.offsetsLog.drained();
      }
    })();
    return this.closing;
  }

  /** Which `__consumer_offsets` partition holds a group. */
  partitionFor(groupId: string): number {
    return this.requireLog().partitionFor(groupId);
  }

  group(groupId: string): GroupMetadata | undefined {
    return this.groups.get(groupId);
  }

  // ---- JoinGroup ----

  joinGroup(p: JoinGroupParams): Promise<JoinGroupResult> {
    return new Promise((respond) => {
      const error = this.validateGroupStatus(p.groupId, 'join');
      if (error !== ErrorCode.NONE) return respond(errorJoin(p.memberId, error));
      if (p.sessionTimeoutMs < this.config['group.min.session.timeout.ms'] || p.sessionTimeoutMs > this.config['group.max.session.timeout.ms']) {
        return respond(errorJoin(p.memberId, ErrorCode.INVALID_SESSION_TIMEOUT));
      }
      const isUnknownMember = p.memberId === '';
      let group = this.groups.get(p.groupId);
      if (!group) {
        // A known member id for a group that does not exist: its group is gone (deleted, expired).
        if (!isUnknownMember) return respond(errorJoin(p.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
        group = new GroupMetadata(p.groupId, 'Empty', this.wallClock());
        this.groups.set(p.groupId, group);
      }
      if (isUnknownMember) this.doNewMemberJoinGroup(group, p, respond);
      else this.doCurrentMemberJoinGroup(group, p, respond);
      if (group.is('PreparingRebalance')) this.tryCompleteJoin(group);
      this.dropIfUnused(group);
    });
  }

  private doNewMemberJoinGroup(group: GroupMetadata, p: JoinGroupParams, respond: (r: JoinGroupResult) => void): void {
    if (group.is('Dead')) return respond(errorJoin('', ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (!group.supportsProtocols(p.protocolType, p.protocols.map((x) => x.name))) return respond(errorJoin('', ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    const newMemberId = `${p.groupInstanceId ?? p.clientId}-${randomUUID()}`;
    if (p.groupInstanceId !== null) {
      const oldMemberId = group.currentStaticMemberId(p.groupInstanceId);
      if (oldMemberId !== undefined) return this.updateStaticMemberAndRebalance(group, oldMemberId, newMemberId, p, respond);
      return this.addMemberAndRebalance(group, newMemberId, p, respond);
    }
    if (p.requireKnownMemberId) {
      // KIP-394: the client must come back with this id, so a retried JoinGroup cannot add a ghost member.
      this.addPendingMember(group, newMemberId, p.sessionTimeoutMs);
      return respond(errorJoin(newMemberId, ErrorCode.MEMBER_ID_REQUIRED));
    }
    this.addMemberAndRebalance(group, newMemberId, p, respond);
  }

  private doCurrentMemberJoinGroup(group: GroupMetadata, p: JoinGroupParams, respond: (r: JoinGroupResult) => void): void {
    if (group.is('Dead')) return respond(errorJoin(p.memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (!group.supportsProtocols(p.protocolType, p.protocols.map((x) => x.name))) return respond(errorJoin(p.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    if (group.isPendingMember(p.memberId)) {
      if (p.groupInstanceId !== null) return respond(errorJoin(p.memberId, ErrorCode.INVALID_REQUEST));
      return this.addMemberAndRebalance(group, p.memberId, p, respond);
    }
    const memberError = this.validateCurrentMember(group, p.memberId, p.groupInstanceId);
    if (memberError !== ErrorCode.NONE) return respond(errorJoin(p.memberId, memberError));
    const member = group.get(p.memberId);
    switch (group.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(group, member, p, respond);
      case 'CompletingRebalance':
        // The same metadata again means the member missed its JoinGroup response: repeat it.
        if (member.matches(p.protocols)) return respond(group.joinResult(member.memberId, group.isLeader(member.memberId)));
        return this.updateMemberAndRebalance(group, member, p, respond);
      case 'Stable':
        // The leader rejoins to rebalance on changes the metadata does not show (e.g. new partitions).
        if (group.isLeader(member.memberId) || !member.matches(p.protocols)) return this.updateMemberAndRebalance(group, member, p, respond);
        return respond(group.joinResult(member.memberId, false));
      case 'Empty':
      case 'Dead':
        return respond(errorJoin(p.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
    }
  }

  private addMemberAndRebalance(group: GroupMetadata, memberId: string, p: JoinGroupParams, respond: (r: JoinGroupResult) => void): void {
    const member = new MemberMetadata(memberId, p.groupInstanceId, p.clientId, p.clientHost, p.rebalanceTimeoutMs, p.sessionTimeoutMs, p.protocolType, p.protocols);
    member.isNew = true;
    // Members joining during the first rebalance of a new group extend its initial delay.
    if (group.is('PreparingRebalance') && group.generationId === 0) group.newMemberAdded = true;
    this.timer.cancel(group.pendingMembers.get(memberId));
    group.add(member, respond);
    // A new member cannot heartbeat while parked; bound its wait instead (Kafka: 5 minutes).
    this.scheduleExpiration(group, member, NEW_MEMBER_JOIN_TIMEOUT_MS);
    this.maybePrepareRebalance(group, `member ${memberId} joined`);
  }

  private updateMemberAndRebalance(group: GroupMetadata, member: MemberMetadata, p: JoinGroupParams, respond: (r: JoinGroupResult) => void): void {
    // A JoinGroup re-sent on another connection supersedes the parked one; that one is told to rejoin.
    member.invokeJoin(errorJoin(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS));
    member.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
    member.sessionTimeoutMs = p.sessionTimeoutMs;
    member.clientId = p.clientId;
    member.clientHost = p.clientHost;
    group.updateMember(member, p.protocols, respond);
    this.maybePrepareRebalance(group, `member ${member.memberId} rejoined`);
  }

  /** A static member came back with a new member id: it takes over its old id's place, fencing that id. */
  private updateStaticMemberAndRebalance(group: GroupMetadata, oldMemberId: string, newMemberId: string, p: JoinGroupParams, respond: (r: JoinGroupResult) => void): void {
    const currentLeader = group.leaderId;
    const oldProtocols = group.get(oldMemberId).protocols;
    const member = group.replaceStaticMember(p.groupInstanceId!, oldMemberId, newMemberId, ErrorCode.FENCED_INSTANCE_ID);
    this.completeAndScheduleNextHeartbeatExpiration(group, member);
    member.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
    member.sessionTimeoutMs = p.sessionTimeoutMs;
    group.updateMember(member, p.protocols, respond);
    switch (group.state) {
      case 'Stable': {
        if (group.protocolName !== group.selectProtocol()) {
          this.maybePrepareRebalance(group, `static member ${newMemberId} changed the group's protocol`);
          return;
        }
        // Same protocol: no rebalance. Persist the new id, then answer with the old leader id so the
        // current leader does not run an assignment that a Stable group would never hand out.
        member.awaitingJoin = null;
        const assignment = new Map([...group.members.values()].map((m) => [m.memberId, m.assignment]));
        void this.storeGroup(group, assignment).then((error) => {
          if (error !== ErrorCode.NONE) {
            // Undo the swap unless the group has moved on meanwhile (then the new id simply stays).
            if (group.members.get(newMemberId) === member && group.currentStaticMemberId(p.groupInstanceId!) === newMemberId) {
              group.replaceStaticMember(p.groupInstanceId!, newMemberId, oldMemberId, ErrorCode.FENCED_INSTANCE_ID);
              member.protocols = oldProtocols;
            }
            return respond(errorJoin('', error));
          }
          respond({ ...group.joinResult(newMemberId, false, currentLeader) });
        });
        return;
      }
      case 'CompletingRebalance':
        // The leader may already be assigning to the old id; only a new rebalance gets this id an assignment.
        this.prepareRebalance(group, `static member ${newMemberId} replaced ${oldMemberId} during CompletingRebalance`);
        return;
      case 'PreparingRebalance':
        return;
      case 'Empty':
      case 'Dead':
        // A static member mapping only exists while the member does.
        throw new KafkaError('UNKNOWN_SERVER_ERROR', `group ${group.groupId} has static member ${p.groupInstanceId} while ${group.state}`, { groupId: group.groupId, groupInstanceId: p.groupInstanceId });
    }
  }

  private addPendingMember(group: GroupMetadata, memberId: string, sessionTimeoutMs: number): void {
    const task = this.timer.schedule(sessionTimeoutMs, () => {
      if (group.pendingMembers.has(memberId)) {
        this.log.info({ groupId: group.groupId, memberId }, 'pending member expired without joining');
        this.removePendingMemberAndUpdateGroup(group, memberId);
        this.dropIfUnused(group);
      }
    });
    group.pendingMembers.set(memberId, task);
  }

  private removePendingMemberAndUpdateGroup(group: GroupMetadata, memberId: string): void {
    this.timer.cancel(group.pendingMembers.get(memberId));
    group.remove(memberId);
    if (group.is('PreparingRebalance')) this.tryCompleteJoin(group);
  }

  private maybePrepareRebalance(group: GroupMetadata, reason: string): void {
    if (group.canRebalance) this.prepareRebalance(group, reason);
  }

  private prepareRebalance(group: GroupMetadata, reason: string): void {
    // Members waiting for their assignment must rejoin instead.
    if (group.is('CompletingRebalance')) this.resetAndPropagateAssignmentError(group, ErrorCode.REBALANCE_IN_PROGRESS);
    this.removeSyncExpiration(group);
    const wasEmpty = group.is('Empty');
    group.transitionTo('PreparingRebalance', this.wallClock());
    this.timer.cancel(group.joinTask);
    this.log.info({ groupId: group.groupId, generationId: group.generationId, reason }, 'preparing to rebalance group');
    if (wasEmpty) {
      const delay = this.config['group.initial.rebalance.delay.ms'];
      this.scheduleInitialDelayedJoin(group, delay, Math.max(group.rebalanceTimeoutMs - delay, 0));
    } else {
      group.initialJoinDelay = false;
      group.joinTask = this.timer.schedule(group.rebalanceTimeoutMs, () => this.onJoinDeadline(group));
      this.tryCompleteJoin(group);
    }
  }

  /**
   * Kafka's InitialDelayedJoin: the first rebalance of an empty group waits `delay`, and again while
   * new members keep arriving, but no longer in total than the rebalance timeout.
   */
  private scheduleInitialDelayedJoin(group: GroupMetadata, delayMs: number, remainingMs: number): void {
    group.initialJoinDelay = true;
    group.joinTask = this.timer.schedule(delayMs, () => {
      group.joinTask = null;
      if (!group.is('PreparingRebalance')) return;
      if (group.newMemberAdded && remainingMs !== 0) {
        group.newMemberAdded = false;
        const delay = Math.min(this.config['group.initial.rebalance.delay.ms'], remainingMs);
        this.scheduleInitialDelayedJoin(group, delay, Math.max(remainingMs - delayMs, 0));
      } else {
        this.completeJoin(group);
      }
    });
  }

  private onJoinDeadline(group: GroupMetadata): void {
    group.joinTask = null;
    if (group.is('PreparingRebalance')) this.completeJoin(group);
  }

  /** DelayedJoin.tryComplete: done early once every member has rejoined (not during the initial delay). */
  private tryCompleteJoin(group: GroupMetadata): void {
    if (!group.is('PreparingRebalance') || group.initialJoinDelay || !group.hasAllMembersJoined) return;
    this.timer.cancel(group.joinTask);
    group.joinTask = null;
    this.completeJoin(group);
  }

  /** Kafka's onCompleteJoin: drop who did not rejoin, start the next generation, answer every JoinGroup. */
  private completeJoin(group: GroupMetadata): void {
    group.initialJoinDelay = false;
    for (const member of group.notYetRejoinedMembers()) {
      if (member.isStatic) continue;
      this.log.info({ groupId: group.groupId, memberId: member.memberId }, 'removing member that did not rejoin within the rebalance timeout');
      this.timer.cancel(member.expiryTask);
      member.expiryTask = null;
      member.invokeSync(this.syncError(ErrorCode.UNKNOWN_MEMBER_ID));
      group.remove(member.memberId);
    }
    if (group.is('Dead')) return;
    if (!group.maybeElectNewJoinedLeader() && group.size > 0) {
      // Only static members that have not rejoined remain: wait for them (or their session timeouts).
      this.log.warn({ groupId: group.groupId }, 'no member rejoined; waiting another rebalance timeout');
      group.joinTask = this.timer.schedule(group.rebalanceTimeoutMs, () => this.onJoinDeadline(group));
      return;
    }
    group.initNextGeneration(this.wallClock());
    if (group.is('Empty')) {
      this.log.info({ groupId: group.groupId, generationId: group.generationId }, 'group is now empty');
      void this.storeGroup(group, new Map()).then((error) => {
        if (error !== ErrorCode.NONE) this.log.warn({ groupId: group.groupId, errorCode: error }, 'failed to write the metadata of the empty group');
      });
      return;
    }
    this.log.info({ groupId: group.groupId, generationId: group.generationId, protocol: group.protocolName, members: group.size, leader: group.leaderId }, 'rebalance: new generation');
    for (const member of group.members.values()) {
      member.invokeJoin(group.joinResult(member.memberId, group.isLeader(member.memberId)));
      this.completeAndScheduleNextHeartbeatExpiration(group, member);
      member.isNew = false;
    }
    this.schedulePendingSync(group);
  }

  // ---- SyncGroup ----

  syncGroup(p: SyncGroupParams): Promise<SyncGroupResult> {
    return new Promise((respond) => {
      const error = this.validateGroupStatus(p.groupId, 'sync');
      if (error !== ErrorCode.NONE) return respond(this.syncError(error));
      const group = this.groups.get(p.groupId);
      if (!group) return respond(this.syncError(ErrorCode.UNKNOWN_MEMBER_ID));
      this.doSyncGroup(group, p, respond);
    });
  }

  private doSyncGroup(group: GroupMetadata, p: SyncGroupParams, respond: (r: SyncGroupResult) => void): void {
    if (group.is('Dead')) return respond(this.syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    let error = this.validateCurrentMember(group, p.memberId, p.groupInstanceId);
    if (error === ErrorCode.NONE && p.generationId !== group.generationId) error = ErrorCode.ILLEGAL_GENERATION;
    if (error === ErrorCode.NONE && p.protocolType !== null && p.protocolType !== group.protocolType) error = ErrorCode.INCONSISTENT_GROUP_PROTOCOL;
    if (error === ErrorCode.NONE && p.protocolName !== null && p.protocolName !== group.protocolName) error = ErrorCode.INCONSISTENT_GROUP_PROTOCOL;
    if (error !== ErrorCode.NONE) return respond(this.syncError(error));
    const member = group.get(p.memberId);
    switch (group.state) {
      case 'Empty':
        return respond(this.syncError(ErrorCode.UNKNOWN_MEMBER_ID));
      case 'PreparingRebalance':
        return respond(this.syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      case 'CompletingRebalance': {
        // A SyncGroup re-sent on another connection supersedes the parked one.
        member.invokeSync(this.syncError(ErrorCode.REBALANCE_IN_PROGRESS));
        member.awaitingSync = respond;
        this.removePendingSyncMember(group, member.memberId);
        if (!group.isLeader(member.memberId)) return;
        // Members the leader left out get an empty assignment.
        const assignment = new Map<string, Buffer>();
        for (const id of group.members.keys()) assignment.set(id, EMPTY_BUFFER);
        for (const a of p.assignments) if (assignment.has(a.memberId)) assignment.set(a.memberId, a.assignment);
        const generationId = group.generationId;
        this.log.info({ groupId: group.groupId, generationId, members: group.size }, 'assignment received from the leader');
        void this.storeGroup(group, assignment).then((storeError) => {
          // Another member may have joined meanwhile; then this assignment is stale.
          if (!group.is('CompletingRebalance') || group.generationId !== generationId) return;
          if (storeError !== ErrorCode.NONE) {
            this.resetAndPropagateAssignmentError(group, storeError);
            this.maybePrepareRebalance(group, 'storing the assignment failed');
            return;
          }
          for (const m of group.members.values()) m.assignment = assignment.get(m.memberId) ?? EMPTY_BUFFER;
          group.transitionTo('Stable', this.wallClock());
          this.propagateAssignment(group, ErrorCode.NONE);
          this.log.info({ groupId: group.groupId, generationId }, 'group is stable');
        });
        return;
      }
      case 'Stable':
        this.removePendingSyncMember(group, member.memberId);
        respond({ errorCode: ErrorCode.NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment });
        this.completeAndScheduleNextHeartbeatExpiration(group, member);
        return;
      case 'Dead':
        return respond(this.syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    }
  }

  private syncError(errorCode: number): SyncGroupResult {
    return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY_BUFFER };
  }

  private resetAndPropagateAssignmentError(group: GroupMetadata, errorCode: number): void {
    for (const member of group.members.values()) member.assignment = EMPTY_BUFFER;
    this.propagateAssignment(group, errorCode);
  }

  /** Answers every parked SyncGroup; each answered member owes heartbeats again from now. */
  private propagateAssignment(group: GroupMetadata, errorCode: number): void {
    for (const member of group.members.values()) {
      const answered = member.invokeSync({ errorCode, protocolType: group.protocolType, protocolName: group.protocolName, assignment: errorCode === ErrorCode.NONE ? member.assignment : EMPTY_BUFFER });
      if (answered) this.completeAndScheduleNextHeartbeatExpiration(group, member);
    }
  }

  /** Kafka's DelayedSync: members that never send SyncGroup within the rebalance timeout are removed. */
  private schedulePendingSync(group: GroupMetadata): void {
    this.removeSyncExpiration(group);
    for (const id of group.members.keys()) group.pendingSyncMembers.add(id);
    const generationId = group.generationId;
    group.syncTask = this.timer.schedule(group.rebalanceTimeoutMs, () => {
      group.syncTask = null;
      if (generationId !== group.generationId || !(group.is('CompletingRebalance') || group.is('Stable'))) return;
      if (group.pendingSyncMembers.size === 0) return;
      const missing = [...group.pendingSyncMembers];
      this.log.info({ groupId: group.groupId, generationId, members: missing }, 'removing members that did not send SyncGroup within the rebalance timeout');
      for (const id of missing) {
        const member = group.members.get(id);
        if (member) this.timer.cancel(member.expiryTask);
        group.remove(id);
      }
      this.prepareRebalance(group, 'members did not sync');
    });
  }

  private removePendingSyncMember(group: GroupMetadata, memberId: string): void {
    group.pendingSyncMembers.delete(memberId);
    if (group.pendingSyncMembers.size === 0) {
      this.timer.cancel(group.syncTask);
      group.syncTask = null;
    }
  }

  private removeSyncExpiration(group: GroupMetadata): void {
    group.pendingSyncMembers.clear();
    this.timer.cancel(group.syncTask);
    group.syncTask = null;
  }

  // ---- Heartbeat and session expiry ----

  heartbeat(groupId: string, memberId: string, groupInstanceId: string | null, generationId: number): number {
    const error = this.validateGroupStatus(groupId, 'heartbeat');
    if (error !== ErrorCode.NONE) return error;
    const group = this.groups.get(groupId);
    if (!group) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const memberError = this.validateCurrentMember(group, memberId, groupInstanceId);
    if (memberError !== ErrorCode.NONE) return memberError;
    if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    switch (group.state) {
      case 'Empty':
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case 'CompletingRebalance':
      case 'Stable':
        this.completeAndScheduleNextHeartbeatExpiration(group, group.get(memberId));
        return ErrorCode.NONE;
      case 'PreparingRebalance':
        // Still alive, but it must rejoin.
        this.completeAndScheduleNextHeartbeatExpiration(group, group.get(memberId));
        return ErrorCode.REBALANCE_IN_PROGRESS;
      case 'Dead':
        return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
  }

  private completeAndScheduleNextHeartbeatExpiration(group: GroupMetadata, member: MemberMetadata): void {
    this.scheduleExpiration(group, member, member.sessionTimeoutMs);
  }

  /**
   * Moves the member's deadline to now + timeout. One timer task per member checks the deadline and
   * re-arms itself if the deadline moved, so a heartbeat costs no timer churn.
   */
  private scheduleExpiration(group: GroupMetadata, member: MemberMetadata, timeoutMs: number): void {
    member.heartbeatDeadline = this.timer.now() + timeoutMs;
    if (member.expiryTask?.active && member.expiryTask.at <= member.heartbeatDeadline) return;
    this.timer.cancel(member.expiryTask);
    member.expiryTask = this.timer.schedule(timeoutMs, () => this.onExpireHeartbeat(group, member));
  }

  private onExpireHeartbeat(group: GroupMetadata, member: MemberMetadata): void {
    member.expiryTask = null;
    if (group.is('Dead') || group.members.get(member.memberId) !== member) return;
    const now = this.timer.now();
    if (now < member.heartbeatDeadline) {
      member.expiryTask = this.timer.schedule(member.heartbeatDeadline - now, () => this.onExpireHeartbeat(group, member));
      return;
    }
    // Parked in a rebalance: the rebalance and sync deadlines bound it, and completing re-arms this.
    if (member.exemptFromSessionTimeout) return;
    this.log.info({ groupId: group.groupId, memberId: member.memberId, sessionTimeoutMs: member.sessionTimeoutMs }, 'member session expired; removing it from the group');
    this.removeMemberAndUpdateGroup(group, member, 'session timeout');
    this.dropIfUnused(group);
  }

  private removeMemberAndUpdateGroup(group: GroupMetadata, member: MemberMetadata, reason: string): void {
    // A new member may still be parked in JoinGroup: tell it to start over.
    member.invokeJoin(errorJoin('', ErrorCode.UNKNOWN_MEMBER_ID));
    member.invokeSync(this.syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    this.timer.cancel(member.expiryTask);
    member.expiryTask = null;
    group.remove(member.memberId);
    switch (group.state) {
      case 'Stable':
      case 'CompletingRebalance':
        this.maybePrepareRebalance(group, `${reason} of member ${member.memberId}`);
        break;
      case 'PreparingRebalance':
        this.tryCompleteJoin(group);
        break;
      case 'Empty':
      case 'Dead':
        break;
    }
  }

  // ---- LeaveGroup ----

  leaveGroup(groupId: string, leaving: MemberIdentity[]): LeaveGroupResult {
    const error = this.validateGroupStatus(groupId, 'leave');
    if (error !== ErrorCode.NONE) return { errorCode: error, members: [] };
    const group = this.groups.get(groupId);
    if (!group) return { errorCode: ErrorCode.NONE, members: leaving.map((m) => ({ ...m, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })) };
    if (group.is('Dead')) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    const members = leaving.map((m) => {
      // An admin removes a static member by its instance id alone.
      if (m.memberId === '') {
        const current = m.groupInstanceId === null ? undefined : group.currentStaticMemberId(m.groupInstanceId);
        if (current === undefined) return { ...m, errorCode: ErrorCode.UNKNOWN_MEMBER_ID };
        this.removeMemberAndUpdateGroup(group, group.get(current), 'LeaveGroup');
        return { ...m, errorCode: ErrorCode.NONE };
      }
      if (group.isPendingMember(m.memberId)) {
        this.removePendingMemberAndUpdateGroup(group, m.memberId);
        return { ...m, errorCode: ErrorCode.NONE };
      }
      const memberError = this.validateCurrentMember(group, m.memberId, m.groupInstanceId);
      if (memberError !== ErrorCode.NONE) return { ...m, errorCode: memberError };
      this.log.info({ groupId, memberId: m.memberId }, 'member left the group');
      this.removeMemberAndUpdateGroup(group, group.get(m.memberId), 'LeaveGroup');
      return { ...m, errorCode: ErrorCode.NONE };
    });
    this.dropIfUnused(group);
    return { errorCode: ErrorCode.NONE, members };
  }

  // ---- OffsetCommit / OffsetFetch ----

  /** Commits offsets; resolves with one error code per entry of `p.offsets`, after the append. */
  async commitOffsets(p: OffsetCommitParams): Promise<number[]> {
    const all = (code: number) => p.offsets.map(() => code);
    const error = this.validateGroupStatus(p.groupId, 'commit');
    if (error !== ErrorCode.NONE) return all(error);
    let group = this.groups.get(p.groupId);
    if (!group) {
      // Without group management (assign() + commit) the group exists only for its offsets.
      if (p.generationId >= 0) return all(ErrorCode.ILLEGAL_GENERATION);
      group = new GroupMetadata(p.groupId, 'Empty', this.wallClock());
      this.groups.set(p.groupId, group);
    }
    const validation = this.validateOffsetCommit(group, p);
    if (validation !== ErrorCode.NONE) {
      this.dropIfUnused(group);
      return all(validation);
    }
    switch (group.state) {
      case 'Empty':
        break;
      case 'Stable':
      case 'PreparingRebalance':
        // Commits are allowed while preparing: the member learns of the rebalance from its heartbeat.
        this.completeAndScheduleNextHeartbeatExpiration(group, group.get(p.memberId));
        break;
      case 'CompletingRebalance':
        // The member has its new generation but not its assignment yet.
        return all(ErrorCode.REBALANCE_IN_PROGRESS);
      case 'Dead':
        return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    }
    return this.storeOffsets(group, p);
  }

  private validateOffsetCommit(group: GroupMetadata, p: OffsetCommitParams): number {
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (p.generationId >= 0 || p.memberId !== '' || p.groupInstanceId !== null) {
      const memberError = this.validateCurrentMember(group, p.memberId, p.groupInstanceId);
      if (memberError !== ErrorCode.NONE) return memberError;
      return p.generationId === group.generationId ? ErrorCode.NONE : ErrorCode.ILLEGAL_GENERATION;
    }
    // Generation -1 and no member id: only while nobody is a member.
    return group.is('Empty') ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  private async storeOffsets(group: GroupMetadata, p: OffsetCommitParams): Promise<number[]> {
    const maxMetadata = this.config['offset.metadata.max.bytes'];
    const now = this.wallClock();
    // A retention near Long.MAX_VALUE means "never": keep the sum a valid int64 timestamp.
    const expireTimestamp = p.retentionTimeMs >= 0 ? Math.min(now + p.retentionTimeMs, Number.MAX_SAFE_INTEGER) : null;
    const codes = p.offsets.map((o) => (o.metadata !== null && o.metadata.length > maxMetadata ? ErrorCode.OFFSET_METADATA_TOO_LARGE : ErrorCode.NONE));
    const accepted: { topic: string; partition: number; committed: CommittedOffset }[] = [];
    const records: OffsetsRecord[] = [];
    p.offsets.forEach((o, i) => {
      if (codes[i] !== ErrorCode.NONE) return;
      const committed: CommittedOffset = { offset: o.offset, leaderEpoch: o.leaderEpoch, metadata: o.metadata ?? '', commitTimestamp: now, expireTimestamp };
      accepted.push({ topic: o.topic, partition: o.partition, committed });
      records.push({ key: encodeOffsetCommitKey(group.groupId, o.topic, o.partition), value: encodeOffsetCommitValue(committed) });
    });
    if (records.length === 0) return codes;
    group.pendingOffsetCommits++;
    let appendError: number = ErrorCode.NONE;
    try {
      await this.requireLog().append(this.partitionFor(group.groupId), records, () => {
        // Runs when the append resolves, in log order; a group deleted meanwhile keeps nothing.
        if (this.groups.get(group.groupId) !== group) return;
        for (const a of accepted) group.putOffset(a.topic, a.partition, a.committed);
      });
    } catch (err) {
      appendError = offsetStoreError(errorCodeOf(err));
      this.log.warn({ groupId: group.groupId, err: (err as Error).message, errorCode: appendError }, 'offset commit append failed');
    } finally {
      group.pendingOffsetCommits--;
    }
    this.dropIfUnused(group);
    return codes.map((c) => (c === ErrorCode.NONE ? appendError : c));
  }

  /**
   * Committed offsets, whatever the group's state (a group may only use Kafka for offsets). Null
   * topics means every partition the group has committed. Unknown partitions answer offset -1.
   */
  fetchOffsets(groupId: string, topics: { topic: string; partitions: number[] }[] | null): OffsetFetchResult {
    const error = this.validateGroupStatus(groupId, 'fetch');
    if (error !== ErrorCode.NONE) return { errorCode: error, topics: [] };
    const group = this.groups.get(groupId);
    const usable = group && !group.is('Dead') ? group : undefined;
    const wanted =
      topics ??
      (usable ? [...usable.offsets].map(([topic, partitions]) => ({ topic, partitions: [...partitions.keys()].sort((a, b) => a - b) })) : []);
    return {
      errorCode: ErrorCode.NONE,
      topics: wanted.map(({ topic, partitions }) => ({
        topic,
        partitions: partitions.map((partition) => {
          const c = usable?.offset(topic, partition);
          return c
            ? { partition, offset: c.offset, leaderEpoch: c.leaderEpoch, metadata: c.metadata, errorCode: ErrorCode.NONE }
            : { partition, offset: -1, leaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE };
        }),
      })),
    };
  }

  // ---- ListGroups / DescribeGroups / DeleteGroups ----

  listGroups(): { errorCode: number; groups: GroupListing[] } {
    if (!this.active) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, groups: [] };
    const groups = [...this.groups.values()].filter((g) => !g.is('Dead')).map((g) => ({ groupId: g.groupId, protocolType: g.protocolType ?? '', state: g.state }));
    return { errorCode: ErrorCode.NONE, groups };
  }

  describeGroup(groupId: string): GroupDescription {
    const error = this.validateGroupStatus(groupId, 'describe');
    const dead: GroupDescription = { errorCode: error, groupId, state: 'Dead', protocolType: '', protocolName: '', members: [] };
    if (error !== ErrorCode.NONE) return dead;
    const group = this.groups.get(groupId);
    if (!group) return dead;
    // Like Kafka, metadata and assignments are shown only once the group is Stable.
    const stable = group.is('Stable');
    return {
      errorCode: ErrorCode.NONE,
      groupId,
      state: group.state,
      protocolType: group.protocolType ?? '',
      protocolName: stable ? (group.protocolName ?? '') : '',
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable ? m.metadata(group.protocolName ?? '') : EMPTY_BUFFER,
        assignment: stable ? m.assignment : EMPTY_BUFFER,
      })),
    };
  }

  /** Deletes Empty groups with their offsets (tombstones); NON_EMPTY_GROUP while a group has members. */
  async deleteGroups(groupIds: string[]): Promise<{ groupId: string; errorCode: number }[]> {
    const results = new Map<string, number>();
    const doomed: GroupMetadata[] = [];
    for (const groupId of groupIds) {
      const error = this.validateGroupStatus(groupId, 'delete');
      if (error !== ErrorCode.NONE) {
        results.set(groupId, error);
        continue;
      }
      const group = this.groups.get(groupId);
      if (!group || group.is('Dead')) results.set(groupId, ErrorCode.GROUP_ID_NOT_FOUND);
      else if (!group.is('Empty')) results.set(groupId, ErrorCode.NON_EMPTY_GROUP);
      else {
        group.transitionTo('Dead', this.wallClock());
        doomed.push(group);
      }
    }
    const errors = await this.cleanupGroupMetadata(doomed, (group) => group.allOffsets());
    for (const group of doomed) results.set(group.groupId, errors.get(group.groupId) ?? ErrorCode.NONE);
    if (doomed.length > 0) this.log.info({ groups: doomed.map((g) => g.groupId) }, 'deleted groups');
    return groupIds.map((groupId) => ({ groupId, errorCode: results.get(groupId)! }));
  }

  // ---- offset retention ----

  /**
   * Kafka's cleanupGroupMetadata sweep: removes offsets past `offsets.retention.minutes` and groups left
   * Empty with no offsets, writing tombstones for both. Returns how many offsets expired.
   */
  async cleanupExpiredOffsets(now: number = this.wallClock()): Promise<number> {
    if (!this.active) return 0;
    const retentionMs = this.config['offsets.retention.minutes'] * 60_000;
    let expired = 0;
    const affected: GroupMetadata[] = [];
    const removedOffsets = new Map<GroupMetadata, ReturnType<GroupMetadata['allOffsets']>>();
    for (const group of this.groups.values()) {
      const gone = group.expiredOffsets(now, retentionMs);
      for (const o of gone) group.removeOffset(o.topic, o.partition);
      expired += gone.length;
      const dies = group.is('Empty') && !group.hasOffsets && group.pendingMembers.size === 0;
      if (dies) group.transitionTo('Dead', this.wallClock());
      if (gone.length > 0 || dies) {
        affected.push(group);
        removedOffsets.set(group, gone);
      }
    }
    await this.cleanupGroupMetadata(affected, (group) => removedOffsets.get(group) ?? []);
    if (expired > 0) this.log.info({ expired, groups: affected.length }, 'removed expired offsets');
    return expired;
  }

  private scheduleRetentionCheck(): void {
    this.retentionTask = this.timer.schedule(OFFSETS_RETENTION_CHECK_INTERVAL_MS, () => {
      this.retentionTask = null;
      void this.cleanupExpiredOffsets()
        .catch((err) => this.log.error({ err }, 'offset expiration failed'))
        .finally(() => {
          if (this.active) this.scheduleRetentionCheck();
        });
    });
  }

  /**
   * Writes tombstones for the given offsets of each group and, for groups now Dead, for the group
   * itself (removing it from memory first, so no request sees it again). Returns per-group errors.
   */
  private async cleanupGroupMetadata(groups: GroupMetadata[], offsetsOf: (group: GroupMetadata) => { topic: string; partition: number }[]): Promise<Map<string, number>> {
    const byPartition = new Map<number, { groups: string[]; records: OffsetsRecord[] }>();
    for (const group of groups) {
      const records: OffsetsRecord[] = offsetsOf(group).map((o) => ({ key: encodeOffsetCommitKey(group.groupId, o.topic, o.partition), value: null }));
      if (group.is('Dead')) {
        for (const o of group.allOffsets()) group.removeOffset(o.topic, o.partition);
        if (this.groups.get(group.groupId) === group) this.groups.delete(group.groupId);
        this.cancelGroupTimers(group);
        this.storedMetadata.delete(group.groupId);
        records.push({ key: encodeGroupMetadataKey(group.groupId), value: null });
      }
      if (records.length === 0) continue;
      const partition = this.partitionFor(group.groupId);
      let entry = byPartition.get(partition);
      if (!entry) byPartition.set(partition, (entry = { groups: [], records: [] }));
      entry.groups.push(group.groupId);
      entry.records.push(...records);
    }
    const errors = new Map<string, number>();
    await Promise.all(
      [...byPartition].map(async ([partition, entry]) => {
        try {
          await this.requireLog().append(partition, entry.records);
        } catch (err) {
          const code = offsetStoreError(errorCodeOf(err));
          this.log.warn({ partition, groups: entry.groups, err: (err as Error).message }, 'writing tombstones failed');
          for (const g of entry.groups) errors.set(g, code);
        }
      }),
    );
    return errors;
  }

  // ---- persistence ----

  /** Appends the group's metadata with `assignment`; resolves with an error code (Kafka's storeGroup). */
  private async storeGroup(group: GroupMetadata, assignment: Map<string, Buffer>): Promise<number> {
    const protocol = group.protocolName;
    const value: GroupMetadataValue = {
      protocolType: group.protocolType ?? '',
      generationId: group.generationId,
      protocolName: protocol,
      leaderId: group.leaderId,
      currentStateTimestamp: group.currentStateTimestamp,
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        sessionTimeoutMs: m.sessionTimeoutMs,
        subscription: protocol === null ? EMPTY_BUFFER : m.metadata(protocol),
        assignment: assignment.get(m.memberId) ?? EMPTY_BUFFER,
      })),
    };
    let encoded: Buffer;
    try {
      encoded = encodeGroupMetadataValue(value);
    } catch (err) {
      this.log.error({ groupId: group.groupId, err: (err as Error).message }, 'cannot encode group metadata');
      return ErrorCode.UNKNOWN_SERVER_ERROR;
    }
    try {
      await this.requireLog().append(this.partitionFor(group.groupId), [{ key: encodeGroupMetadataKey(group.groupId), value: encoded }], () => {
        if (this.groups.get(group.groupId) === group) this.storedMetadata.set(group.groupId, encoded);
      });
      return ErrorCode.NONE;
    } catch (err) {
      const code = groupStoreError(errorCodeOf(err));
      this.log.warn({ groupId: group.groupId, err: (err as Error).message, errorCode: code }, 'group metadata append failed');
      return code;
    }
  }

  /** Rebuilds offsets and groups from the log; groups come back as Kafka loads them. */
  private load(offsetsLog: OffsetsLog): { groups: number; offsets: number; records: number; skipped: number } {
    const offsets = new Map<string, Map<string, Map<number, CommittedOffset>>>();
    const metadata = new Map<string, Buffer>();
    let skipped = 0;
    const stats = offsetsLog.replay((_partition, keyBytes, value) => {
      try {
        const key = decodeKey(keyBytes);
        if (key === null) {
          skipped++;
          return;
        }
        if (key.type === 'offset') {
          let topics = offsets.get(key.group);
          if (!topics) offsets.set(key.group, (topics = new Map()));
          let partitions = topics.get(key.topic);
          if (!partitions) topics.set(key.topic, (partitions = new Map()));
          if (value === null) partitions.delete(key.partition);
          else partitions.set(key.partition, decodeOffsetCommitValue(value));
        } else if (value === null) {
          metadata.delete(key.group);
        } else {
          metadata.set(key.group, Buffer.from(value));
        }
      } catch (err) {
        skipped++;
        this.log.warn({ err: (err as Error).message }, 'skipping an unreadable __consumer_offsets record');
      }
    });
    const now = this.wallClock();
    let offsetCount = 0;
    for (const [groupId, encoded] of metadata) {
      let value: GroupMetadataValue;
      try {
        value = decodeGroupMetadataValue(encoded);
      } catch (err) {
        this.log.warn({ groupId, err: (err as Error).message }, 'skipping unreadable group metadata');
        continue;
      }
      // Kafka loads a group with members as Stable; members that do not heartbeat expire as usual.
      const group = new GroupMetadata(groupId, value.members.length > 0 ? 'Stable' : 'Empty', now);
      group.generationId = value.generationId;
      group.protocolType = value.protocolType === '' ? null : value.protocolType;
      group.protocolName = value.protocolName;
      group.currentStateTimestamp = value.currentStateTimestamp;
      for (const m of value.members) {
        const member = new MemberMetadata(m.memberId, m.groupInstanceId, m.clientId, m.clientHost, m.rebalanceTimeoutMs, m.sessionTimeoutMs, value.protocolType, [
          { name: value.protocolName ?? '', metadata: m.subscription },
        ]);
        member.assignment = m.assignment;
        group.add(member, null);
      }
      group.leaderId = value.leaderId !== null && group.has(value.leaderId) ? value.leaderId : group.leaderId;
      this.groups.set(groupId, group);
      this.storedMetadata.set(groupId, encoded);
      for (const member of group.members.values()) this.completeAndScheduleNextHeartbeatExpiration(group, member);
    }
    for (const [groupId, topics] of offsets) {
      let group = this.groups.get(groupId);
      for (const [topic, partitions] of topics) {
        for (const [partition, v] of partitions) {
          if (!group) {
            // Offsets without group metadata belong to a group that only commits (simple consumers).
            group = new GroupMetadata(groupId, 'Empty', now);
            this.groups.set(groupId, group);
          }
          group.putOffset(topic, partition, v);
          offsetCount++;
        }
      }
    }
    return { groups: this.groups.size, offsets: offsetCount, records: stats.records, skipped };
  }

  private snapshot(partition: number): OffsetsRecord[] {
    const records: OffsetsRecord[] = [];
    for (const group of this.groups.values()) {
      if (this.partitionFor(group.groupId) !== partition) continue;
      const stored = this.storedMetadata.get(group.groupId);
      if (stored) records.push({ key: encodeGroupMetadataKey(group.groupId), value: stored });
      for (const o of group.allOffsets()) records.push({ key: encodeOffsetCommitKey(group.groupId, o.topic, o.partition), value: encodeOffsetCommitValue(o) });
    }
    return records;
  }

  private liveKeyCount(partition: number): number {
    let count = 0;
    for (const group of this.groups.values()) {
      if (this.partitionFor(group.groupId) !== partition) continue;
      if (this.storedMetadata.has(group.groupId)) count++;
      for (const partitions of group.offsets.values()) count += partitions.size;
    }
    return count;
  }

  // ---- helpers ----

  private requireLog(): OffsetsLog {
    if (!this.offsetsLog) throw new KafkaError('COORDINATOR_NOT_AVAILABLE', 'the group coordinator has not been started');
    return this.offsetsLog;
  }

  /** Kafka's validateGroupStatus: a group id is required except where an empty one is legal. */
  private validateGroupStatus(groupId: string, api: Api): number {
    const emptyAllowed = api === 'commit' || api === 'fetch' || api === 'describe' || api === 'delete';
    if (!emptyAllowed && groupId === '') return ErrorCode.INVALID_GROUP_ID;
    if (!this.active) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    return ErrorCode.NONE;
  }

  /** The member id must be in the group; with an instance id, it must be that instance's current id. */
  private validateCurrentMember(group: GroupMetadata, memberId: string, groupInstanceId: string | null): number {
    if (groupInstanceId !== null) {
      const current = group.currentStaticMemberId(groupInstanceId);
      if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (current !== memberId) return ErrorCode.FENCED_INSTANCE_ID;
      return ErrorCode.NONE;
    }
    return group.has(memberId) ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  /** Forgets a group that holds nothing: no members, pending ids, offsets or stored metadata. */
  private dropIfUnused(group: GroupMetadata): void {
    if (!group.is('Empty') || group.size > 0 || group.pendingMembers.size > 0 || group.hasOffsets || group.generationId > 0) return;
    if (this.storedMetadata.has(group.groupId) || this.groups.get(group.groupId) !== group) return;
    this.cancelGroupTimers(group);
    this.groups.delete(group.groupId);
  }

  private cancelGroupTimers(group: GroupMetadata): void {
    this.timer.cancel(group.joinTask);
    this.timer.cancel(group.syncTask);
    group.joinTask = null;
    group.syncTask = null;
    for (const task of group.pendingMembers.values()) this.timer.cancel(task);
    for (const member of group.members.values()) {
      this.timer.cancel(member.expiryTask);
      member.expiryTask = null;
    }
  }
}

function errorJoin(memberId: string, errorCode: number): JoinGroupResult {
  return { errorCode, memberId, generationId: -1, protocolType: null, protocolName: null, leaderId: '', members: [] };
}

/** Kafka's mapping of append errors for offset commits (GroupMetadataManager.storeOffsets). */
function offsetStoreError(code: number): number {
  switch (code) {
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR;
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
    case ErrorCode.INVALID_FETCH_SIZE:
      return ErrorCode.INVALID_COMMIT_OFFSET_SIZE;
    default:
      return code;
  }
}

/** Kafka's mapping of append errors for group metadata (GroupMetadataManager.storeGroup). */
function groupStoreError(code: number): number {
  switch (code) {
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR;
    case ErrorCode.REQUEST_TIMED_OUT:
      return ErrorCode.REBALANCE_IN_PROGRESS;
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
    case ErrorCode.INVALID_FETCH_SIZE:
      return ErrorCode.UNKNOWN_SERVER_ERROR;
    default:
      return code;
  }
}
