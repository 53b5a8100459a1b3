import net from 'node:net';
import { Framer } from '../broker/framer.js';
import { decodeResponse, encodeRequest, type RequestBody } from '../protocol/index.js';

interface Pending {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  resolve(body: unknown): void;
  reject(err: Error): void;
}

/**
 * A minimal pipelining Kafka client connection, for penstock's own tools and benchmark: requests go
 * out as soon as they are made, responses are matched in order by correlation id.
 */
export class KafkaConnection {
  private readonly pending: Pending[] = [];
  private readonly framer = new Framer(1 << 30);
  private nextCorrelationId = 1;
  private failure: Error | null = null;

  private constructor(
    readonly socket: net.Socket,
    readonly clientId: string,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.framer.push(chunk, (frame) => this.onFrame(frame));
      } catch (err) {
        this.fail(err as Error);
      }
    });
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(Object.assign(new Error('connection closed by the broker'), { code: 'ECONNRESET' })));
  }

  static connect(host: string, port: number, options: { clientId?: string; timeoutMs?: number } = {}): Promise<KafkaConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`could not connect to ${host}:${port} within ${options.timeoutMs ?? 10_000} ms`));
      }, options.timeoutMs ?? 10_000);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', reject);
        resolve(new KafkaConnection(socket, options.clientId ?? 'penstock'));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Sends a request and resolves with the decoded response body. */
  request<T = any>(apiKey: number, apiVersion: number, body: unknown): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const correlationId = this.nextCorrelationId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ apiKey, apiVersion, correlationId, resolve: resolve as (b: unknown) => void, reject });
      this.socket.write(encodeRequest(apiKey, apiVersion, correlationId, this.clientId, body as RequestBody));
    });
  }

  /** Sends a request that gets no response (Produce with acks=0). */
  send(apiKey: number, apiVersion: number, body: unknown): void {
    if (this.failure) throw this.failure;
    this.socket.write(encodeRequest(apiKey, apiVersion, this.nextCorrelationId++, this.clientId, body as RequestBody));
  }

  /** Sends an already-encoded request frame; used by load generators that pre-encode requests. */
  requestRaw(apiKey: number, apiVersion: number, encode: (correlationId: number) => Buffer): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const correlationId = this.nextCorrelationId++;
    return new Promise((resolve, reject) => {
      this.pending.push({ apiKey, apiVersion, correlationId, resolve, reject });
      this.socket.write(encode(correlationId));
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onFrame(frame: Buffer): void {
    const next = this.pending.shift();
    if (!next) throw new Error('response with no request outstanding');
    const { correlationId, body } = decodeResponse(next.apiKey, next.apiVersion, frame);
    if (correlationId !== next.correlationId) {
      throw new Error(`response correlation id ${correlationId} does not match request ${next.correlationId}`);
    }
    next.resolve(body);
  }

  private fail(err: Error): void {
    if (!this.failure) this.failure = err;
    for (const p of this.pending.splice(0)) p.reject(this.failure);
  }
}
