import type { RequestContext } from '../request-context.js';
import { ErrorCode, KafkaError, errorCodeOf } from '../../protocol/error-codes.js';
import type { CreatePartitionsRequest, CreatePartitionsResponse } from '../../protocol/index.js';

/** CreatePartitions: grows a topic to `count` partitions (never shrinks, as in Kafka). */
export async function handleCreatePartitions(ctx: RequestContext, request: CreatePartitionsRequest): Promise<CreatePartitionsResponse> {
  const { broker } = ctx;
  const results = [];
  for (const topic of request.topics) {
    try {
      if (topic.assignments?.some((a) => a.brokerIds.some((id) => id !== broker.nodeId))) {
        throw new KafkaError('INVALID_REPLICA_ASSIGNMENT', `new partitions must be assigned to broker ${broker.nodeId}`);
      }
      await broker.logs.createPartitions(topic.name, topic.count, { validateOnly: request.validateOnly });
      results.push({ name: topic.name, errorCode: ErrorCode.NONE, errorMessage: null });
    } catch (err) {
      results.push({ name: topic.name, errorCode: errorCodeOf(err), errorMessage: (err as Error).message ?? null });
    }
  }
  return { throttleTimeMs: 0, results };
}
