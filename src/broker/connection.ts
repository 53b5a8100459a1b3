import type { Socket } from 'node:net';
import type { Logger } from '../logger.js';
import type { SendPart } from '../io/types.js';
import { ErrorCode } from '../protocol/error-codes.js';
import {
  ApiKey,
  ProtocolError,
  Reader,
  decodeRequestBody,
  decodeRequestHeader,
  encodeResponseFrame,
  isSupported,
  requestHeaderVersion,
  type ResponseBody,
} from '../protocol/index.js';
import { Framer, FrameTooLargeError } from './framer.js';
import { ResponseQueue } from './response-queue.js';
import type { Broker } from './broker.js';
import { NO_RESPONSE, type RequestContext } from './request-context.js';

/** Socket errors that only mean the client went away. */
const PEER_GONE = new Set(['ECONNRESET', 'EPIPE', 'ECANCELED', 'ETIMEDOUT']);

/** Responses a connection may have pending before it stops reading requests (back-pressure). */
const MAX_PENDING_RESPONSES = 64;
/** Bytes queued in Node's socket buffer above which the connection stops reading requests. */
const MAX_QUEUED_WRITE_BYTES = 8 * 1024 * 1024;

/**
 * One client connection: frames in, requests decoded and handed to their handler, responses out in
 * request order. A malformed frame or an unsupported API closes this connection only.
 */
export class Connection {
  readonly id: number;
  readonly remote: string;
  private readonly framer: Framer;
  private readonly responses: ResponseQueue;
  private readonly abort = new AbortController();
  private readingPaused = false;
  private closed = false;
  clientId: string | null = null;
  requestsHandled = 0;

  constructor(
    readonly broker: Broker,
    readonly socket: Socket,
    id: number,
    private readonly log: Logger,
  ) {
    this.id = id;
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.framer = new Framer(broker.config['socket.request.max.bytes']);
    this.responses = new ResponseQueue(socket, broker.io, broker.sendStats, {
      onSendError: (err) => this.onSendError(err),
      onProgress: () => this.maybeResume(),
    });

    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    const idleMs = broker.config['connections.max.idle.ms'];
    if (idleMs > 0) socket.setTimeout(idleMs, () => this.onIdle());
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.maybeResume());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A peer that hangs up is routine; anything else on a socket is worth an operator's look.
      const level = PEER_GONE.has(err.code ?? '') ? 'debug' : 'warn';
      this.log[level]({ err: err.message, code: err.code, remote: this.remote, clientId: this.clientId }, 'connection error');
    });
    socket.on('close', () => this.onClose());
  }

  /** Aborted when the connection closes: waiting handlers (long-poll fetches) stop early. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** True while requests of this connection still await or are sending their responses. */
  get hasPendingWork(): boolean {
    return this.responses.length > 0;
  }

  /** Closes this connection, saying why in the log. */
  close(reason: string, details: Record<string, unknown> = {}): void {
    if (this.closed) return;
    this.log.warn({ remote: this.remote, clientId: this.clientId, ...details }, `closing connection: ${reason}`);
    // Nothing more leaves from here: the answer to a later pipelined request must not go out when
    // an earlier one got none (the socket's 'close' event comes only on a later turn).
    this.responses.close();
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    try {
      this.framer.push(chunk, (frame) => this.onFrame(frame));
    } catch (err) {
      if (err instanceof FrameTooLargeError) return this.close(err.message);
      if (err instanceof ProtocolError) return this.close(`malformed request: ${err.message}`);
      this.close('internal error while reading a request', { err: String((err as Error)?.stack ?? err) });
    }
    this.maybePause();
  }

  private onFrame(frame: Buffer): void {
    // Frames after the one that closed the connection, in the same chunk, are not served.
    if (this.closed || this.socket.destroyed) return;
    if (frame.length < 8) throw new ProtocolError(`request of ${frame.length} bytes is shorter than a request header`);
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    const correlationId = frame.readInt32BE(4);

    if (!this.broker.handles(apiKey, apiVersion)) {
      if (apiKey === ApiKey.ApiVersions) return this.answerUnsupportedApiVersions(correlationId);
      return this.close(`unsupported API key ${apiKey} version ${apiVersion}`, { apiKey, apiVersion, correlationId });
    }

    const reader = new Reader(frame);
    const header = decodeRequestHeader(reader, requestHeaderVersion(apiKey, apiVersion));
    this.clientId = header.clientId;
    const body = decodeRequestBody(apiKey, apiVersion, reader);
    this.requestsHandled++;

    const startedAt = performance.now();
    const fill = this.responses.reserve();
    const releases: (() => void)[] = [];
    const ctx: RequestContext = {
      broker: this.broker,
      connection: this,
      apiKey,
      apiVersion,
      correlationId,
      clientId: header.clientId,
      signal: this.abort.signal,
      afterSend: (fn) => releases.push(fn),
    };
    const afterSend = () => {
      for (const release of releases) release();
    };
    const respond = (result: unknown): void => {
      if (result === NO_RESPONSE) {
        this.broker.metrics?.requestCompleted(apiKey, apiVersion, (performance.now() - startedAt) / 1000, frame.length + 4);
        return fill(null, afterSend);
      }
      let parts: SendPart[];
      try {
        parts = encodeResponseFrame(apiKey, apiVersion, correlationId, result as ResponseBody);
      } catch (err) {
        this.close('could not encode a response', { apiKey, apiVersion, err: String((err as Error)?.stack ?? err) });
        return fill(null, afterSend);
      }
      fill(parts, afterSend);
      this.broker.metrics?.requestCompleted(apiKey, apiVersion, (performance.now() - startedAt) / 1000, frame.length + 4);
    };
    const fail = (err: unknown): void => {
      // Closed before the slot is filled, so no later response can go out in place of this one.
      this.close('request handler failed', { apiKey, apiVersion, correlationId, err: String((err as Error)?.stack ?? err) });
      fill(null, afterSend);
    };

    let result: unknown;
    try {
      result = this.broker.handle(ctx, body);
    } catch (err) {
      return fail(err);
    }
    if (result instanceof Promise) result.then(respond, fail);
    else respond(result);
  }

  /** Kafka answers an ApiVersions request it cannot parse with a v0 body: UNSUPPORTED_VERSION and its ranges. */
  private answerUnsupportedApiVersions(correlationId: number): void {
    const fill = this.responses.reserve();
    fill(
      encodeResponseFrame(ApiKey.ApiVersions, 0, correlationId, {
        errorCode: ErrorCode.UNSUPPORTED_VERSION,
        apiKeys: this.broker.advertisedApis(),
        throttleTimeMs: 0,
      }),
    );
  }

  private maybePause(): void {
    if (this.readingPaused || this.closed) return;
    if (this.responses.length >= MAX_PENDING_RESPONSES || this.socket.writableLength > MAX_QUEUED_WRITE_BYTES) {
      // Resumed from the queue's progress callback or the socket's 'drain'.
      this.readingPaused = true;
      this.socket.pause();
    }
  }

  private maybeResume(): void {
    if (!this.readingPaused || this.closed) return;
    if (this.responses.length < MAX_PENDING_RESPONSES / 2 && this.socket.writableLength <= MAX_QUEUED_WRITE_BYTES / 2) {
      this.readingPaused = false;
      this.socket.resume();
    }
  }

  private onIdle(): void {
    // A request still in its handler (a long-poll fetch, a join waiting for its group) is not idleness:
    // the broker owes the answer. A send that moved no byte for the whole period is: the client stopped
    // reading, or vanished without a FIN, and would otherwise hold the connection and its regions forever.
    if (this.responses.length > 0 && !this.responses.busy) return;
    this.log.debug({ remote: this.remote, clientId: this.clientId }, 'closing idle connection (connections.max.idle.ms)');
    this.socket.destroy();
  }

  private onSendError(err: Error): void {
    this.log.debug({ remote: this.remote, clientId: this.clientId, err: err.message }, 'send failed; closing connection');
    this.socket.destroy();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    this.responses.close();
    this.broker.onConnectionClosed(this);
    this.log.debug({ remote: this.remote, clientId: this.clientId, requests: this.requestsHandled }, 'connection closed');
  }
}
