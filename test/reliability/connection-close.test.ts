/**
 * Closing a connection mid-pipeline: once a request fails, no later pipelined answer may leave (the
 * client would match it to the wrong request), and a response still being sent keeps its file regions
 * until the send settles, whatever happens to the connection meanwhile.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ResponseQueue } from '../../src/broker/response-queue.js';
import type { Io, SendPart, SendResult } from '../../src/io/types.js';
import { ApiKey, encodeRequest } from '../../src/protocol/index.js';
import { useBroker } from '../helpers/broker.js';

describe('a connection closed by a failing request', () => {
  const broker = useBroker();

  it('sends nothing after the failed request, not even answers that were ready', async () => {
    const running = broker();
    const original = running.broker.handle.bind(running.broker);
    running.broker.handle = (ctx, body) => (ctx.apiKey === ApiKey.ListGroups ? Promise.reject(new Error('injected handler failure')) : original(ctx, body));
    try {
      const received: Buffer[] = [];
      const closed = await new Promise<boolean>((resolve) => {
        const socket = net.connect({ host: running.host, port: running.port });
        const timer = setTimeout(() => {
          socket.destroy();
          resolve(false);
        }, 5000);
        socket.on('data', (c) => received.push(c));
        socket.on('error', () => {});
        socket.on('close', () => {
          clearTimeout(timer);
          resolve(true);
        });
        socket.on('connect', () =>
          // One write: the failing request, then one whose answer is ready at once.
          socket.write(Buffer.concat([encodeRequest(ApiKey.ListGroups, 2, 1, 'c', {}), encodeRequest(ApiKey.ApiVersions, 0, 2, 'c', {} as never)])),
        );
      });
      expect(closed).toBe(true);
      expect(Buffer.concat(received).length).toBe(0);
    } finally {
      running.broker.handle = original;
    }
  });
});

describe('ResponseQueue.close during a send', () => {
  it('releases the regions of the response being sent only when its send settles', async () => {
    let settle!: (r: SendResult) => void;
    const io = { sendParts: (_s: net.Socket, _p: readonly SendPart[]) => new Promise<SendResult>((resolve) => (settle = resolve)) } as unknown as Io;
    const socket = { write: () => true, cork() {}, uncork() {} } as unknown as net.Socket;
    const queue = new ResponseQueue(socket, io, { bytesOut: 0, zeroCopyBytes: 0 }, { onSendError: () => {}, onProgress: () => {} });
    const released: string[] = [];
    const sending = queue.reserve();
    const waiting = queue.reserve();
    sending([Buffer.from('header'), { fd: 99, position: 0, length: 10 }], () => released.push('sending'));
    // Responses filled in one turn are pumped together on the next tick.
    await new Promise((r) => process.nextTick(r));
    expect(queue.busy).toBe(true);
    queue.close();
    waiting([Buffer.from('later')], () => released.push('waiting'));
    expect(released).toEqual(['waiting']);
    settle({ bytes: 16, zeroCopyBytes: 10 });
    await new Promise((r) => setImmediate(r));
    expect(released).toEqual(['waiting', 'sending']);
  });
});
