import { spawn, type ChildProcess } from 'node:child_process';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { useBroker } from '../helpers/broker.js';

const PARTITIONS = 6;
const SESSION_TIMEOUT_MS = 6_000;
const HEARTBEAT_INTERVAL_MS = 500;

type Assignment = Record<string, number[]>;

/** The partitions of `topic` in each assignment, checked to be pairwise disjoint and to cover 0..n-1. */
function isDisjointCover(assignments: Assignment[], topic: string, n: number): boolean {
  const seen = new Set<number>();
  for (const a of assignments) {
    for (const p of a[topic] ?? []) {
      if (seen.has(p)) return false;
      seen.add(p);
    }
  }
  return seen.size === n && [...seen].every((p) => p >= 0 && p < n);
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await check()) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

/** A kafkajs group member in a child process, so it can die by SIGKILL without a LeaveGroup. */
function spawnMember(bootstrap: string, groupId: string, topic: string): { child: ChildProcess; assignments: Assignment[] } {
  const script = `
    const { Kafka, logLevel } = require('kafkajs');
    const [bootstrap, groupId, topic] = process.argv.slice(1);
    const kafka = new Kafka({ clientId: 'doomed', brokers: [bootstrap], logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId, sessionTimeout: ${SESSION_TIMEOUT_MS}, heartbeatInterval: ${HEARTBEAT_INTERVAL_MS}, maxWaitTimeInMs: 100 });
    consumer.on(consumer.events.GROUP_JOIN, (e) => process.stdout.write(JSON.stringify(e.payload.memberAssignment) + '\\n'));
    (async () => {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async () => {} });
    })().catch((err) => { console.error(err); process.exit(1); });
  `;
  const child = spawn(process.execPath, ['-e', script, bootstrap, groupId, topic], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
  const assignments: Assignment[] = [];
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      assignments.push(JSON.parse(buffered.slice(0, nl)) as Assignment);
      buffered = buffered.slice(nl + 1);
    }
  });
  return { child, assignments };
}

describe('kafkajs consumer groups', () => {
  const broker = useBroker({ config: { 'offsets.topic.num.partitions': 5 } });
  const kafka = () => new Kafka({ clientId: 'kafkajs-groups', brokers: [broker().bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 50 } });
  const cleanup: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function createTopic(topic: string): Promise<void> {
    const admin = kafka().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
    await admin.disconnect();
  }

  async function produce(topic: string, from: number, count: number): Promise<void> {
    const producer = kafka().producer();
    await producer.connect();
    for (let start = from; start < from + count; start += 100) {
      const messages = Array.from({ length: Math.min(100, from + count - start) }, (_, i) => ({ key: `k${start + i}`, value: `v${start + i}`, partition: (start + i) % PARTITIONS }));
      await producer.send({ topic, messages, acks: -1 });
    }
    await producer.disconnect();
  }

  function member(groupId: string): { consumer: Consumer; assignments: Assignment[] } {
    const consumer = kafka().consumer({ groupId, sessionTimeout: SESSION_TIMEOUT_MS, heartbeatInterval: HEARTBEAT_INTERVAL_MS, maxWaitTimeInMs: 100, rebalanceTimeout: 10_000 });
    const assignments: Assignment[] = [];
    consumer.on(consumer.events.GROUP_JOIN, (e) => assignments.push(e.payload.memberAssignment));
    cleanup.push(() => consumer.disconnect().catch(() => undefined));
    return { consumer, assignments };
  }

  async function describe(groupId: string) {
    const admin = kafka().admin();
    await admin.connect();
    try {
      return (await admin.describeGroups([groupId])).groups[0]!;
    } finally {
      await admin.disconnect();
    }
  }

  it('splits six partitions among three members and consumes every record exactly once with synchronous commits', async () => {
    const topic = 'kjs-groups';
    const groupId = 'kjs-three';
    await createTopic(topic);
    const early = 600;
    await produce(topic, 0, early);

    const seen = new Map<string, number>();
    let firstRecordAt = 0;
    const members = [member(groupId), member(groupId), member(groupId)];
    const started = Date.now();
    await Promise.all(
      members.map(async ({ consumer }) => {
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            firstRecordAt ||= Date.now();
            const key = message.key!.toString();
            seen.set(key, (seen.get(key) ?? 0) + 1);
            // Synchronous commit of the next offset before the next message: nothing consumed twice.
            await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
          },
        });
      }),
    );

    await waitFor(
      async () => {
        const latest = members.map((m) => m.assignments.at(-1));
        if (latest.some((a) => !a || (a[topic] ?? []).length === 0)) return false;
        if (!isDisjointCover(latest as Assignment[], topic, PARTITIONS)) return false;
        const group = await describe(groupId);
        return group.state === 'Stable' && group.members.length === 3;
      },
      30_000,
      'three members with a disjoint cover of six partitions',
    );
    const stableMs = Date.now() - started;
    const latest = members.map((m) => m.assignments.at(-1)!);
    expect(latest.map((a) => a[topic]!.length).sort()).toEqual([2, 2, 2]);

    await produce(topic, early, 600);
    const total = early + 600;
    await waitFor(() => seen.size === total, 30_000, `all ${total} records consumed`);
    // Give late duplicates, if any, a moment to show up.
    await new Promise((r) => setTimeout(r, 300));
    const duplicates = [...seen].filter(([, n]) => n > 1);
    expect(duplicates).toEqual([]);
    expect(seen.size).toBe(total);

    const admin = kafka().admin();
    await admin.connect();
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    await admin.disconnect();
    expect(committed[0]!.partitions.map((p) => [p.partition, Number(p.offset)]).sort((a, b) => a[0]! - b[0]!)).toEqual(
      Array.from({ length: PARTITIONS }, (_, p) => [p, total / PARTITIONS]),
    );
    console.log(`kafkajs: 3-member group, first join → first record ${firstRecordAt - started} ms; first join → stable 3-member group ${stableMs} ms`);
  });

  it("moves a crashed member's partitions to the others within the session timeout, and a leaving member's at once", async () => {
    const topic = 'kjs-failover';
    const groupId = 'kjs-failover-group';
    await createTopic(topic);
    const survivors = [member(groupId), member(groupId)];
    for (const { consumer } of survivors) {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async () => {} });
    }
    const doomed = spawnMember(broker().bootstrap, groupId, topic);
    cleanup.push(() => {
      if (doomed.child.exitCode === null && doomed.child.signalCode === null) doomed.child.kill('SIGKILL');
    });
    await waitFor(
      async () => {
        const all = [...survivors.map((s) => s.assignments.at(-1)), doomed.assignments.at(-1)];
        if (all.some((a) => !a || (a[topic] ?? []).length === 0)) return false;
        if (!isDisjointCover(all as Assignment[], topic, PARTITIONS)) return false;
        const group = await describe(groupId);
        return group.state === 'Stable' && group.members.length === 3;
      },
      30_000,
      'three members including the child process',
    );
    const doomedPartitions = doomed.assignments.at(-1)![topic]!;
    expect(doomedPartitions.length).toBe(2);

    // SIGKILL: no LeaveGroup; the coordinator must notice the silence.
    const joinsBefore = survivors.map((s) => s.assignments.length);
    const killedAt = Date.now();
    doomed.child.kill('SIGKILL');
    const failoverMs = await waitFor(
      () => survivors.every((s, i) => s.assignments.length > joinsBefore[i]!) && isDisjointCover(survivors.map((s) => s.assignments.at(-1)!), topic, PARTITIONS),
      SESSION_TIMEOUT_MS + 5_000,
      'the crashed member’s partitions moving to the survivors',
    );
    expect(Date.now() - killedAt).toBeLessThan(SESSION_TIMEOUT_MS + 3 * HEARTBEAT_INTERVAL_MS + 1_000);
    const taken = survivors.flatMap((s) => s.assignments.at(-1)![topic]!);
    for (const p of doomedPartitions) expect(taken).toContain(p);

    // A clean leave (LeaveGroup) rebalances without waiting for any timeout.
    const [stayer, leaver] = survivors;
    const stayerJoins = stayer!.assignments.length;
    const leftAt = Date.now();
    await leaver!.consumer.disconnect();
    const leaveMs = await waitFor(
      () => stayer!.assignments.length > stayerJoins && (stayer!.assignments.at(-1)![topic] ?? []).length === PARTITIONS,
      SESSION_TIMEOUT_MS,
      'the leaving member’s partitions moving to the last member',
    );
    expect(Date.now() - leftAt).toBeLessThan(SESSION_TIMEOUT_MS);
    console.log(`kafkajs: rebalance after SIGKILL of a member (session timeout ${SESSION_TIMEOUT_MS} ms) ${failoverMs} ms; after a LeaveGroup ${leaveMs} ms`);
  });
});
