import type { RequestContext } from '../request-context.js';
import { ErrorCode, KafkaError, errorCodeOf } from '../../protocol/error-codes.js';
import type { MetadataRequest, MetadataResponse, MetadataResponseMetadataResponseTopic } from '../../protocol/index.js';
import { validateTopicName } from '../../storage/log-manager.js';
import { autoCreateTopic } from '../topic-access.js';

/**
 * Metadata: this broker is the only node, the controller, and the leader of every partition.
 * Topics named but missing are created when auto.create.topics.enable allows (and, from v4, the client
 * asks for it); a single node creates synchronously and answers NONE.
 */
export async function handleMetadata(ctx: RequestContext, request: MetadataRequest): Promise<MetadataResponse> {
  const { broker } = ctx;
  const allTopics = request.topics === null || (ctx.apiVersion === 0 && request.topics.length === 0);
  const names = allTopics ? broker.logs.topicNames() : request.topics!.map((t) => t.name ?? '');
  const mayCreate = broker.config['auto.create.topics.enable'] && (ctx.apiVersion < 4 || request.allowAutoTopicCreation);

  const topics: MetadataResponseMetadataResponseTopic[] = [];
  for (const name of names) topics.push(await describeTopic(ctx, name, !allTopics && mayCreate));

  return {
    throttleTimeMs: 0,
    brokers: [{ nodeId: broker.nodeId, host: broker.advertisedHost, port: broker.advertisedPort, rack: null }],
    clusterId: broker.clusterId,
    controllerId: broker.nodeId,
    topics,
  };
}

async function describeTopic(ctx: RequestContext, name: string, mayCreate: boolean): Promise<MetadataResponseMetadataResponseTopic> {
  const { broker } = ctx;
  const base = { name, topicId: ZERO_UUID, isInternal: false, partitions: [], topicAuthorizedOperations: -2147483648 };
  let topic = broker.logs.getTopic(name);
  if (!topic) {
    try {
      validateTopicName(name);
      if (!mayCreate || broker.logs.isInternal(name)) {
        throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `unknown topic ${name}`, { topic: name });
      }
      await autoCreateTopic(broker, name);
      topic = broker.logs.getTopic(name);
    } catch (err) {
      if (!broker.logs.getTopic(name)) return { ...base, errorCode: errorCodeOf(err) };
      topic = broker.logs.getTopic(name);
    }
  }
  const nodeId = broker.nodeId;
  return {
    ...base,
    errorCode: ErrorCode.NONE,
    isInternal: broker.logs.isInternal(name),
    partitions: topic!.partitions.map((_, index) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex: index,
      leaderId: nodeId,
      leaderEpoch: 0,
      replicaNodes: [nodeId],
      isrNodes: [nodeId],
      offlineReplicas: [],
    })),
  };
}

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
