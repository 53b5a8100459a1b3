/**
 * File descriptors. Segment files are opened on demand and idle ones closed under a process budget
 * (src/storage/file-handles.ts); a descriptor under an in-flight read is never closed. In process: the
 * budget holds with hundreds of partitions and a held region survives the pressure. In a broker child
 * under `ulimit -n 1024`: 3000 partitions take produce and fetch while hundreds of connections are open,
 * and running out of descriptors for connections refuses connections without harming the broker.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { brokerConfig } from '../../src/config.js';
import type { KafkaConnection } from '../../src/client/kafka-connection.js';
import { defaultIo } from '../../src/io/select.js';
import { ApiKey, encodeRequest } from '../../src/protocol/index.js';
import { segmentFileBudget } from '../../src/storage/file-handles.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { decodeRecordBatches, encodeRecordBatch } from '../../src/storage/record-codec.js';
import { killAllChildren, prepareBrokerChildren, startBrokerChild, type BrokerChild } from './helpers/child-broker.js';
import { connectTo, createTopicOn } from './helpers/ledger.js';

const openFds = (): number => fs.readdirSync('/proc/self/fd').length;
/** Somewhere file creation is cheap (tmpfs): these tests are about descriptors, not the disk. */
const scratch = (): string => (fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir());

describe('segment descriptors under a budget (in process)', () => {
  const dirs: string[] = [];
  let saved = 0;
  beforeAll(() => {
    saved = segmentFileBudget.budget;
    segmentFileBudget.setBudget(16);
  });
  afterAll(() => {
    segmentFileBudget.setBudget(saved);
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps at most the budget of idle segment files open across 300 partitions, and never closes one being read', async () => {
    const dataDir = fs.mkdtempSync(path.join(scratch(), 'penstock-fds-'));
    dirs.push(dataDir);
    const config = brokerConfig({ 'log.dirs': dataDir, 'log.index.interval.bytes': 64 });
    const before = openFds();
    const logs = await LogManager.open({ dataDir, config, io: defaultIo() });
    try {
      await logs.createTopic('many', 300);
      const topic = logs.getTopic('many')!;
      for (const round of [0, 1]) {
        await Promise.all(topic.partitions.map((p, i) => p.append(encodeRecordBatch([{ key: `k${i}`, value: `round ${round} of ${i}`.repeat(20) }]))));
      }
      // A region held as by a send in flight; then every other partition is read and flushed.
      const held = topic.partitions[0]!.read(0, 1 << 20, true);
      expect(held.region).not.toBeNull();
      for (const p of topic.partitions) {
        const r = p.read(0, 1 << 20, true);
        expect(r.region!.length).toBeGreaterThan(0);
        r.release();
      }
      await Promise.all(topic.partitions.map((p) => p.flush()));
      expect(segmentFileBudget.open).toBeLessThanOrEqual(segmentFileBudget.budget + 1);
      expect(openFds() - before).toBeLessThan(40);
      // The held descriptor still reads partition 0's bytes.
      const bytes = Buffer.alloc(held.region!.length);
      fs.readSync(held.region!.fd, bytes, 0, bytes.length, held.region!.position);
      expect(decodeRecordBatches(bytes)[0]!.records[0]!.key!.toString()).toBe('k0');
      held.release();
      // Every partition reads back both rounds after its files were closed and reopened.
      for (const [i, p] of topic.partitions.entries()) {
        const r = p.read(0, 1 << 20, true);
        const data = Buffer.alloc(r.region!.length);
        fs.readSync(r.region!.fd, data, 0, data.length, r.region!.position);
        r.release();
        expect(decodeRecordBatches(data).map((b) => b.records[0]!.value!.toString())).toEqual([`round 0 of ${i}`.repeat(20), `round 1 of ${i}`.repeat(20)]);
      }
    } finally {
      await logs.close();
    }
    expect(segmentFileBudget.open).toBe(0);
  });
});

const PARTITIONS_PER_TOPIC = 1000;
const TOPICS = ['fd-a', 'fd-b', 'fd-c'];
const NOFILE = 1024;

/** Produces one batch to every partition of every topic, 100 partitions per request; returns the base offsets. */
async function produceEverywhere(conn: KafkaConnection, tag: string): Promise<void> {
  for (const topic of TOPICS) {
    for (let from = 0; from < PARTITIONS_PER_TOPIC; from += 100) {
      const partitionData = Array.from({ length: 100 }, (_, k) => ({ index: from + k, records: encodeRecordBatch([{ key: `${topic}/${from + k}`, value: tag }]) }));
      const res: any = await conn.request(ApiKey.Produce, 7, { transactionalId: null, acks: 1, timeoutMs: 10_000, topicData: [{ name: topic, partitionData }] });
      const codes = res.responses[0].partitionResponses.map((p: any) => p.errorCode);
      expect(codes.filter((c: number) => c !== 0)).toEqual([]);
    }
  }
}

/** Fetches every partition from offset 0, 100 per request; checks the values, in order. */
async function fetchEverywhere(conn: KafkaConnection, tags: string[]): Promise<void> {
  for (const topic of TOPICS) {
    for (let from = 0; from < PARTITIONS_PER_TOPIC; from += 100) {
      const res: any = await conn.request(ApiKey.Fetch, 11, {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 8 << 20,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic, partitions: Array.from({ length: 100 }, (_, k) => ({ partition: from + k, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 64 * 1024 })) }],
        forgottenTopicsData: [],
        rackId: '',
      });
      for (const p of res.responses[0].partitions) {
        expect(p.errorCode).toBe(0);
        const values = decodeRecordBatches(p.records).flatMap((b) => b.records.map((r) => r.value!.toString()));
        expect(values).toEqual(tags);
      }
    }
  }
}

/** Opens up to `count` raw connections that each get one ApiVersions answer; stops at the first failure. */
async function openConnections(port: number, count: number, into: Set<net.Socket>): Promise<number> {
  let ok = 0;
  for (let i = 0; i < count; i++) {
    const answered = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      into.add(socket);
      const timer = setTimeout(() => resolve(false), 3000);
      socket.on('error', () => {});
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(false);
      });
      socket.once('data', () => {
        clearTimeout(timer);
        resolve(true);
      });
      socket.once('connect', () => socket.write(encodeRequest(ApiKey.ApiVersions, 0, 1, 'fd', {} as never)));
    });
    if (!answered) break;
    ok++;
  }
  return ok;
}

describe(`3000 partitions and hundreds of connections under ulimit -n ${NOFILE} (broker child)`, () => {
  const dirs: string[] = [];
  const sockets = new Set<net.Socket>();
  beforeAll(async () => {
    await prepareBrokerChildren();
  }, 180_000);
  afterEach(async () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
    await killAllChildren();
  });
  afterAll(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves produce and fetch on every partition with 800 connections open, and survives running out of descriptors', async () => {
    const dataDir = fs.mkdtempSync(path.join(scratch(), 'penstock-fdlimit-'));
    dirs.push(dataDir);
    const broker: BrokerChild = await startBrokerChild({ dataDir, maxOpenFiles: NOFILE });
    const admin = await connectTo(broker.port, 'admin');
    for (const topic of TOPICS) await createTopicOn(admin, topic, PARTITIONS_PER_TOPIC);
    await produceEverywhere(admin, 'one');
    let peak = broker.fds();

    const held = await openConnections(broker.port, 800, sockets);
    expect(held).toBe(800);
    await produceEverywhere(admin, 'two');
    await fetchEverywhere(admin, ['one', 'two']);
    const busy = broker.fds();
    if (busy.total > peak.total) peak = busy;

    // Past the limit: connections are refused, the broker goes on.
    const extra = await openConnections(broker.port, 400, sockets);
    expect(held + extra).toBeLessThan(NOFILE);
    expect(broker.alive).toBe(true);
    const atLimit = broker.fds();
    for (const s of sockets) s.destroy();
    sockets.clear();
    await new Promise((r) => setTimeout(r, 300));
    const after = await connectTo(broker.port, 'after');
    await produceEverywhere(after, 'three');
    await fetchEverywhere(after, ['one', 'two', 'three']);
    after.close();
    admin.close();
    console.log(
      `[fds] (${process.env.PENSTOCK_IO}) ulimit -n ${NOFILE}, ${TOPICS.length * PARTITIONS_PER_TOPIC} partitions (+ __consumer_offsets): ` +
        `${busy.total} fds with 800 connections (${busy.files} files, ${busy.sockets} sockets) while producing to and fetching from every partition; ` +
        `${held + extra} connections at most (${atLimit.total} fds), the rest refused; broker kept serving`,
    );
    expect(busy.files).toBeLessThan(NOFILE / 4);
  }, 120_000);
});
