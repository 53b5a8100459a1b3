import { describe, expect, it } from 'vitest';
import { ApiKey } from '../../src/protocol/index.js';
import { decodeRecordBatches } from '../../src/storage/record-codec.js';
import { batchOf, connect, createTopic, fetchRequest, produceRequest, useBroker } from '../helpers/broker.js';

describe('fetch long poll', () => {
  const broker = useBroker();

  it('wakes a consumer waiting at the end of the log when a record is produced', async () => {
    const consumer = await connect(broker());
    const producer = await connect(broker());
    await createTopic(producer, 'long-poll', 1);

    const waiting = consumer.request(ApiKey.Fetch, 11, fetchRequest('long-poll', 0, 0, { maxWaitMs: 20_000, minBytes: 1 }));
    let answered = false;
    void waiting.then(() => (answered = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(answered).toBe(false);
    expect(broker().broker.fetchWaiters.size).toBe(1);

    const producedAt = Date.now();
    await producer.request(ApiKey.Produce, 7, produceRequest('long-poll', 0, batchOf(['wake up'])));
    const res = await waiting;
    const waited = Date.now() - producedAt;
    const records = decodeRecordBatches(res.responses[0].partitions[0].records).flatMap((b) => b.records);
    expect(records.map((r) => r.value!.toString())).toEqual(['wake up']);
    // Woken by the append, far sooner than the 20 s MaxWaitMs.
    expect(waited).toBeLessThan(10_000);
    expect(broker().broker.fetchWaiters.size).toBe(0);
  });

  it('ends an idle wait at MaxWaitMs with an empty answer', async () => {
    const consumer = await connect(broker());
    await createTopic(consumer, 'idle-poll', 1);
    const started = Date.now();
    const res = await consumer.request(ApiKey.Fetch, 11, fetchRequest('idle-poll', 0, 0, { maxWaitMs: 300, minBytes: 1 }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(res.responses[0].partitions[0].errorCode).toBe(0);
    expect((res.responses[0].partitions[0].records as Buffer).length).toBe(0);
  });

  it('waits for MinBytes to accumulate across several appends', async () => {
    const consumer = await connect(broker());
    const producer = await connect(broker());
    await createTopic(producer, 'min-bytes', 1);
    const one = batchOf(['x'.repeat(100)]);
    const waiting = consumer.request(ApiKey.Fetch, 11, fetchRequest('min-bytes', 0, 0, { maxWaitMs: 20_000, minBytes: one.length * 3 }));
    for (let i = 0; i < 3; i++) {
      await producer.request(ApiKey.Produce, 7, produceRequest('min-bytes', 0, Buffer.from(one)));
    }
    const res = await waiting;
    expect(decodeRecordBatches(res.responses[0].partitions[0].records)).toHaveLength(3);
  });

  it('drops a waiting fetch when its connection closes', async () => {
    const consumer = await connect(broker());
    await createTopic(consumer, 'closed-poll', 1);
    const waiting = consumer.request(ApiKey.Fetch, 11, fetchRequest('closed-poll', 0, 0, { maxWaitMs: 20_000 })).catch(() => 'closed');
    await new Promise((r) => setTimeout(r, 50));
    const before = broker().broker.fetchWaiters.size;
    expect(before).toBeGreaterThanOrEqual(1);
    consumer.close();
    expect(await waiting).toBe('closed');
    await new Promise((r) => setTimeout(r, 50));
    expect(broker().broker.fetchWaiters.size).toBe(before - 1);
  });
});
