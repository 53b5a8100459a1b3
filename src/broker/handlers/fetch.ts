import type { RequestContext } from '../request-context.js';
import { ErrorCode, errorCodeOf } from '../../protocol/error-codes.js';
import type { FetchRequest, FetchResponse, FetchResponsePartitionData } from '../../protocol/index.js';
import type { PartitionLog } from '../../storage/partition-log.js';
import { partitionOrThrow } from '../topic-access.js';

const READ_COMMITTED = 1;

interface FetchRead {
  response: FetchResponse;
  bytes: number;
  hasError: boolean;
  release(): void;
}

/**
 * Fetch: per partition, a file region from the batch holding the fetch offset, bounded by the high
 * watermark, the partition and response byte limits; the first non-empty partition always gets one
 * whole batch (KIP-74). Fewer than MinBytes ready: wait for an append, up to MaxWaitMs. The regions go
 * out with sendfile on the native backend and stay open until the send ends.
 */
export async function handleFetch(ctx: RequestContext, request: FetchRequest): Promise<FetchResponse> {
  const { broker } = ctx;
  const deadline = Date.now() + Math.max(0, request.maxWaitMs);
  let result = readOnce(ctx, request);

  if (result.bytes < request.minBytes && !result.hasError && request.maxWaitMs > 0) {
    const sources = waitSources(ctx, request);
    while (result.bytes < request.minBytes && !ctx.signal.aborted) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      result.release();
      const reason = await broker.fetchWaiters.wait(sources, remaining, ctx.signal);
      result = readOnce(ctx, request);
      if (reason !== 'append' || result.hasError) break;
    }
  }
  ctx.afterSend(() => result.release());
  return result.response;
}

function waitSources(ctx: RequestContext, request: FetchRequest): PartitionLog[] {
  const logs: PartitionLog[] = [];
  for (const topic of request.topics) {
    for (const partition of topic.partitions) {
      const log = ctx.broker.logs.partition(topic.topic, partition.partition);
      if (log) logs.push(log);
    }
  }
  return logs;
}

function readOnce(ctx: RequestContext, request: FetchRequest): FetchRead {
  const { broker } = ctx;
  const releases: (() => void)[] = [];
  let bytesLeft = Math.min(ctx.apiVersion >= 3 ? request.maxBytes : Number.MAX_SAFE_INTEGER, broker.config['fetch.max.bytes']);
  let bytes = 0;
  let hasError = false;
  let minOneBatch = true;
  const abortedTransactions = request.isolationLevel === READ_COMMITTED ? [] : null;

  const responses = request.topics.map((topic) => ({
    topic: topic.topic,
    partitions: topic.partitions.map((p): FetchResponsePartitionData => {
      const base = {
        partitionIndex: p.partition,
        highWatermark: -1,
        lastStableOffset: -1,
        logStartOffset: -1,
        divergingEpoch: { epoch: -1, endOffset: -1 },
        currentLeader: { leaderId: -1, leaderEpoch: -1 },
        snapshotId: { endOffset: -1, epoch: -1 },
        abortedTransactions,
        preferredReadReplica: -1,
      };
      try {
        const log = partitionOrThrow(broker, topic.topic, p.partition);
        const read = log.read(p.fetchOffset, Math.max(0, Math.min(p.partitionMaxBytes, bytesLeft)), minOneBatch);
        releases.push(read.release);
        const length = read.region?.length ?? 0;
        if (length > 0) {
          broker.metrics?.fetched(topic.topic, length);
          minOneBatch = false;
          bytesLeft -= length;
          bytes += length;
        }
        return {
          ...base,
          errorCode: ErrorCode.NONE,
          highWatermark: read.highWatermark,
          lastStableOffset: read.highWatermark,
          logStartOffset: read.logStartOffset,
          records: read.region && length > 0 ? read.region : EMPTY,
        };
      } catch (err) {
        hasError = true;
        const log = broker.logs.partition(topic.topic, p.partition);
        return {
          ...base,
          errorCode: errorCodeOf(err),
          highWatermark: log?.highWatermark ?? -1,
          lastStableOffset: log?.highWatermark ?? -1,
          logStartOffset: log?.logStartOffset ?? -1,
          records: EMPTY,
        };
      }
    }),
  }));

  return {
    response: { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses },
    bytes,
    hasError,
    release: () => {
      for (const release of releases.splice(0)) release();
    },
  };
}

const EMPTY = Buffer.alloc(0);
