/**
 * The "consumer" embedded protocol of classic groups: the subscription a member sends in JoinGroup,
 * the assignment the leader hands out in SyncGroup (each an int16 version then the struct), and
 * Kafka's range assignor, which the CLI's consumer uses when it leads a group.
 */
import {
  Reader,
  Writer,
  decodeConsumerProtocolAssignment,
  decodeConsumerProtocolSubscription,
  encodeConsumerProtocolAssignment,
  encodeConsumerProtocolSubscription,
} from '../protocol/index.js';

/** The newest version of each struct penstock's codecs know; newer ones add fields at the end. */
const NEWEST_KNOWN_VERSION = 3;

export const RANGE_ASSIGNOR = 'range';

export interface Subscription {
  topics: string[];
}

/** topic → partitions. */
export type Assignment = Map<string, number[]>;

export function encodeSubscription(topics: readonly string[]): Buffer {
  const w = new Writer().int16(0);
  encodeConsumerProtocolSubscription(w, 0, { topics: [...topics], userData: null, ownedPartitions: [], generationId: -1, rackId: null });
  return w.toBuffer();
}

export function decodeSubscription(bytes: Buffer): Subscription {
  const r = new Reader(bytes);
  const version = r.int16('ConsumerProtocolSubscription.version');
  return { topics: decodeConsumerProtocolSubscription(r, Math.min(version, NEWEST_KNOWN_VERSION)).topics };
}

export function encodeAssignment(assignment: Assignment): Buffer {
  const w = new Writer().int16(0);
  encodeConsumerProtocolAssignment(w, 0, {
    assignedPartitions: [...assignment].map(([topic, partitions]) => ({ topic, partitions })),
    userData: null,
  });
  return w.toBuffer();
}

/** An empty buffer (a member with nothing assigned, or a group not Stable) decodes to no partitions. */
export function decodeAssignment(bytes: Buffer): Assignment {
  const out: Assignment = new Map();
  if (bytes.length === 0) return out;
  const r = new Reader(bytes);
  const version = r.int16('ConsumerProtocolAssignment.version');
  for (const { topic, partitions } of decodeConsumerProtocolAssignment(r, Math.min(version, NEWEST_KNOWN_VERSION)).assignedPartitions) {
    out.set(topic, [...(out.get(topic) ?? []), ...partitions].sort((a, b) => a - b));
  }
  return out;
}

/**
 * Kafka's RangeAssignor: per topic, the subscribed members in member-id order each take a contiguous
 * range of partitions; the first `partitions % members` take one extra.
 */
export function rangeAssign(subscriptions: ReadonlyMap<string, Subscription>, partitionCounts: ReadonlyMap<string, number>): Map<string, Assignment> {
  const result = new Map<string, Assignment>([...subscriptions.keys()].map((memberId) => [memberId, new Map()]));
  const topics = new Set([...subscriptions.values()].flatMap((s) => s.topics));
  for (const topic of topics) {
    const count = partitionCounts.get(topic);
    if (count === undefined) continue;
    const members = [...subscriptions].filter(([, s]) => s.topics.includes(topic)).map(([id]) => id).sort();
    const perMember = Math.floor(count / members.length);
    const withExtra = count % members.length;
    members.forEach((memberId, i) => {
      const start = perMember * i + Math.min(i, withExtra);
      const length = perMember + (i < withExtra ? 1 : 0);
      if (length === 0) return;
      result.get(memberId)!.set(topic, Array.from({ length }, (_, k) => start + k));
    });
  }
  return result;
}
