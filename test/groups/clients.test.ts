import { describe, expect, it } from 'vitest';
import { ApiKey } from '../../src/protocol/index.js';
import { batchOf, connect, createTopic, produceRequest, useBroker } from '../helpers/broker.js';
import { run } from '../helpers/process.js';

const KCAT = '/usr/bin/kcat';
const PYTHON = '/usr/bin/python3';

async function produceValues(bootstrapBroker: Parameters<typeof connect>[0], topic: string, partitions: number, values: string[]): Promise<void> {
  const c = await connect(bootstrapBroker);
  for (let p = 0; p < partitions; p++) {
    const mine = values.filter((_, i) => i % partitions === p);
    if (mine.length === 0) continue;
    const res = await c.request(ApiKey.Produce, 7, produceRequest(topic, p, batchOf(mine)));
    expect(res.responses[0].partitionResponses[0].errorCode).toBe(0);
  }
  c.close();
}

async function committed(bootstrapBroker: Parameters<typeof connect>[0], groupId: string): Promise<Map<number, number>> {
  const c = await connect(bootstrapBroker);
  const res = await c.request(ApiKey.OffsetFetch, 5, { groupId, topics: null });
  c.close();
  return new Map(res.topics.flatMap((t: any) => t.partitions.map((p: any) => [p.partitionIndex, p.committedOffset] as [number, number])));
}

/** Records `apiKey:version` of every request the broker handles until the returned stop() is called. */
function recordVersions(running: ReturnType<ReturnType<typeof useBroker>>): { seen: Set<string>; stop(): void } {
  const b = running.broker;
  const original = b.handle;
  const seen = new Set<string>();
  b.handle = function (ctx, body) {
    seen.add(`${ctx.apiKey}:${ctx.apiVersion}`);
    return original.call(this, ctx, body);
  };
  return { seen, stop: () => void (b.handle = original) };
}

describe('librdkafka and kafka-python consumer groups', () => {
  const broker = useBroker({ config: { 'offsets.topic.num.partitions': 5 } });

  it('kcat -G joins, consumes, commits at close; a second run with the same group starts after the commits', async () => {
    const topic = 'kcat-group-topic';
    const c = await connect(broker());
    await createTopic(c, topic, 3);
    c.close();
    const first = Array.from({ length: 60 }, (_, i) => `first-${i}`);
    await produceValues(broker(), topic, 3, first);

    const versions = recordVersions(broker());
    const kcat = (args: string[]) => run(KCAT, ['-b', broker().bootstrap, '-G', 'kcat-group', '-X', 'auto.offset.reset=earliest', '-e', '-f', '%p|%o|%s\\n', ...args, topic], { timeoutMs: 30_000 });
    const run1 = await kcat([]);
    expect(run1.code, run1.stderr).toBe(0);
    const got1 = run1.stdout.toString().trim().split('\n').map((l) => l.split('|')[2]);
    expect(got1.sort()).toEqual([...first].sort());
    expect(await committed(broker(), 'kcat-group')).toEqual(new Map([[0, 20], [1, 20], [2, 20]]));

    const second = Array.from({ length: 9 }, (_, i) => `second-${i}`);
    await produceValues(broker(), topic, 3, second);
    // This run commits on an interval as well as at close.
    const run2 = await kcat(['-X', 'enable.auto.commit=true', '-X', 'auto.commit.interval.ms=100']);
    expect(run2.code, run2.stderr).toBe(0);
    const got2 = run2.stdout.toString().trim().split('\n').map((l) => l.split('|')[2]);
    expect(got2.sort()).toEqual([...second].sort());
    expect(await committed(broker(), 'kcat-group')).toEqual(new Map([[0, 23], [1, 23], [2, 23]]));
    versions.stop();
    console.log(`kcat -G used ${[...versions.seen].sort().join(' ')} (apiKey:version)`);
  });

  it('kafka-python (JoinGroup v2, OffsetCommit v2, OffsetFetch v1, FindCoordinator v0) resumes from its commit', async () => {
    const script = String.raw`
import json, sys
from kafka import KafkaConsumer, KafkaProducer
bootstrap, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]

def produce(prefix, n):
    p = KafkaProducer(bootstrap_servers=bootstrap)
    for i in range(n):
        p.send(topic, value=('%s-%d' % (prefix, i)).encode(), partition=i % 2)
    p.flush(30)
    p.close()

def consume(n):
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                      auto_offset_reset='earliest', consumer_timeout_ms=15000, heartbeat_interval_ms=500)
    got = []
    for m in c:
        got.append(m.value.decode())
        if len(got) == n:
            break
    c.commit()
    c.close()
    return got

produce('a', 40)
first = consume(40)
produce('b', 6)
second = consume(6)
print(json.dumps({'first': first, 'second': second}))
`;
    const c = await connect(broker());
    await createTopic(c, 'kafka-python-group', 2);
    c.close();
    const versions = recordVersions(broker());
    const result = await run(PYTHON, ['-c', script, broker().bootstrap, 'kafka-python-group', 'kpy-group'], { timeoutMs: 60_000 }).finally(() => versions.stop());
    expect(result.code, result.stderr).toBe(0);
    for (const [key, version] of [[ApiKey.FindCoordinator, 0], [ApiKey.JoinGroup, 2], [ApiKey.SyncGroup, 1], [ApiKey.OffsetCommit, 2], [ApiKey.OffsetFetch, 1], [ApiKey.LeaveGroup, 1]]) {
      expect(versions.seen).toContain(`${key}:${version}`);
    }
    const out = JSON.parse(result.stdout.toString()) as { first: string[]; second: string[] };
    expect(out.first.sort()).toEqual(Array.from({ length: 40 }, (_, i) => `a-${i}`).sort());
    expect(out.second.sort()).toEqual(Array.from({ length: 6 }, (_, i) => `b-${i}`).sort());
    expect(await committed(broker(), 'kpy-group')).toEqual(new Map([[0, 23], [1, 23]]));
  });

  it('confluent-kafka-python: two members split the partitions, commit synchronously, and a restarted member resumes', async () => {
    const script = String.raw`
import json, sys, time
from confluent_kafka import Consumer, Producer
bootstrap, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]

def produce(prefix, n):
    p = Producer({'bootstrap.servers': bootstrap})
    for i in range(n):
        p.produce(topic, value=('%s-%d' % (prefix, i)).encode(), partition=i % 4)
    p.flush(30)

def consumer():
    c = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'auto.offset.reset': 'earliest',
                  'enable.auto.commit': False, 'session.timeout.ms': 6000, 'heartbeat.interval.ms': 500})
    c.subscribe([topic])
    return c

produce('a', 40)
members = [consumer(), consumer()]
got = []
deadline = time.time() + 30
# Both members poll until the group settled with both assigned and every record is in.
while time.time() < deadline:
    for c in members:
        m = c.poll(0.1)
        if m is not None and not m.error():
            got.append(m.value().decode())
            c.commit(message=m, asynchronous=False)
    assigned = [sorted(p.partition for p in c.assignment()) for c in members]
    if len(got) >= 40 and all(assigned) and sum(len(a) for a in assigned) == 4:
        break
for c in members:
    c.close()
produce('b', 8)
c = consumer()
later = []
deadline = time.time() + 30
while len(later) < 8 and time.time() < deadline:
    m = c.poll(0.2)
    if m is not None and not m.error():
        later.append(m.value().decode())
        c.commit(message=m, asynchronous=False)
c.close()
print(json.dumps({'first': got, 'assigned': assigned, 'later': later}))
`;
    const c = await connect(broker());
    await createTopic(c, 'ckp-group', 4);
    c.close();
    const result = await run(PYTHON, ['-c', script, broker().bootstrap, 'ckp-group', 'ckp-group-id'], { timeoutMs: 90_000 });
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout.toString()) as { first: string[]; assigned: number[][]; later: string[] };
    expect(out.first.sort()).toEqual(Array.from({ length: 40 }, (_, i) => `a-${i}`).sort());
    expect(out.assigned.flat().sort()).toEqual([0, 1, 2, 3]);
    expect(out.assigned.every((a) => a.length === 2)).toBe(true);
    expect(out.later.sort()).toEqual(Array.from({ length: 8 }, (_, i) => `b-${i}`).sort());
    expect(await committed(broker(), 'ckp-group-id')).toEqual(new Map([[0, 12], [1, 12], [2, 12], [3, 12]]));
  });

  it('confluent-kafka-python with group.instance.id: a restarted static member takes its place back without a rebalance', async () => {
    const script = String.raw`
import json, sys, time
from confluent_kafka import Consumer, Producer
bootstrap, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]
p = Producer({'bootstrap.servers': bootstrap})
def produce(prefix, n):
    for i in range(n):
        p.produce(topic, value=('%s-%d' % (prefix, i)).encode())
    p.flush(10)

def run_once(n):
    c = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'group.instance.id': 'instance-1',
                  'auto.offset.reset': 'earliest', 'session.timeout.ms': 6000})
    c.subscribe([topic])
    got = []
    deadline = time.time() + 20
    while len(got) < n and time.time() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error():
            got.append(m.value().decode())
    c.commit(asynchronous=False)
    c.close()  # a static member does not send LeaveGroup
    return got

produce('a', 10)
first = run_once(10)
produce('b', 3)
second = run_once(3)
print(json.dumps({'first': first, 'second': second}))
`;
    const c = await connect(broker());
    await createTopic(c, 'ckp-static', 1);
    c.close();
    const result = await run(PYTHON, ['-c', script, broker().bootstrap, 'ckp-static', 'ckp-static-group'], { timeoutMs: 90_000 });
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout.toString()) as { first: string[]; second: string[] };
    expect(out.first).toEqual(Array.from({ length: 10 }, (_, i) => `a-${i}`));
    expect(out.second).toEqual(Array.from({ length: 3 }, (_, i) => `b-${i}`));
    const group = broker().broker.groups.group('ckp-static-group')!;
    // Still generation 1 and Stable: the second process replaced the first one's member id in place.
    expect(group.generationId).toBe(1);
    expect(group.state).toBe('Stable');
    expect([...group.staticMembers.keys()]).toEqual(['instance-1']);
  });
});
