import type { RequestContext } from '../request-context.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import type { OffsetFetchRequest, OffsetFetchResponse } from '../../protocol/index.js';

/**
 * OffsetFetch (v1+): v2+ may ask for every committed partition with null topics and has a top-level
 * error; before v2 a group-level error is repeated in each partition.
 */
export function handleOffsetFetch(ctx: RequestContext, request: OffsetFetchRequest): OffsetFetchResponse {
  const topics = request.topics === null ? null : request.topics.map((t) => ({ topic: t.name, partitions: t.partitionIndexes }));
  const result = ctx.broker.groups.fetchOffsets(request.groupId, topics);
  if (result.errorCode !== ErrorCode.NONE && ctx.apiVersion < 2) {
    return {
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      topics: (topics ?? []).map((t) => ({
        name: t.topic,
        partitions: t.partitions.map((partitionIndex) => ({ partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: result.errorCode })),
      })),
    };
  }
  return {
    throttleTimeMs: 0,
    errorCode: result.errorCode,
    topics: result.topics.map((t) => ({
      name: t.topic,
      partitions: t.partitions.map((p) => ({
        partitionIndex: p.partition,
        committedOffset: p.offset,
        committedLeaderEpoch: p.leaderEpoch,
        metadata: p.metadata,
        errorCode: p.errorCode,
      })),
    })),
  };
}
