/**
 * Slow and dead clients against a broker child (so its RSS and fds can be read from /proc):
 * consumers that pipeline large fetches and never read must not grow the broker's memory without bound
 * nor stall other clients; idle connections close after connections.max.idle.ms; a client that stops
 * everything — also in the middle of receiving a response — is dropped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KafkaConnection } from '../../src/client/kafka-connection.js';
import { ApiKey, encodeRequest } from '../../src/protocol/index.js';
import { decodeRecordBatches, encodeRecordBatch } from '../../src/storage/record-codec.js';
import { killAllChildren, prepareBrokerChildren, startBrokerChild, type BrokerChild } from './helpers/child-broker.js';
import { connectTo, createTopicOn, fetchRequestFor, produceRequestFor } from './helpers/ledger.js';

const TOPIC = 'big';
const MiB = 1024 * 1024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return;
    await sleep(25);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

/** Fills the topic with `mib` MiB in 512 KiB batches. */
async function fill(conn: KafkaConnection, mib: number): Promise<void> {
  for (let i = 0; i < mib * 2; i++) {
    const res: any = await conn.request(ApiKey.Produce, 7, produceRequestFor(TOPIC, 0, encodeRecordBatch([{ key: `k${i}`, value: Buffer.alloc(512 * 1024 - 100, i & 0xff) }]), 1));
    expect(res.responses[0].partitionResponses[0].errorCode).toBe(0);
  }
}

/** A socket that asks for `count` fetches of up to `maxBytes` each, all at once, and never reads a byte. */
function stalledConsumer(port: number, count: number, maxBytes: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.pause();
    socket.on('error', () => {});
    socket.once('connect', () => {
      const frames: Buffer[] = [];
      for (let i = 0; i < count; i++) frames.push(encodeRequest(ApiKey.Fetch, 11, i + 1, 'stalled', fetchRequestFor(TOPIC, 0, 0, maxBytes) as never));
      socket.write(Buffer.concat(frames));
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** One produce then a fetch of what was produced; both must complete. */
async function roundTrip(conn: KafkaConnection, i: number): Promise<void> {
  const value = `probe-${i}`;
  const res: any = await conn.request(ApiKey.Produce, 7, produceRequestFor('probe', 0, encodeRecordBatch([{ key: 'p', value }]), 1));
  const p = res.responses[0].partitionResponses[0];
  expect(p.errorCode).toBe(0);
  const fetched: any = await conn.request(ApiKey.Fetch, 11, fetchRequestFor('probe', 0, Number(p.baseOffset)));
  const records = decodeRecordBatches(fetched.responses[0].partitions[0].records).flatMap((b) => b.records);
  expect(records[0]!.value!.toString()).toBe(value);
}

function withTimeout<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer!: NodeJS.Timeout;
  return Promise.race([promise, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not complete within ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

describe('slow and dead clients', () => {
  const dirs: string[] = [];
  const extraChildren = new Set<ChildProcess>();
  const sockets = new Set<net.Socket>();
  const tempDir = (): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'penstock-slow-'));
    dirs.push(dir);
    return dir;
  };
  beforeAll(async () => {
    await prepareBrokerChildren();
  }, 180_000);
  afterEach(async () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
    for (const child of extraChildren) if (child.pid && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
    extraChildren.clear();
  });
  afterAll(async () => {
    await killAllChildren();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('consumers that never read do not grow the broker without bound nor stall other clients', async () => {
    const broker = await startBrokerChild({ dataDir: tempDir(), overrides: { 'offsets.topic.num.partitions': 1 } });
    const admin = await connectTo(broker.port);
    await createTopicOn(admin, TOPIC, 1);
    await createTopicOn(admin, 'probe', 1);
    await fill(admin, 24);
    admin.close();
    await sleep(200);
    const baseline = broker.rss();

    // Four consumers ask for 4 × 300 fetches of up to 16 MiB (about 19 GB of responses) and read nothing.
    for (let i = 0; i < 4; i++) sockets.add(await stalledConsumer(broker.port, 300, 16 * MiB));
    const probe = await connectTo(broker.port, 'probe');
    let peak = baseline;
    for (let i = 0; i < 40; i++) {
      await withTimeout(`round trip ${i} beside the stalled consumers`, roundTrip(probe, i), 10_000);
      if (i % 5 === 0) peak = Math.max(peak, broker.rss());
      await sleep(25);
    }
    peak = Math.max(peak, broker.rss());
    probe.close();
    const growth = peak - baseline;
    console.log(`[slow-clients] (${process.env.PENSTOCK_IO}) RSS ${Math.round(baseline / MiB)} MiB before, peak ${Math.round(peak / MiB)} MiB with 4 stalled consumers (${Math.round(growth / MiB)} MiB growth)`);
    // Unbounded buffering would hold gigabytes; per-connection back-pressure allows a few MiB each.
    expect(growth).toBeLessThan(160 * MiB);
    expect(broker.alive).toBe(true);
    await broker.kill();
  }, 90_000);

  describe('with connections.max.idle.ms=300', () => {
    let broker: BrokerChild;
    beforeAll(async () => {
      broker = await startBrokerChild({ dataDir: tempDir(), overrides: { 'offsets.topic.num.partitions': 1, 'connections.max.idle.ms': 300 } });
      const admin = await connectTo(broker.port);
      await createTopicOn(admin, TOPIC, 1);
      await fill(admin, 8);
      admin.close();
    }, 60_000);
    afterAll(async () => {
      await broker?.kill();
    });
    /** Sockets the broker holds, less its listener. */
    const brokerSockets = (): number => broker.fds().sockets;

    it('closes an idle connection, keeps a busy one', async () => {
      const idle = net.connect({ host: '127.0.0.1', port: broker.port });
      sockets.add(idle);
      idle.on('error', () => {});
      const idleClosed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
      const busy = await connectTo(broker.port, 'busy');
      for (let i = 0; i < 12; i++) {
        await busy.request(ApiKey.Metadata, 1, { topics: [] });
        await sleep(100);
      }
      await withTimeout('idle connection close', idleClosed, 5000);
      // The busy one (a request every 100 ms for 1.2 s) is still open.
      await busy.request(ApiKey.Metadata, 1, { topics: [] });
      busy.close();
    });

    it('drops a client that stopped everything, idle or in the middle of a response', async () => {
      // Connections of the previous test close within the idle timeout; count after they are gone.
      await sleep(700);
      const before = brokerSockets();
      // A child process connects, asks for fetches far larger than socket buffers, reads a little, and is stopped.
      const script = `
        const net = require('node:net');
        const s = net.connect({ host: '127.0.0.1', port: Number(process.argv[1]) });
        s.on('connect', () => { s.write(Buffer.from(process.argv[2], 'hex')); process.stdout.write('sent\\n'); });
        s.on('error', () => {});
        setInterval(() => {}, 1000);
      `;
      const fetches = Buffer.concat(Array.from({ length: 4 }, (_, i) => encodeRequest(ApiKey.Fetch, 11, i + 1, 'stopped', fetchRequestFor(TOPIC, 0, 0, 8 * MiB) as never)));
      const clients: ChildProcess[] = [];
      // First the one stopped in the middle of its responses (it can only go by being dropped), then an idle one.
      for (const payload of [fetches, encodeRequest(ApiKey.Metadata, 1, 1, 'stopped', { topics: [] })]) {
        const child = spawn(process.execPath, ['-e', script, String(broker.port), payload.toString('hex')], { stdio: ['ignore', 'pipe', 'ignore'] });
        extraChildren.add(child);
        clients.push(child);
        await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
        await sleep(50);
        process.kill(child.pid!, 'SIGSTOP');
        if (payload === fetches) expect(brokerSockets()).toBeGreaterThan(before);
      }
      try {
        await waitFor('broker drops both stopped clients', () => brokerSockets() <= before, 10_000);
      } finally {
        for (const child of clients) process.kill(child.pid!, 'SIGKILL');
      }
      expect(broker.alive).toBe(true);
    });
  });
});
