import { afterAll, beforeAll } from 'vitest';
import { startBroker, type RunningBroker, type StartBrokerOptions } from '../../src/broker/start.js';
import { KafkaConnection } from '../../src/client/kafka-connection.js';
import { ApiKey } from '../../src/protocol/index.js';
import { encodeRecordBatch, type RecordInput } from '../../src/storage/record-codec.js';

/** Starts a throwaway broker on 127.0.0.1:0 for the enclosing describe block; returns a getter. */
export function useBroker(options: StartBrokerOptions = {}): () => RunningBroker {
  let running: RunningBroker | undefined;
  beforeAll(async () => {
    const config = { 'group.initial.rebalance.delay.ms': 0, ...options.config };
    running = await startBroker({ port: 0, ...options, config });
  });
  afterAll(async () => {
    await running?.close();
  });
  return () => {
    if (!running) throw new Error('broker not started');
    return running;
  };
}

const openConnections = new Set<KafkaConnection>();
afterAll(() => {
  for (const c of openConnections) c.close();
});

export async function connect(running: RunningBroker, clientId = 'test'): Promise<KafkaConnection> {
  const connection = await KafkaConnection.connect(running.host, running.port, { clientId });
  openConnections.add(connection);
  return connection;
}

export function produceRequest(topic: string, partition: number, records: Buffer | null, acks = 1) {
  return {
    transactionalId: null,
    acks,
    timeoutMs: 30_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  };
}

export function fetchRequest(
  topic: string,
  partition: number,
  fetchOffset: number,
  options: { maxWaitMs?: number; minBytes?: number; maxBytes?: number; partitionMaxBytes?: number } = {},
) {
  return {
    clusterId: null,
    replicaId: -1,
    replicaState: { replicaId: -1, replicaEpoch: -1 },
    maxWaitMs: options.maxWaitMs ?? 0,
    minBytes: options.minBytes ?? 1,
    maxBytes: options.maxBytes ?? 50 * 1024 * 1024,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        topicId: '00000000-0000-0000-0000-000000000000',
        partitions: [
          {
            partition,
            currentLeaderEpoch: -1,
            fetchOffset,
            lastFetchedEpoch: -1,
            logStartOffset: -1,
            partitionMaxBytes: options.partitionMaxBytes ?? 1024 * 1024,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  };
}

/** Creates a topic through CreateTopics v4 and checks it worked. */
export async function createTopic(connection: KafkaConnection, name: string, partitions: number, configs: Record<string, string> = {}): Promise<void> {
  const response = await connection.request(ApiKey.CreateTopics, 4, {
    topics: [
      {
        name,
        numPartitions: partitions,
        replicationFactor: 1,
        assignments: [],
        configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })),
      },
    ],
    timeoutMs: 10_000,
    validateOnly: false,
  });
  const code = response.topics[0].errorCode;
  if (code !== 0) throw new Error(`CreateTopics ${name} failed with error ${code}: ${response.topics[0].errorMessage}`);
}

export function batchOf(values: string[], options: Parameters<typeof encodeRecordBatch>[1] = {}): Buffer {
  const records: RecordInput[] = values.map((value, i) => ({ key: `k${i}`, value, timestamp: Date.now() }));
  return encodeRecordBatch(records, options);
}
