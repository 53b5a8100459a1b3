import { NO_RESPONSE, type RequestContext } from '../request-context.js';
import { ErrorCode, KafkaError, errorCodeOf, errorName } from '../../protocol/error-codes.js';
import type { ProduceRequest, ProduceResponse, ProduceResponsePartitionProduceResponse } from '../../protocol/index.js';
import { partitionOrThrow } from '../topic-access.js';

const VALID_ACKS = new Set([-1, 0, 1]);

/**
 * Produce: each partition's records (a view of the request frame) are validated and appended; the
 * storage layer stamps offsets in place and group-commits everything that arrives in one loop turn.
 * acks 1 and -1 are the same on one node; acks 0 gets no response, and on any error the connection
 * is closed, as Kafka does, so the producer learns of it.
 */
export async function handleProduce(ctx: RequestContext, request: ProduceRequest): Promise<ProduceResponse | typeof NO_RESPONSE> {
  const { broker } = ctx;
  const acksValid = VALID_ACKS.has(request.acks);

  const topics = request.topicData.map((topic) => ({
    name: topic.name,
    partitions: topic.partitionData.map((partition) => {
      const index = partition.index;
      if (!acksValid) return Promise.resolve(failed(index, ErrorCode.INVALID_REQUIRED_ACKS));
      if (request.transactionalId !== null) return Promise.resolve(failed(index, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED));
      try {
        const log = partitionOrThrow(broker, topic.name, index);
        // The coordinator alone writes internal topics; a client's records there would be replayed as group state.
        if (broker.logs.isInternal(topic.name)) {
          throw new KafkaError('INVALID_TOPIC_EXCEPTION', `cannot produce to internal topic ${topic.name}`, { topic: topic.name, partition: index });
        }
        if (!partition.records || partition.records.length === 0) {
          throw new KafkaError('INVALID_RECORD', 'produce request carries no record batch', { topic: topic.name, partition: index });
        }
        const records = partition.records as Buffer;
        return log.append(records).then(
          (info): ProduceResponsePartitionProduceResponse => {
            broker.metrics?.produced(topic.name, info.lastOffset - info.baseOffset + 1, records.length);
            const { baseOffset, logAppendTime: logAppendTimeMs, logStartOffset } = info;
            return { index, errorCode: ErrorCode.NONE, baseOffset, logAppendTimeMs, logStartOffset };
          },
          (err: unknown) => failed(index, errorCodeOf(err), err, topic.name),
        );
      } catch (err) {
        return Promise.resolve(failed(index, errorCodeOf(err), err, topic.name));
      }
    }),
  }));

  const responses = await Promise.all(
    topics.map(async (topic) => ({ name: topic.name, partitionResponses: await Promise.all(topic.partitions) })),
  );

  if (request.acks === 0) {
    const failure = responses.flatMap((t) => t.partitionResponses.map((p) => ({ topic: t.name, ...p }))).find((p) => p.errorCode !== ErrorCode.NONE);
    if (failure) ctx.connection.close(`acks=0 produce failed with ${errorName(failure.errorCode)}`, { topic: failure.topic, partition: failure.index });
    return NO_RESPONSE;
  }
  return { responses, throttleTimeMs: 0 };

  function failed(index: number, errorCode: number, err?: unknown, topic?: string): ProduceResponsePartitionProduceResponse {
    if (err !== undefined && errorCode !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) {
      broker.log.warn({ topic, partition: index, clientId: ctx.clientId, remote: ctx.connection.remote, error: errorName(errorCode), reason: (err as Error)?.message }, 'produce rejected');
    }
    return { index, errorCode, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 };
  }
}
