import type { RequestContext } from '../request-context.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import type { OffsetCommitRequest, OffsetCommitResponse } from '../../protocol/index.js';

/**
 * OffsetCommit (v2+): partitions that do not exist answer UNKNOWN_TOPIC_OR_PARTITION, the rest go to
 * the coordinator, whose answer comes after the commit is in `__consumer_offsets`.
 */
export async function handleOffsetCommit(ctx: RequestContext, request: OffsetCommitRequest): Promise<OffsetCommitResponse> {
  const { broker } = ctx;
  const codes = new Map<string, number>();
  const key = (topic: string, partition: number) => `${partition}:${topic}`;
  const offsets = [];
  for (const topic of request.topics) {
    for (const p of topic.partitions) {
      if (!broker.logs.partition(topic.name, p.partitionIndex)) {
        codes.set(key(topic.name, p.partitionIndex), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
        continue;
      }
      offsets.push({
        topic: topic.name,
        partition: p.partitionIndex,
        offset: p.committedOffset,
        leaderEpoch: ctx.apiVersion >= 6 ? p.committedLeaderEpoch : -1,
        metadata: p.committedMetadata,
      });
    }
  }
  if (offsets.length > 0) {
    const results = await broker.groups.commitOffsets({
      groupId: request.groupId,
      memberId: request.memberId,
      groupInstanceId: ctx.apiVersion >= 7 ? request.groupInstanceId : null,
      generationId: request.generationIdOrMemberEpoch,
      retentionTimeMs: ctx.apiVersion <= 4 ? request.retentionTimeMs : -1,
      offsets,
    });
    offsets.forEach((o, i) => codes.set(key(o.topic, o.partition), results[i]!));
  }
  return {
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: codes.get(key(topic.name, p.partitionIndex)) ?? ErrorCode.NONE })),
    })),
  };
}
