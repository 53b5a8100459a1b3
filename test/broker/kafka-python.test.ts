import { describe, expect, it } from 'vitest';
import { run } from '../helpers/process.js';
import { useBroker } from '../helpers/broker.js';

const SCRIPT = String.raw`
import json, sys
from kafka import KafkaProducer, KafkaConsumer, TopicPartition
bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
producer = KafkaProducer(bootstrap_servers=bootstrap, compression_type='gzip', linger_ms=5)
for i in range(count):
    producer.send(topic, key=('k%d' % i).encode(), value=('v%d' % i).encode() * (i % 5 + 1), headers=[('h', b'%d' % i)], partition=0)
producer.flush(30)
producer.close()
consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, consumer_timeout_ms=5000)
tp = TopicPartition(topic, 0)
consumer.assign([tp])
consumer.seek_to_beginning(tp)
out = []
for message in consumer:
    out.append([message.offset, message.key.decode(), message.value.decode(), [[k, v.decode()] for k, v in message.headers]])
    if len(out) == count:
        break
consumer.close()
print(json.dumps(out))
`;

describe('kafka-python against the broker', () => {
  const broker = useBroker();

  it('produces gzip batches and consumes them back (ApiVersions v0, Metadata v0/v1, Produce v7, Fetch v4)', async () => {
    const count = 300;
    const result = await run('/usr/bin/python3', ['-c', SCRIPT, broker().bootstrap, 'kafka-python', String(count)], { timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    const rows = JSON.parse(result.stdout.toString()) as [number, string, string, [string, string][]][];
    expect(rows).toHaveLength(count);
    rows.forEach(([offset, key, value, headers], i) => {
      expect(offset).toBe(i);
      expect(key).toBe(`k${i}`);
      expect(value).toBe(`v${i}`.repeat((i % 5) + 1));
      expect(headers).toEqual([['h', String(i)]]);
    });
  });
});
