import type { RequestContext } from '../request-context.js';
import { ErrorCode, KafkaError, errorCodeOf } from '../../protocol/error-codes.js';
import type { CreateTopicsRequest, CreateTopicsResponse } from '../../protocol/index.js';

/**
 * CreateTopics: -1 partitions or replication factor means the broker default; a replication factor
 * above 1 cannot be met by one node. Explicit assignments must name this broker only.
 */
export async function handleCreateTopics(ctx: RequestContext, request: CreateTopicsRequest): Promise<CreateTopicsResponse> {
  const { broker } = ctx;
  const validateOnly = ctx.apiVersion >= 1 && request.validateOnly;
  const topics = [];
  for (const topic of request.topics) {
    try {
      const partitions = partitionCount(ctx, topic);
      const overrides: Record<string, string> = {};
      for (const config of topic.configs) {
        if (config.value === null) throw new KafkaError('INVALID_CONFIG', `config ${config.name} has a null value`);
        overrides[config.name] = config.value;
      }
      await broker.logs.createTopic(topic.name, partitions, overrides, { validateOnly });
      if (!validateOnly) broker.log.info({ topic: topic.name, partitions, clientId: ctx.clientId }, 'created topic');
      topics.push({ name: topic.name, errorCode: ErrorCode.NONE, errorMessage: null });
    } catch (err) {
      topics.push({ name: topic.name, errorCode: errorCodeOf(err), errorMessage: (err as Error).message ?? null });
    }
  }
  return { throttleTimeMs: 0, topics: topics.map((t) => ({ ...t, topicId: ZERO_UUID, numPartitions: -1, replicationFactor: -1, configs: null, topicConfigErrorCode: 0 })) };
}

function partitionCount(ctx: RequestContext, topic: CreateTopicsRequest['topics'][number]): number {
  const { broker } = ctx;
  if (topic.replicationFactor > 1) {
    throw new KafkaError('INVALID_REPLICATION_FACTOR', `replication factor ${topic.replicationFactor} is larger than the 1 available broker`);
  }
  if (topic.assignments.length > 0) {
    if (topic.numPartitions !== -1 || topic.replicationFactor !== -1) {
      throw new KafkaError('INVALID_REQUEST', 'both assignments and numPartitions/replicationFactor were given');
    }
    for (const assignment of topic.assignments) {
      if (assignment.brokerIds.some((id) => id !== broker.nodeId) || assignment.brokerIds.length !== 1) {
        throw new KafkaError('INVALID_REPLICA_ASSIGNMENT', `partition ${assignment.partitionIndex} must be assigned to broker ${broker.nodeId} alone`);
      }
    }
    return topic.assignments.length;
  }
  if (topic.numPartitions === -1) return broker.config['num.partitions'];
  if (topic.numPartitions <= 0) throw new KafkaError('INVALID_PARTITIONS', `number of partitions must be larger than 0, got ${topic.numPartitions}`);
  return topic.numPartitions;
}

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
