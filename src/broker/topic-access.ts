import { KafkaError } from '../protocol/error-codes.js';
import type { Broker } from './broker.js';
import type { PartitionLog } from '../storage/partition-log.js';

/** The partition's log, or a KafkaError UNKNOWN_TOPIC_OR_PARTITION naming what was asked for. */
export function partitionOrThrow(broker: Broker, topic: string, partition: number): PartitionLog {
  const log = broker.logs.partition(topic, partition);
  if (!log) throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `unknown topic-partition ${topic}-${partition}`, { topic, partition });
  return log;
}

/**
 * Creates `topic` with the broker's defaults when auto-creation is on and the name is legal and not
 * internal. Returns whether the topic exists afterwards.
 */
export async function autoCreateTopic(broker: Broker, topic: string): Promise<void> {
  await broker.logs.createTopic(topic, broker.config['num.partitions']);
  broker.log.info({ topic, partitions: broker.config['num.partitions'] }, 'auto-created topic');
}
