import net from 'node:net';
import type { BrokerConfig } from '../config.js';
import { parseListener } from '../config.js';
import type { Io } from '../io/types.js';
import type { Logger } from '../logger.js';
import { API_VERSIONS } from '../protocol/index.js';
import type { LogManager } from '../storage/log-manager.js';
import { Connection } from './connection.js';
import { HANDLERS } from './handlers/index.js';
import { FetchWaiters } from './fetch-waiters.js';
import { GroupCoordinator } from './groups/coordinator.js';
import type { SendStats } from './response-queue.js';
import type { RequestContext } from './request-context.js';

export interface AdvertisedApi {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}

/**
 * Events a metrics module can count; the broker works without one. Values that can be read at any
 * moment (connections, log sizes, send stats, group lag) are read from the broker when scraped instead.
 */
export interface BrokerMetricsHooks {
  /** A request was answered (or, for acks=0, finished) after `seconds`; `requestBytes` is its frame size. */
  requestCompleted(apiKey: number, apiVersion: number, seconds: number, requestBytes: number): void;
  /** Records were appended to a topic by Produce. */
  produced(topic: string, records: number, bytes: number): void;
  /** Record bytes were handed to a consumer by Fetch. */
  fetched(topic: string, bytes: number): void;
}

/**
 * The broker: accepts connections, routes each decoded request to its handler, and owns the log
 * manager and coordinators the handlers use. One event loop owns all of it.
 */
export class Broker {
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  private nextConnectionId = 1;
  private readonly advertised: AdvertisedApi[];
  private readonly advertisedByKey: Map<number, AdvertisedApi>;
  private closing: Promise<void> | undefined;
  readonly fetchWaiters = new FetchWaiters();
  /** Consumer groups and committed offsets; `start()`ed by startBroker before the broker listens. */
  readonly groups: GroupCoordinator;
  /** Bytes sent to clients, and how many of them went file → socket inside the kernel. */
  readonly sendStats: SendStats = { bytesOut: 0, zeroCopyBytes: 0 };
  metrics: BrokerMetricsHooks | undefined;
  /** Host and port given to clients in Metadata and FindCoordinator. */
  advertisedHost = '127.0.0.1';
  advertisedPort = 0;

  constructor(
    readonly config: BrokerConfig,
    readonly logs: LogManager,
    readonly io: Io,
    readonly log: Logger,
  ) {
    this.advertised = API_VERSIONS.filter((api) => HANDLERS[api.key] !== undefined).map((api) => ({
      apiKey: api.key,
      minVersion: api.min,
      maxVersion: api.max,
    }));
    this.advertisedByKey = new Map(this.advertised.map((api) => [api.apiKey, api]));
    this.groups = new GroupCoordinator({ config, logs, io, log });
    this.server = net.createServer((socket) => this.onConnection(socket));
    this.server.on('error', (err) => this.log.error({ err: err.message }, 'listener error'));
  }

  get nodeId(): number {
    return this.logs.nodeId;
  }

  get clusterId(): string {
    return this.logs.clusterId;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Binds the listener; resolves with the bound address. */
  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address() as net.AddressInfo;
    const advertised = this.config['advertised.listeners'];
    if (advertised) {
      const parsed = parseListener(advertised);
      this.advertisedHost = parsed.host;
      this.advertisedPort = parsed.port;
    } else {
      this.advertisedHost = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address;
      this.advertisedPort = address.port;
    }
    return { host: address.address, port: address.port };
  }

  advertisedApis(): AdvertisedApi[] {
    return this.advertised;
  }

  handles(apiKey: number, apiVersion: number): boolean {
    const api = this.advertisedByKey.get(apiKey);
    return api !== undefined && apiVersion >= api.minVersion && apiVersion <= api.maxVersion;
  }

  handle(ctx: RequestContext, body: unknown): unknown {
    return HANDLERS[ctx.apiKey]!(ctx, body);
  }

  onConnectionClosed(connection: Connection): void {
    this.connections.delete(connection);
  }

  private onConnection(socket: net.Socket): void {
    if (this.closing) return void socket.destroy();
    if (this.connections.size >= this.config['max.connections']) {
      this.log.warn({ remote: `${socket.remoteAddress}:${socket.remotePort}`, limit: this.config['max.connections'] }, 'max.connections reached; refusing connection');
      return void socket.destroy();
    }
    const connection = new Connection(this, socket, this.nextConnectionId++, this.log);
    this.connections.add(connection);
    this.log.debug({ remote: connection.remote, id: connection.id }, 'connection opened');
  }

  /**
   * Stops accepting, lets in-flight requests finish (bounded), closes connections, then flushes the
   * logs and writes the checkpoints and the clean-shutdown marker.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.fetchWaiters.wakeAll();
    // Answers parked JoinGroup/SyncGroup at once (else they hold the wait below) and drops group timers.
    const groupsClosed = this.groups.close();
    const deadline = Date.now() + 5_000;
    while ([...this.connections].some((c) => c.hasPendingWork) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    for (const connection of this.connections) connection.socket.destroy();
    await stopped;
    await groupsClosed;
    await this.logs.close();
  }
}
