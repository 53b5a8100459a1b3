import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiKey, decodeRequest, encodeRequest, type ApiVersionsRequest } from '../../src/protocol/index.js';

const KCAT = '/usr/bin/kcat';
const WAIT_MS = 10_000;

interface Capture {
  port: number;
  /** Resolves with the first complete request frame (size prefix included). */
  firstFrame: Promise<Buffer>;
  close(): Promise<void>;
}

/** A plain TCP listener that records the first frame a client sends, then drops the connection. */
async function capture(): Promise<Capture> {
  const sockets = new Set<net.Socket>();
  let resolveFrame!: (b: Buffer) => void;
  let rejectFrame!: (e: Error) => void;
  const firstFrame = new Promise<Buffer>((resolve, reject) => {
    resolveFrame = resolve;
    rejectFrame = reject;
  });
  const timer = setTimeout(() => rejectFrame(new Error(`no request frame within ${WAIT_MS} ms`)), WAIT_MS);
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      if (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        clearTimeout(timer);
        resolveFrame(pending.subarray(0, 4 + pending.readInt32BE(0)));
        socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    firstFrame,
    close: async () => {
      clearTimeout(timer);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('requests captured from real clients', () => {
  it('kafkajs 2.2.4 opens with ApiVersions v2', async () => {
    const cap = await capture();
    cleanups.push(cap.close);
    const kafka = new Kafka({
      clientId: 'penstock-capture',
      brokers: [`127.0.0.1:${cap.port}`],
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
      connectionTimeout: 2000,
      requestTimeout: 2000,
    });
    const admin = kafka.admin();
    const connecting = admin.connect().catch(() => undefined);
    cleanups.push(async () => {
      await admin.disconnect().catch(() => undefined);
      await connecting;
    });

    const frame = await cap.firstFrame;
    expect(frame.readInt32BE(0)).toBe(frame.length - 4);
    const { header, body } = decodeRequest(frame.subarray(4));
    expect(header).toMatchObject({ apiKey: ApiKey.ApiVersions, apiVersion: 2, clientId: 'penstock-capture' });
    expect(body).toEqual({ clientSoftwareName: '', clientSoftwareVersion: '' });
    expect(encodeRequest(ApiKey.ApiVersions, 2, header.correlationId, header.clientId, body as ApiVersionsRequest).equals(frame)).toBe(true);
  });

  it('kcat (librdkafka) opens with a flexible ApiVersions v3', async () => {
    const cap = await capture();
    cleanups.push(cap.close);
    const child: ChildProcess = spawn(KCAT, ['-b', `127.0.0.1:${cap.port}`, '-L', '-m', '2'], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    });

    const frame = await cap.firstFrame;
    const { header, body } = decodeRequest(frame.subarray(4));
    expect(header).toMatchObject({ apiKey: ApiKey.ApiVersions, apiVersion: 3, clientId: 'rdkafka' });
    expect(body).toMatchObject({ clientSoftwareName: 'librdkafka' });
    expect((body as ApiVersionsRequest).clientSoftwareVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(encodeRequest(ApiKey.ApiVersions, 3, header.correlationId, header.clientId, body as ApiVersionsRequest).equals(frame)).toBe(true);
  });
});
