/**
 * Valid seed requests for the protocol fuzzer: one plausible body per API (a superset of the fields of
 * every version; the generated encoders write the ones a version has), naming things that exist on the
 * fuzzed broker, with fresh group and topic names per case so one case's state does not park the next.
 * Encoding records where every length, count and number field lies, so mutations can aim at them.
 */
import { ApiKey, Writer, encodeRequest } from '../../../src/protocol/index.js';
import { encodeRecordBatch } from '../../../src/storage/record-codec.js';
import type { Rng } from '../helpers/rng.js';

/** Topic the fuzzer's requests name; created before fuzzing, with two partitions. */
export const FUZZ_TOPIC = 'fz';
/** Topic CreatePartitions seeds grow (by one partition a time). */
export const FUZZ_GROW_TOPIC = 'fz-grow';

export type FieldKind = 'int8' | 'int16' | 'int32' | 'int64' | 'uvarint' | 'len16' | 'len32' | 'count32' | 'ulen' | 'ucount';

/** A field of the encoded frame: its byte position and what it is. */
export interface TracedField {
  pos: number;
  kind: FieldKind;
}

interface TraceTarget {
  fields: TracedField[];
  depth: number;
}

let tracing: TraceTarget | null = null;

const TRACED: [method: keyof Writer, kind: FieldKind][] = [
  ['int8', 'int8'],
  ['int16', 'int16'],
  ['int32', 'int32'],
  ['int64', 'int64'],
  ['uvarint', 'uvarint'],
  ['string', 'len16'],
  ['nullableString', 'len16'],
  ['bytes', 'len32'],
  ['nullableBytes', 'len32'],
  ['records', 'len32'],
  ['arrayLength', 'count32'],
  ['compactString', 'ulen'],
  ['compactNullableString', 'ulen'],
  ['compactBytes', 'ulen'],
  ['compactNullableBytes', 'ulen'],
  ['compactRecords', 'ulen'],
  ['compactArrayLength', 'ucount'],
  ['emptyTaggedFields', 'ucount'],
];

let installed = false;

/** Wraps the Writer's field methods once: while tracing, each outermost call records its position. */
function installTracing(): void {
  if (installed) return;
  installed = true;
  const proto = Writer.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const [method, kind] of TRACED) {
    const original = proto[method as string]!;
    proto[method as string] = function (this: Writer, ...args: unknown[]) {
      const t = tracing;
      if (!t) return original.apply(this, args);
      if (t.depth === 0) t.fields.push({ pos: this.length, kind });
      t.depth++;
      try {
        return original.apply(this, args);
      } finally {
        t.depth--;
      }
    };
  }
}

/** Encodes a request frame (size prefix included) and where its fields are. */
export function encodeTraced(apiKey: number, version: number, correlationId: number, body: unknown): { frame: Buffer; fields: TracedField[] } {
  installTracing();
  const target: TraceTarget = { fields: [], depth: 0 };
  tracing = target;
  try {
    const frame = encodeRequest(apiKey, version, correlationId, 'fuzz', body as never);
    // The first traced field is the frame's own size slot: mutations of it are their own kind.
    return { frame, fields: target.fields.filter((f) => f.pos >= 4) };
  } finally {
    tracing = null;
  }
}

export interface SeedContext {
  rng: Rng;
  /** A number unique to this case, for group, member and topic names. */
  n: number;
  version: number;
}

const batchCache: Buffer[] = [];

function someBatch(rng: Rng): Buffer {
  if (batchCache.length < 8) {
    const count = rng.range(1, 5);
    batchCache.push(
      encodeRecordBatch(
        Array.from({ length: count }, (_, i) => ({ key: `k${i}`, value: `fuzz value ${i}`.repeat(rng.range(1, 4)), headers: rng.chance(0.3) ? { h: 'v' } : undefined })),
        { compression: rng.pick(['none', 'none', 'gzip'] as const) },
      ),
    );
  }
  return Buffer.from(rng.pick(batchCache));
}

/** A valid request body for `apiKey`, plausible for the fuzzed broker. */
export function seedBody(apiKey: number, ctx: SeedContext): unknown {
  const { rng, n, version } = ctx;
  const group = `fzg-${n}`;
  const partition = rng.int(2);
  switch (apiKey) {
    case ApiKey.Produce:
      return {
        transactionalId: null,
        acks: rng.pick([1, -1, 0]),
        timeoutMs: 1000,
        topicData: [{ name: FUZZ_TOPIC, partitionData: [{ index: partition, records: someBatch(rng) }] }],
      };
    case ApiKey.Fetch:
      return {
        clusterId: null,
        replicaId: -1,
        replicaState: { replicaId: -1, replicaEpoch: -1 },
        maxWaitMs: rng.int(20),
        minBytes: rng.int(2),
        maxBytes: 64 * 1024,
        isolationLevel: rng.int(2),
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic: FUZZ_TOPIC, topicId: Buffer.alloc(16), partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: rng.int(4), lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 32 * 1024 }] }],
        forgottenTopicsData: rng.chance(0.3) ? [{ topic: FUZZ_TOPIC, topicId: Buffer.alloc(16), partitions: [1] }] : [],
        rackId: '',
      };
    case ApiKey.ListOffsets:
      return { replicaId: -1, isolationLevel: 0, topics: [{ name: FUZZ_TOPIC, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: rng.pick([-1, -2, Date.now() - 1000]), maxNumOffsets: 1 }] }] };
    case ApiKey.Metadata:
      return { topics: version >= 1 && rng.chance(0.2) ? null : [{ topicId: Buffer.alloc(16), name: FUZZ_TOPIC }], allowAutoTopicCreation: rng.chance(0.5), includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false };
    case ApiKey.OffsetCommit:
      return {
        groupId: group,
        generationIdOrMemberEpoch: -1,
        memberId: '',
        groupInstanceId: null,
        retentionTimeMs: -1,
        topics: [{ name: FUZZ_TOPIC, partitions: [{ partitionIndex: partition, committedOffset: rng.int(10), committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: 'm' }] }],
      };
    case ApiKey.OffsetFetch:
      return { groupId: rng.chance(0.5) ? group : `fzg-${Math.max(0, n - 1)}`, topics: version >= 2 && rng.chance(0.3) ? null : [{ name: FUZZ_TOPIC, partitionIndexes: [0, 1] }], requireStable: false };
    case ApiKey.FindCoordinator:
      return { key: group, keyType: 0, coordinatorKeys: [group] };
    case ApiKey.JoinGroup:
      return {
        groupId: group,
        sessionTimeoutMs: 500,
        rebalanceTimeoutMs: 500,
        memberId: '',
        groupInstanceId: null,
        protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: Buffer.from([0, 1, 0, 0, 0, 1, 0, 2, 0x66, 0x7a, 0, 0, 0, 0]) }],
        reason: null,
      };
    case ApiKey.Heartbeat:
      return { groupId: group, generationId: rng.range(-1, 2), memberId: `m-${n}`, groupInstanceId: null };
    case ApiKey.LeaveGroup:
      return { groupId: group, memberId: `m-${n}`, members: [{ memberId: `m-${n}`, groupInstanceId: null, reason: null }] };
    case ApiKey.SyncGroup:
      return { groupId: group, generationId: rng.range(-1, 2), memberId: `m-${n}`, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: `m-${n}`, assignment: Buffer.from([0, 1, 0, 0, 0, 0]) }] };
    case ApiKey.DescribeGroups:
      return { groups: [group, 'fzg-0'], includeAuthorizedOperations: false };
    case ApiKey.ListGroups:
      return { statesFilter: [] };
    case ApiKey.ApiVersions:
      return { clientSoftwareName: 'penstock-fuzz', clientSoftwareVersion: '1.0' };
    case ApiKey.CreateTopics:
      return {
        topics: [{ name: `fzt-${n}`, numPartitions: rng.range(-1, 2), replicationFactor: rng.pick([1, -1]), assignments: [], configs: rng.chance(0.5) ? [{ name: 'retention.ms', value: '60000' }] : [] }],
        timeoutMs: 1000,
        validateOnly: rng.chance(0.3),
      };
    case ApiKey.DeleteTopics:
      return { topicNames: [`fzt-${Math.max(0, n - rng.range(1, 50))}`], topics: [], timeoutMs: 1000 };
    case ApiKey.DescribeConfigs:
      return {
        resources: [{ resourceType: rng.pick([2, 4]), resourceName: rng.chance(0.5) ? FUZZ_TOPIC : '0', configurationKeys: rng.chance(0.5) ? null : ['retention.ms', 'segment.bytes'] }],
        includeSynonyms: rng.chance(0.5),
        includeDocumentation: false,
      };
    case ApiKey.CreatePartitions:
      return { topics: [{ name: FUZZ_GROW_TOPIC, count: 2 + (n % 4), assignments: null }], timeoutMs: 1000, validateOnly: rng.chance(0.5) };
    case ApiKey.DeleteGroups:
      return { groupsNames: [`fzg-${Math.max(0, n - rng.range(1, 50))}`] };
    default:
      throw new Error(`no fuzz seed for API key ${apiKey}`);
  }
}
