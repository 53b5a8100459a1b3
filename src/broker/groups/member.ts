/**
 * One member of a classic consumer group (Kafka's MemberMetadata): what it sent in its last JoinGroup,
 * its assignment, and the JoinGroup/SyncGroup responses it is parked on.
 */
import { KafkaError } from '../../protocol/error-codes.js';
import type { TimerTask } from './timer.js';

export interface MemberProtocol {
  name: string;
  metadata: Buffer;
}

export interface JoinGroupMember {
  memberId: string;
  groupInstanceId: string | null;
  metadata: Buffer;
}

/** What a JoinGroup is answered with; `members` is non-empty only for the leader. */
export interface JoinGroupResult {
  errorCode: number;
  memberId: string;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leaderId: string;
  members: JoinGroupMember[];
}

export interface SyncGroupResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export const EMPTY_BUFFER: Buffer = Buffer.alloc(0);

export class MemberMetadata {
  assignment: Buffer = EMPTY_BUFFER;
  awaitingJoin: ((result: JoinGroupResult) => void) | null = null;
  awaitingSync: ((result: SyncGroupResult) => void) | null = null;
  /** Joined but not yet through a completed rebalance: its first JoinGroup may time out (Kafka's isNew). */
  isNew = false;
  /** Monotonic ms after which a member that owes a heartbeat is removed. */
  heartbeatDeadline = 0;
  /** The timer task that checks `heartbeatDeadline`; at most one per member. */
  expiryTask: TimerTask | null = null;

  constructor(
    public memberId: string,
    readonly groupInstanceId: string | null,
    public clientId: string,
    public clientHost: string,
    public rebalanceTimeoutMs: number,
    public sessionTimeoutMs: number,
    readonly protocolType: string,
    public protocols: MemberProtocol[],
  ) {}

  get isStatic(): boolean {
    return this.groupInstanceId !== null;
  }

  get isAwaitingJoin(): boolean {
    return this.awaitingJoin !== null;
  }

  get isAwaitingSync(): boolean {
    return this.awaitingSync !== null;
  }

  /** Kafka's hasSatisfiedHeartbeat: members parked in a rebalance owe no heartbeat, unless new. */
  get exemptFromSessionTimeout(): boolean {
    return !this.isNew && (this.isAwaitingJoin || this.isAwaitingSync);
  }

  protocolNames(): string[] {
    return this.protocols.map((p) => p.name);
  }

  /** The member's metadata for `protocol` (which every member supports once it is selected). */
  metadata(protocol: string): Buffer {
    return this.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY_BUFFER;
  }

  /** Same protocols, in the same order, with the same metadata bytes. */
  matches(protocols: readonly MemberProtocol[]): boolean {
    if (protocols.length !== this.protocols.length) return false;
    return protocols.every((p, i) => p.name === this.protocols[i]!.name && p.metadata.equals(this.protocols[i]!.metadata));
  }

  /** The member's most preferred protocol among `candidates` (the protocols every member supports). */
  vote(candidates: ReadonlySet<string>): string {
    const choice = this.protocols.find((p) => candidates.has(p.name));
    if (!choice) throw new KafkaError('INCONSISTENT_GROUP_PROTOCOL', `member ${this.memberId} supports none of the candidate protocols ${[...candidates].join(', ')}`, { memberId: this.memberId });
    return choice.name;
  }

  /** Answers a parked JoinGroup; returns whether there was one. */
  invokeJoin(result: JoinGroupResult): boolean {
    const callback = this.awaitingJoin;
    if (!callback) return false;
    this.awaitingJoin = null;
    callback(result);
    return true;
  }

  /** Answers a parked SyncGroup; returns whether there was one. */
  invokeSync(result: SyncGroupResult): boolean {
    const callback = this.awaitingSync;
    if (!callback) return false;
    this.awaitingSync = null;
    callback(result);
    return true;
  }
}
