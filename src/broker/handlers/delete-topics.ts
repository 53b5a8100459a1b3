import type { RequestContext } from '../request-context.js';
import { ErrorCode, KafkaError, errorCodeOf } from '../../protocol/error-codes.js';
import type { DeleteTopicsRequest, DeleteTopicsResponse } from '../../protocol/index.js';

/** DeleteTopics: removes the topic's partitions from disk; internal topics cannot be deleted. */
export async function handleDeleteTopics(ctx: RequestContext, request: DeleteTopicsRequest): Promise<DeleteTopicsResponse> {
  const { broker } = ctx;
  const responses = [];
  for (const name of request.topicNames) {
    try {
      if (!broker.config['delete.topic.enable']) throw new KafkaError('TOPIC_DELETION_DISABLED', 'delete.topic.enable is false');
      if (broker.logs.isInternal(name)) throw new KafkaError('INVALID_REQUEST', `${name} is an internal topic`);
      await broker.logs.deleteTopic(name);
      broker.log.info({ topic: name, clientId: ctx.clientId }, 'deleted topic');
      responses.push({ name, errorCode: ErrorCode.NONE });
    } catch (err) {
      responses.push({ name, errorCode: errorCodeOf(err) });
    }
  }
  return { throttleTimeMs: 0, responses: responses.map((r) => ({ ...r, topicId: ZERO_UUID, errorMessage: null })) };
}

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
