/**
 * The client side every CLI command shares: connect from `--bootstrap-server`, look up metadata, find
 * partition leaders and group coordinators, send a request with a deadline, and turn Kafka error codes
 * into messages a person can act on. Commands say what to ask; this module knows how to reach whom.
 */
import { KafkaConnection } from '../client/kafka-connection.js';
import {
  ApiKey,
  ErrorCode,
  apiName,
  errorName,
  type ApiKeyValue,
  type MetadataResponse,
  type RequestBodies,
  type ResponseBodies,
} from '../protocol/index.js';
import { UsageError } from './command.js';

export const DEFAULT_BOOTSTRAP_SERVER = '127.0.0.1:9092';
/** Kafka's request.timeout.ms. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * The version of each API the tools speak: the newest penstock implements, which Apache Kafka 4.x
 * brokers accept too, so the same commands work against a Kafka cluster.
 */
const VERSIONS = {
  [ApiKey.Produce]: 7,
  [ApiKey.Fetch]: 11,
  [ApiKey.ListOffsets]: 3,
  [ApiKey.Metadata]: 6,
  [ApiKey.OffsetCommit]: 7,
  [ApiKey.OffsetFetch]: 5,
  [ApiKey.FindCoordinator]: 2,
  [ApiKey.JoinGroup]: 5,
  [ApiKey.Heartbeat]: 3,
  [ApiKey.LeaveGroup]: 3,
  [ApiKey.SyncGroup]: 3,
  [ApiKey.DescribeGroups]: 2,
  [ApiKey.ListGroups]: 2,
  [ApiKey.CreateTopics]: 4,
  [ApiKey.DeleteTopics]: 3,
  [ApiKey.DescribeConfigs]: 2,
} as const;
export type ToolApi = keyof typeof VERSIONS;

/** ListOffsets timestamps with special meaning. */
export const LATEST_OFFSET = -1;
export const EARLIEST_OFFSET = -2;

/** A few error codes explained in the words a CLI user needs. */
const HINTS: Partial<Record<number, string>> = {
  [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]: 'no such topic or partition',
  [ErrorCode.TOPIC_ALREADY_EXISTS]: 'the topic already exists',
  [ErrorCode.INVALID_CONFIG]: 'a topic setting was refused',
  [ErrorCode.INVALID_TOPIC_EXCEPTION]: 'not a valid topic name',
  [ErrorCode.MESSAGE_TOO_LARGE]: 'a record batch is larger than max.message.bytes',
  [ErrorCode.TOPIC_DELETION_DISABLED]: 'delete.topic.enable is false on the broker',
  [ErrorCode.UNKNOWN_MEMBER_ID]: 'the group has active members; stop them or use another group',
  [ErrorCode.COORDINATOR_NOT_AVAILABLE]: 'the group coordinator is not available',
};

/** The broker answered with an error code. The message names the code (Kafka's name) and the subject. */
export class BrokerError extends Error {
  constructor(
    readonly errorCode: number,
    subject: string,
    detail?: string | null,
  ) {
    const hint = HINTS[errorCode];
    const extra = [hint, detail && detail !== hint ? detail : undefined].filter((s): s is string => !!s);
    super(`${subject}: ${errorName(errorCode)}${extra.length > 0 ? ` (${extra.join('; ')})` : ''}`);
    this.name = 'BrokerError';
  }

  get errorName(): string {
    return errorName(this.errorCode);
  }
}

/** No broker of the bootstrap list could be reached. */
export class BrokerUnreachable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BrokerUnreachable';
  }
}

export interface HostPort {
  host: string;
  port: number;
}

/** `host:port[,host:port...]` (IPv6 as `[::1]:9092`), Kafka's bootstrap.servers format. */
export function parseBootstrapServers(text: string): HostPort[] {
  const servers = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (servers.length === 0) throw new UsageError('--bootstrap-server is empty');
  return servers.map((server) => {
    const match = /^(\[[^\]]+\]|[^:\s]+):(\d+)$/.exec(server);
    if (!match || Number(match[2]) > 65535) throw new UsageError(`--bootstrap-server "${server}" is not host:port`);
    return { host: match[1]!.replace(/^\[|\]$/g, ''), port: Number(match[2]) };
  });
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** A map key for a topic-partition. */
export function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export interface TopicInfo {
  name: string;
  internal: boolean;
  /** Partition index → leader node id, in partition order. */
  partitions: { partition: number; leader: number }[];
}

interface Node extends HostPort {
  id: number;
}

/**
 * Connections to a cluster, starting from the bootstrap servers: metadata, leaders, coordinators,
 * requests with deadlines. One connection per broker is shared by the requests of a command;
 * `dedicatedConnection` gives a separate one (a group member's heartbeats must not queue behind a
 * long-polling fetch).
 */
export class ClusterClient {
  private readonly nodes = new Map<number, Node>();
  private readonly pool = new Map<number, Promise<KafkaConnection>>();
  private readonly extra = new Set<KafkaConnection>();
  private readonly addresses = new WeakMap<KafkaConnection, string>();

  private constructor(
    private readonly bootstrap: KafkaConnection,
    readonly clientId: string,
    readonly requestTimeoutMs: number,
  ) {}

  /** Connects to the first reachable server of `bootstrapServers` (tried in order). */
  static async connect(bootstrapServers: string, options: { clientId: string; requestTimeoutMs?: number }): Promise<ClusterClient> {
    const servers = parseBootstrapServers(bootstrapServers);
    const failures: string[] = [];
    for (const server of servers) {
      try {
        const connection = await KafkaConnection.connect(server.host, server.port, { clientId: options.clientId, timeoutMs: CONNECT_TIMEOUT_MS });
        const client = new ClusterClient(connection, options.clientId, options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
        client.addresses.set(connection, `${server.host}:${server.port}`);
        return client;
      } catch (err) {
        failures.push(`${server.host}:${server.port} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
    }
    throw new BrokerUnreachable(`cannot reach a broker at ${failures.join(', ')}; is penstock running there? (--bootstrap-server)`);
  }

  /** Sends a request at the tools' version of its API; rejects if no answer comes within `timeoutMs`. */
  async call<K extends ToolApi>(connection: KafkaConnection, apiKey: K, body: RequestBodies[K], timeoutMs = this.requestTimeoutMs): Promise<ResponseBodies[K]> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Responses arrive in order, so a connection with a lost answer is unusable: close it.
        connection.close();
        reject(new Error(`${apiName(apiKey)} request to ${this.addressOf(connection)} got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([connection.request<ResponseBodies[K]>(apiKey, VERSIONS[apiKey], body), deadline]);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || (err as NodeJS.ErrnoException).code === 'EPIPE') {
        throw new Error(`${apiName(apiKey)} request to ${this.addressOf(connection)} failed: the broker closed the connection`);
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends a request that gets no answer (Produce with acks=0). */
  send<K extends ToolApi>(connection: KafkaConnection, apiKey: K, body: RequestBodies[K]): void {
    connection.send(apiKey, VERSIONS[apiKey], body);
  }

  /** The connection every command starts with. */
  get bootstrapConnection(): KafkaConnection {
    return this.bootstrap;
  }

  addressOf(connection: KafkaConnection): string {
    return this.addresses.get(connection) ?? `${connection.socket.remoteAddress}:${connection.socket.remotePort}`;
  }

  /** Metadata for `topics` (null: all topics); remembers the brokers it names. */
  async metadata(topics: readonly string[] | null, { allowAutoTopicCreation = false } = {}): Promise<MetadataResponse> {
    const response = await this.call(this.bootstrap, ApiKey.Metadata, {
      topics: topics === null ? null : topics.map((name) => ({ name })),
      allowAutoTopicCreation,
    });
    for (const broker of response.brokers) this.nodes.set(broker.nodeId, { id: broker.nodeId, host: broker.host, port: broker.port });
    return response;
  }

  /**
   * The named topics' partitions and leaders; a topic the broker reports an error for throws a
   * BrokerError naming it. A topic just created may briefly have no leader (Kafka): asked again.
   */
  async topics(names: readonly string[], { allowAutoTopicCreation = false } = {}): Promise<Map<string, TopicInfo>> {
    for (let attempt = 0; ; attempt++) {
      const response = await this.metadata(names, { allowAutoTopicCreation });
      const pending = response.topics.find((t) => t.errorCode === ErrorCode.LEADER_NOT_AVAILABLE);
      if (pending && attempt < 20) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      const out = new Map<string, TopicInfo>();
      for (const topic of response.topics) {
        if (topic.errorCode !== ErrorCode.NONE) throw new BrokerError(topic.errorCode, `topic "${topic.name}"`);
        out.set(topic.name, topicInfo(topic));
      }
      return out;
    }
  }

  /** Every topic, sorted by name. */
  async allTopics(): Promise<TopicInfo[]> {
    const response = await this.metadata(null);
    return response.topics
      .filter((t) => t.errorCode === ErrorCode.NONE)
      .map(topicInfo)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The ids of the brokers in the cluster (from the last Metadata). */
  async brokerIds(): Promise<number[]> {
    if (this.nodes.size === 0) await this.metadata([]);
    return [...this.nodes.keys()].sort((a, b) => a - b);
  }

  /**
   * The shared connection to a broker. With a single broker in the cluster that is the bootstrap
   * connection itself, so a broker whose advertised address differs from the one dialled still works.
   */
  async connectionTo(nodeId: number): Promise<KafkaConnection> {
    if (this.nodes.size === 0) await this.metadata([]);
    if (this.nodes.size === 1 && this.nodes.has(nodeId)) return this.bootstrap;
    let connection = this.pool.get(nodeId);
    if (!connection) {
      connection = this.open(nodeId);
      this.pool.set(nodeId, connection);
    }
    return connection;
  }

  /** A new connection to a broker, closed with the client; for traffic that must not wait behind others. */
  async dedicatedConnection(nodeId: number): Promise<KafkaConnection> {
    const connection = await this.open(nodeId);
    this.extra.add(connection);
    return connection;
  }

  private async open(nodeId: number): Promise<KafkaConnection> {
    if (!this.nodes.has(nodeId)) await this.metadata([]);
    const node = this.nodes.get(nodeId);
    if (!node) throw new Error(`broker ${nodeId} is not in the cluster's metadata`);
    try {
      const connection = await KafkaConnection.connect(node.host, node.port, { clientId: this.clientId, timeoutMs: CONNECT_TIMEOUT_MS });
      this.addresses.set(connection, `${node.host}:${node.port}`);
      return connection;
    } catch (err) {
      throw new BrokerUnreachable(`cannot reach broker ${nodeId} at ${node.host}:${node.port} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }

  /** The node coordinating `groupId` (FindCoordinator), waiting while the coordinator loads. */
  async findCoordinator(groupId: string): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const response = await this.call(this.bootstrap, ApiKey.FindCoordinator, { key: groupId, keyType: 0 });
      const retriable = response.errorCode === ErrorCode.COORDINATOR_NOT_AVAILABLE || response.errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
      if (retriable && attempt < 50) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      if (response.errorCode !== ErrorCode.NONE) throw new BrokerError(response.errorCode, `group "${groupId}"`, response.errorMessage);
      this.nodes.set(response.nodeId, { id: response.nodeId, host: response.host, port: response.port });
      return response.nodeId;
    }
  }

  /**
   * ListOffsets for each partition at `timestamp` (LATEST_OFFSET: the high watermark, EARLIEST_OFFSET:
   * the log start offset), asked of each partition's leader. Keys are `tpKey(topic, partition)`.
   */
  async listOffsets(partitions: readonly (TopicPartition & { leader: number })[], timestamp: number): Promise<Map<string, number>> {
    const byLeader = new Map<number, (TopicPartition & { leader: number })[]>();
    for (const p of partitions) byLeader.set(p.leader, [...(byLeader.get(p.leader) ?? []), p]);
    const out = new Map<string, number>();
    await Promise.all(
      [...byLeader].map(async ([leader, list]) => {
        const topics = new Map<string, number[]>();
        for (const p of list) topics.set(p.topic, [...(topics.get(p.topic) ?? []), p.partition]);
        const response = await this.call(await this.connectionTo(leader), ApiKey.ListOffsets, {
          replicaId: -1,
          isolationLevel: 0,
          topics: [...topics].map(([name, indexes]) => ({
            name,
            partitions: indexes.map((partitionIndex) => ({ partitionIndex, timestamp })),
          })),
        });
        for (const topic of response.topics) {
          for (const p of topic.partitions) {
            if (p.errorCode !== ErrorCode.NONE) throw new BrokerError(p.errorCode, `partition ${topic.name}-${p.partitionIndex}`);
            out.set(tpKey(topic.name, p.partitionIndex), p.offset);
          }
        }
      }),
    );
    return out;
  }

  close(): void {
    this.bootstrap.close();
    for (const connection of this.pool.values()) connection.then((c) => c.close(), () => {});
    for (const connection of this.extra) connection.close();
  }
}

function topicInfo(topic: MetadataResponse['topics'][number]): TopicInfo {
  return {
    name: topic.name ?? '',
    internal: topic.isInternal,
    partitions: topic.partitions
      .map((p) => ({ partition: p.partitionIndex, leader: p.leaderId }))
      .sort((a, b) => a.partition - b.partition),
  };
}

/** Opens a client from a command's `--bootstrap-server`, runs `body`, and always closes it. */
export async function withClient<T>(bootstrapServers: string | undefined, clientId: string, body: (client: ClusterClient) => Promise<T>): Promise<T> {
  const client = await ClusterClient.connect(bootstrapServers ?? DEFAULT_BOOTSTRAP_SERVER, { clientId });
  try {
    return await body(client);
  } finally {
    client.close();
  }
}

/** The `--bootstrap-server` line of every command's --help. */
export const BOOTSTRAP_HELP = `  --bootstrap-server HOST:PORT  the broker to talk to (default ${DEFAULT_BOOTSTRAP_SERVER}; a comma-separated
                                list is tried in order)`;
