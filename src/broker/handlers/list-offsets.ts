import type { RequestContext } from '../request-context.js';
import { ErrorCode, errorCodeOf } from '../../protocol/error-codes.js';
import type { ListOffsetsRequest, ListOffsetsResponse } from '../../protocol/index.js';
import { partitionOrThrow } from '../topic-access.js';

const LATEST = -1;
const EARLIEST = -2;

/**
 * ListOffsets: -1 is the high watermark (the last stable offset too: no transactions), -2 the log
 * start offset, anything else the first offset whose timestamp is at or after it (time index).
 */
export function handleListOffsets(ctx: RequestContext, request: ListOffsetsRequest): ListOffsetsResponse {
  const { broker } = ctx;
  return {
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((p) => {
        const base = { partitionIndex: p.partitionIndex, oldStyleOffsets: [], leaderEpoch: -1 };
        try {
          const log = partitionOrThrow(broker, topic.name, p.partitionIndex);
          if (p.timestamp === LATEST) return { ...base, errorCode: ErrorCode.NONE, timestamp: -1, offset: log.highWatermark };
          if (p.timestamp === EARLIEST) return { ...base, errorCode: ErrorCode.NONE, timestamp: -1, offset: log.logStartOffset };
          const found = log.offsetForTimestamp(p.timestamp);
          return { ...base, errorCode: ErrorCode.NONE, timestamp: found?.timestamp ?? -1, offset: found?.offset ?? -1 };
        } catch (err) {
          return { ...base, errorCode: errorCodeOf(err), timestamp: -1, offset: -1 };
        }
      }),
    })),
  };
}
