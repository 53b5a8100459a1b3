import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { useBroker } from '../helpers/broker.js';

describe('kafkajs against the broker', () => {
  const broker = useBroker();
  const kafka = () => new Kafka({ clientId: 'kafkajs-test', brokers: [broker().bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 50 } });

  it('creates a topic, produces thousands of keyed gzip records with headers, and consumes every one back', async () => {
    const admin = kafka().admin();
    await admin.connect();
    expect(await admin.createTopics({ topics: [{ topic: 'kjs', numPartitions: 3 }], waitForLeaders: true })).toBe(true);
    const described = await admin.fetchTopicMetadata({ topics: ['kjs'] });
    expect(described.topics[0]!.partitions).toHaveLength(3);

    const producer = kafka().producer();
    await producer.connect();
    const total = 3000;
    const sent = new Map<string, { value: string; header: string; partition: number }>();
    for (let b = 0; b < 30; b++) {
      const messages = Array.from({ length: total / 30 }, (_, i) => {
        const n = b * (total / 30) + i;
        const message = { key: `key-${n}`, value: `value-${n}-${'v'.repeat(n % 100)}`, headers: { seq: String(n) }, partition: n % 3 };
        sent.set(message.key, { value: message.value, header: String(n), partition: n % 3 });
        return message;
      });
      await producer.send({ topic: 'kjs', compression: CompressionTypes.GZIP, messages, acks: -1 });
    }
    await producer.disconnect();

    const offsets = await admin.fetchTopicOffsets('kjs');
    expect(offsets.map((o) => Number(o.high)).reduce((a, b) => a + b, 0)).toBe(total);

    const consumer = kafka().consumer({ groupId: 'kjs-readers', maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'kjs', fromBeginning: true });
    const seen = new Map<string, { value: string; header: string; partition: number }>();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumed only ${seen.size} of ${total}`)), 60_000);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          seen.set(message.key!.toString(), { value: message.value!.toString(), header: message.headers!.seq!.toString(), partition });
          if (seen.size === total) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();
    expect(seen).toEqual(sent);
    await admin.disconnect();
  });

  it('finds offsets by timestamp through ListOffsets', async () => {
    const admin = kafka().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'kjs-times', numPartitions: 1 }] });
    const producer = kafka().producer();
    await producer.connect();
    for (const ts of [1_000_000, 2_000_000, 3_000_000]) {
      await producer.send({ topic: 'kjs-times', messages: [{ value: `at ${ts}`, timestamp: String(ts) }] });
    }
    await producer.disconnect();
    const [at] = await admin.fetchTopicOffsetsByTimestamp('kjs-times', 1_500_000);
    expect(Number(at!.offset)).toBe(1);
    const [latest] = await admin.fetchTopicOffsets('kjs-times');
    expect(Number(latest!.high)).toBe(3);
    expect(Number(latest!.low)).toBe(0);
    await admin.deleteTopics({ topics: ['kjs-times'] });
    expect(await admin.listTopics()).not.toContain('kjs-times');
    await admin.disconnect();
  });
});
