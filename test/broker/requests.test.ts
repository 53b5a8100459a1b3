import { describe, expect, it, vi } from 'vitest';
import { ApiKey } from '../../src/protocol/index.js';
import { decodeRecordBatches } from '../../src/storage/record-codec.js';
import { batchOf, connect, createTopic, fetchRequest, produceRequest, useBroker } from '../helpers/broker.js';

describe('broker requests over a real socket', () => {
  const broker = useBroker();

  it('advertises the API ranges clients depend on', async () => {
    const c = await connect(broker());
    for (const version of [0, 1, 2, 3]) {
      const body = version === 3 ? { clientSoftwareName: 'penstock-test', clientSoftwareVersion: '1.0' } : {};
      const res = await c.request(ApiKey.ApiVersions, version, body);
      expect(res.errorCode).toBe(0);
      const ranges = new Map<number, [number, number]>(res.apiKeys.map((k: any) => [k.apiKey, [k.minVersion, k.maxVersion]]));
      expect(ranges.get(ApiKey.Produce)).toEqual([3, 7]);
      expect(ranges.get(ApiKey.Fetch)).toEqual([4, 11]);
      expect(ranges.get(ApiKey.Metadata)).toEqual([0, 6]);
      expect(ranges.get(ApiKey.ListOffsets)).toEqual([1, 3]);
      expect(ranges.get(ApiKey.ApiVersions)).toEqual([0, 3]);
      expect(ranges.get(ApiKey.CreateTopics)).toEqual([0, 4]);
      expect(ranges.get(ApiKey.DeleteTopics)).toEqual([0, 3]);
      expect(ranges.get(ApiKey.DescribeConfigs)).toEqual([0, 2]);
      expect(ranges.get(ApiKey.CreatePartitions)).toEqual([0, 1]);
    }
  });

  it('answers Metadata v0 with this broker as leader, and auto-creates a named topic', async () => {
    const c = await connect(broker());
    const res = await c.request(ApiKey.Metadata, 1, { topics: [{ name: 'auto-created' }], allowAutoTopicCreation: true });
    expect(res.brokers).toEqual([{ nodeId: 0, host: '127.0.0.1', port: broker().port, rack: null }]);
    expect(res.controllerId).toBe(0);
    const topic = res.topics.find((t: any) => t.name === 'auto-created');
    expect(topic.errorCode).toBe(0);
    expect(topic.partitions).toHaveLength(1);
    expect(topic.partitions[0]).toMatchObject({ leaderId: 0, replicaNodes: [0], isrNodes: [0] });

    const all = await c.request(ApiKey.Metadata, 0, { topics: [] });
    expect(all.topics.map((t: any) => t.name)).toContain('auto-created');
  });

  it('does not auto-create when Metadata v4+ says not to, and rejects invalid names', async () => {
    const c = await connect(broker());
    const res = await c.request(ApiKey.Metadata, 6, { topics: [{ name: 'not-created' }, { name: 'bad name!' }], allowAutoTopicCreation: false });
    expect(res.clusterId).toBe(broker().broker.clusterId);
    expect(res.topics.find((t: any) => t.name === 'not-created').errorCode).toBe(3);
    expect(res.topics.find((t: any) => t.name === 'bad name!').errorCode).toBe(17);
  });

  it('produces, then fetches the same bytes back with offsets assigned', async () => {
    const c = await connect(broker());
    await createTopic(c, 'round-trip', 2);
    const first = await c.request(ApiKey.Produce, 7, produceRequest('round-trip', 1, batchOf(['a', 'b', 'c'])));
    expect(first.responses[0].partitionResponses[0]).toMatchObject({ index: 1, errorCode: 0, baseOffset: 0 });
    const second = await c.request(ApiKey.Produce, 3, produceRequest('round-trip', 1, batchOf(['d', 'e'])));
    expect(second.responses[0].partitionResponses[0]).toMatchObject({ errorCode: 0, baseOffset: 3 });

    for (const version of [4, 7, 11]) {
      const res = await c.request(ApiKey.Fetch, version, fetchRequest('round-trip', 1, 0));
      const p = res.responses[0].partitions[0];
      expect(p.errorCode).toBe(0);
      expect(p.highWatermark).toBe(5);
      const batches = decodeRecordBatches(p.records, { verifyCrc: true });
      expect(batches.flatMap((b) => b.records.map((r) => [r.offset, r.value!.toString()]))).toEqual([
        [0, 'a'], [1, 'b'], [2, 'c'], [3, 'd'], [4, 'e'],
      ]);
    }
    // From the middle: the batch containing offset 4 starts at 3.
    const mid = await c.request(ApiKey.Fetch, 11, fetchRequest('round-trip', 1, 4));
    expect(decodeRecordBatches(mid.responses[0].partitions[0].records)[0]!.baseOffset).toBe(3);
  });

  it('answers OFFSET_OUT_OF_RANGE past the log end and UNKNOWN_TOPIC_OR_PARTITION for a missing partition', async () => {
    const c = await connect(broker());
    await createTopic(c, 'ranges', 1);
    await c.request(ApiKey.Produce, 7, produceRequest('ranges', 0, batchOf(['x'])));
    const past = await c.request(ApiKey.Fetch, 11, fetchRequest('ranges', 0, 5));
    expect(past.responses[0].partitions[0].errorCode).toBe(1);
    const missing = await c.request(ApiKey.Fetch, 11, fetchRequest('ranges', 9, 0));
    expect(missing.responses[0].partitions[0].errorCode).toBe(3);
    const produceMissing = await c.request(ApiKey.Produce, 7, produceRequest('no-such-topic', 0, batchOf(['x'])));
    expect(produceMissing.responses[0].partitionResponses[0].errorCode).toBe(3);
  });

  it('bounds a fetch by partition max bytes but always returns the first whole batch', async () => {
    const c = await connect(broker());
    await createTopic(c, 'bounded', 1);
    const big = batchOf(['x'.repeat(5000)]);
    for (let i = 0; i < 3; i++) await c.request(ApiKey.Produce, 7, produceRequest('bounded', 0, Buffer.from(big)));
    const res = await c.request(ApiKey.Fetch, 11, fetchRequest('bounded', 0, 0, { partitionMaxBytes: 100 }));
    const records = res.responses[0].partitions[0].records as Buffer;
    expect(records.length).toBe(big.length);
    const all = await c.request(ApiKey.Fetch, 11, fetchRequest('bounded', 0, 0, { partitionMaxBytes: big.length * 2 + 10 }));
    expect((all.responses[0].partitions[0].records as Buffer).length).toBe(big.length * 2 + 10);
  });

  it('lists earliest, latest and by-timestamp offsets', async () => {
    const c = await connect(broker());
    await createTopic(c, 'times', 1);
    const { encodeRecordBatch } = await import('../../src/storage/record-codec.js');
    for (const ts of [1000, 2000, 3000]) {
      await c.request(ApiKey.Produce, 7, produceRequest('times', 0, encodeRecordBatch([{ value: `at ${ts}`, timestamp: ts }])));
    }
    const ask = (timestamp: number) =>
      c.request(ApiKey.ListOffsets, 3, {
        replicaId: -1,
        isolationLevel: 0,
        topics: [{ name: 'times', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }] }],
      });
    const offsetAt = async (ts: number) => (await ask(ts)).topics[0].partitions[0];
    expect((await offsetAt(-2)).offset).toBe(0);
    expect((await offsetAt(-1)).offset).toBe(3);
    expect(await offsetAt(1500)).toMatchObject({ offset: 1, timestamp: 2000 });
    expect(await offsetAt(3000)).toMatchObject({ offset: 2, timestamp: 3000 });
    expect((await offsetAt(9999)).offset).toBe(-1);
  });

  it('creates, describes, grows and deletes topics with effects on disk', async () => {
    const c = await connect(broker());
    await createTopic(c, 'admin-topic', 2, { 'retention.ms': '1234' });
    const again = await c.request(ApiKey.CreateTopics, 4, {
      topics: [{ name: 'admin-topic', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 1000,
      validateOnly: false,
    });
    expect(again.topics[0].errorCode).toBe(36);
    const rf = await c.request(ApiKey.CreateTopics, 0, {
      topics: [{ name: 'rf3', numPartitions: 1, replicationFactor: 3, assignments: [], configs: [] }],
      timeoutMs: 1000,
    });
    expect(rf.topics[0].errorCode).toBe(38);

    const described = await c.request(ApiKey.DescribeConfigs, 2, {
      resources: [{ resourceType: 2, resourceName: 'admin-topic', configurationKeys: null }],
      includeSynonyms: false,
      includeDocumentation: false,
    });
    const configs = new Map<string, any>(described.results[0].configs.map((e: any) => [e.name, e]));
    expect(configs.get('retention.ms')).toMatchObject({ value: '1234', configSource: 1 });
    expect(configs.get('segment.bytes')).toMatchObject({ value: '1073741824', configSource: 5 });

    const grown = await c.request(ApiKey.CreatePartitions, 1, { topics: [{ name: 'admin-topic', count: 4, assignments: null }], timeoutMs: 1000, validateOnly: false });
    expect(grown.results[0].errorCode).toBe(0);
    const shrink = await c.request(ApiKey.CreatePartitions, 0, { topics: [{ name: 'admin-topic', count: 2, assignments: null }], timeoutMs: 1000, validateOnly: false });
    expect(shrink.results[0].errorCode).toBe(37);
    const fs = await import('node:fs');
    expect(fs.existsSync(`${broker().dataDir}/admin-topic-3`)).toBe(true);

    const deleted = await c.request(ApiKey.DeleteTopics, 3, { topicNames: ['admin-topic', 'never-was'], timeoutMs: 1000 });
    expect(deleted.responses.map((r: any) => [r.name, r.errorCode])).toEqual([['admin-topic', 0], ['never-was', 3]]);
    const md = await c.request(ApiKey.Metadata, 4, { topics: [{ name: 'admin-topic' }], allowAutoTopicCreation: false });
    expect(md.topics[0].errorCode).toBe(3);
  });

  it('sends no response for acks=0 yet appends, and keeps later responses in order', async () => {
    const c = await connect(broker());
    await createTopic(c, 'acks0', 1);
    c.send(ApiKey.Produce, 7, produceRequest('acks0', 0, batchOf(['fire', 'forget']), 0));
    const md = await c.request(ApiKey.Metadata, 1, { topics: [{ name: 'acks0' }] });
    expect(md.topics[0].errorCode).toBe(0);
    const res = await c.request(ApiKey.Fetch, 11, fetchRequest('acks0', 0, 0));
    expect(res.responses[0].partitions[0].highWatermark).toBe(2);
  });

  it('pipelines many requests on one connection and answers them in order', async () => {
    const c = await connect(broker());
    await createTopic(c, 'pipelined', 1);
    const sends = Array.from({ length: 200 }, (_, i) => c.request(ApiKey.Produce, 7, produceRequest('pipelined', 0, batchOf([`v${i}`]))));
    const results = await Promise.all(sends);
    expect(results.map((r) => r.responses[0].partitionResponses[0].baseOffset)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('serves fetched record bytes with sendfile on the native backend', async () => {
    const c = await connect(broker());
    await createTopic(c, 'zero-copy', 1);
    await c.request(ApiKey.Produce, 7, produceRequest('zero-copy', 0, batchOf(['z'.repeat(10_000)])));
    const before = { ...broker().broker.sendStats };
    const res = await c.request(ApiKey.Fetch, 11, fetchRequest('zero-copy', 0, 0));
    const recordBytes = (res.responses[0].partitions[0].records as Buffer).length;
    expect(recordBytes).toBeGreaterThan(10_000);
    // The broker counts a send once it completes, which may be a moment after the client has the bytes.
    await vi.waitFor(() => expect(broker().broker.sendStats.bytesOut - before.bytesOut).toBeGreaterThan(recordBytes));
    const zeroCopy = broker().broker.sendStats.zeroCopyBytes - before.zeroCopyBytes;
    if (broker().broker.io.kind === 'native') expect(zeroCopy).toBe(recordBytes);
    else expect(zeroCopy).toBe(0);
  });
});
