import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ApiKey, decodeResponse, encodeRequest } from '../../src/protocol/index.js';
import { batchOf, connect, createTopic, fetchRequest, produceRequest, useBroker } from '../helpers/broker.js';

/** Sends raw bytes on a fresh socket; resolves with what came back and whether the broker closed it. */
function exchange(port: number, bytes: Buffer, waitMs = 2000): Promise<{ closed: boolean; received: Buffer }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ closed: false, received: Buffer.concat(chunks) });
    }, waitMs);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, received: Buffer.concat(chunks) });
    });
    socket.on('connect', () => socket.write(bytes));
  });
}

function frame(body: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

describe('bad input on a live broker', () => {
  const broker = useBroker({ config: { 'socket.request.max.bytes': 1024 * 1024, 'message.max.bytes': 20_000 } });

  async function stillServes(): Promise<void> {
    const c = await connect(broker());
    const res = await c.request(ApiKey.Metadata, 1, { topics: [] });
    expect(res.brokers).toHaveLength(1);
    c.close();
  }

  it('closes the connection on a frame of random bytes', async () => {
    const garbage = Buffer.alloc(64);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 131 + 7) & 0xff;
    garbage.writeInt16BE(0, 0); // Produce
    garbage.writeInt16BE(7, 2);
    const result = await exchange(broker().port, frame(garbage));
    expect(result.closed).toBe(true);
    await stillServes();
  });

  it('closes on a negative frame length and on one above socket.request.max.bytes', async () => {
    const negative = Buffer.alloc(4);
    negative.writeInt32BE(-5);
    expect((await exchange(broker().port, negative)).closed).toBe(true);
    const huge = Buffer.alloc(4);
    huge.writeInt32BE(2 * 1024 * 1024);
    expect((await exchange(broker().port, huge)).closed).toBe(true);
    await stillServes();
  });

  it('closes on a truncated request body', async () => {
    const full = encodeRequest(ApiKey.Metadata, 1, 1, 'trunc', { topics: [{ name: 'abc' }, { name: 'def' }] });
    const body = full.subarray(4, full.length - 3);
    expect((await exchange(broker().port, frame(body))).closed).toBe(true);
    await stillServes();
  });

  it('closes on an unknown API key and an unsupported version', async () => {
    const unknown = Buffer.alloc(10);
    unknown.writeInt16BE(999, 0);
    unknown.writeInt16BE(0, 2);
    unknown.writeInt32BE(1, 4);
    unknown.writeInt16BE(-1, 8);
    expect((await exchange(broker().port, frame(unknown))).closed).toBe(true);
    const oldProduce = Buffer.from(unknown);
    oldProduce.writeInt16BE(ApiKey.Produce, 0);
    oldProduce.writeInt16BE(2, 2);
    expect((await exchange(broker().port, frame(oldProduce))).closed).toBe(true);
    await stillServes();
  });

  it('answers ApiVersions at an unknown version with UNSUPPORTED_VERSION in a v0 body', async () => {
    const request = Buffer.alloc(10);
    request.writeInt16BE(ApiKey.ApiVersions, 0);
    request.writeInt16BE(99, 2);
    request.writeInt32BE(42, 4);
    request.writeInt16BE(-1, 8);
    const result = await exchange(broker().port, frame(request), 500);
    expect(result.closed).toBe(false);
    const size = result.received.readInt32BE(0);
    const { correlationId, body } = decodeResponse(ApiKey.ApiVersions, 0, result.received.subarray(4, 4 + size));
    expect(correlationId).toBe(42);
    expect(body.errorCode).toBe(35);
    expect(body.apiKeys.find((k: any) => k.apiKey === ApiKey.ApiVersions)).toMatchObject({ minVersion: 0, maxVersion: 3 });
  });

  it('rejects a batch with a bad CRC as CORRUPT_MESSAGE and appends nothing', async () => {
    const c = await connect(broker());
    await createTopic(c, 'crc', 1);
    const batch = batchOf(['one', 'two']);
    batch[batch.length - 1]! ^= 0xff;
    const res = await c.request(ApiKey.Produce, 7, produceRequest('crc', 0, batch));
    expect(res.responses[0].partitionResponses[0].errorCode).toBe(2);
    const fetched = await c.request(ApiKey.Fetch, 11, fetchRequest('crc', 0, 0));
    expect(fetched.responses[0].partitions[0].highWatermark).toBe(0);
  });

  it('rejects a batch over message.max.bytes as MESSAGE_TOO_LARGE', async () => {
    const c = await connect(broker());
    await createTopic(c, 'too-large', 1);
    const res = await c.request(ApiKey.Produce, 7, produceRequest('too-large', 0, batchOf(['x'.repeat(30_000)])));
    expect(res.responses[0].partitionResponses[0].errorCode).toBe(10);
  });

  it('rejects invalid acks, and an empty records field', async () => {
    const c = await connect(broker());
    await createTopic(c, 'acks', 1);
    const res = await c.request(ApiKey.Produce, 7, produceRequest('acks', 0, batchOf(['a']), 2));
    expect(res.responses[0].partitionResponses[0].errorCode).toBe(21);
    const empty = await c.request(ApiKey.Produce, 7, produceRequest('acks', 0, null));
    expect(empty.responses[0].partitionResponses[0].errorCode).toBe(87);
  });

  it('refuses produce to the internal __consumer_offsets topic', async () => {
    const c = await connect(broker());
    await c.request(ApiKey.FindCoordinator, 0, { key: 'any-group' });
    const res = await c.request(ApiKey.Produce, 7, produceRequest('__consumer_offsets', 0, batchOf(['forged'])));
    expect(res.responses[0].partitionResponses[0].errorCode).toBe(17);
  });

  it('rejects a batch whose header lengths lie', async () => {
    const c = await connect(broker());
    await createTopic(c, 'liar', 1);
    const batch = batchOf(['a', 'b']);
    batch.writeInt32BE(batch.length, 8); // batchLength claims 12 more bytes than there are
    const res = await c.request(ApiKey.Produce, 7, produceRequest('liar', 0, batch));
    expect(res.responses[0].partitionResponses[0].errorCode).toBe(2);
    await stillServes();
  });
});
