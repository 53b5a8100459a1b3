/**
 * Every setting penstock has, under Kafka's name and with Kafka's default (or a stated reason to differ).
 * Broker settings are `server.properties` keys; topic settings are the per-topic keys Kafka uses in
 * CreateTopics and DescribeConfigs, each with the broker key that supplies its default.
 */

export type ConfigType = 'int' | 'long' | 'boolean' | 'string' | 'list';

export interface ConfigDef {
  readonly name: string;
  readonly type: ConfigType;
  readonly default: number | boolean | string;
  readonly doc: string;
  /** Smallest accepted value for numbers. */
  readonly min?: number;
  /** Accepted values for strings. */
  readonly oneOf?: readonly string[];
}

const HOUR_MS = 3_600_000;
const LONG_MAX = Number.MAX_SAFE_INTEGER; // Kafka's Long.MAX_VALUE, as far as a JS number reaches

export const BROKER_CONFIG_DEFS = [
  { name: 'node.id', type: 'int', default: 0, min: 0, doc: 'The id of this broker, as clients see it in Metadata.' },
  { name: 'listeners', type: 'string', default: 'PLAINTEXT://127.0.0.1:9092', doc: 'Where to listen. Unlike Kafka (all interfaces), penstock defaults to loopback.' },
  { name: 'advertised.listeners', type: 'string', default: '', doc: 'The address given to clients in Metadata; empty means the bound listener.' },
  { name: 'log.dirs', type: 'string', default: './penstock-data', doc: 'The data directory (one directory; Kafka accepts a list).' },
  { name: 'num.partitions', type: 'int', default: 1, min: 1, doc: 'Partitions of an auto-created topic, and of CreateTopics with -1.' },
  { name: 'default.replication.factor', type: 'int', default: 1, min: 1, doc: 'Only 1 is possible on one broker.' },
  { name: 'auto.create.topics.enable', type: 'boolean', default: true, doc: 'Create a topic when Metadata or Produce names one that does not exist.' },
  { name: 'delete.topic.enable', type: 'boolean', default: true, doc: 'Allow DeleteTopics.' },
  { name: 'log.segment.bytes', type: 'int', default: 1_073_741_824, min: 14, doc: 'Roll the active segment when it would grow past this size.' },
  { name: 'log.roll.ms', type: 'long', default: 7 * 24 * HOUR_MS, min: 1, doc: 'Roll the active segment once its first batch is this old (log.roll.hours = 168).' },
  { name: 'log.retention.ms', type: 'long', default: 7 * 24 * HOUR_MS, min: -1, doc: 'Delete segments whose newest record is older than this; -1 keeps forever (log.retention.hours = 168).' },
  { name: 'log.retention.bytes', type: 'long', default: -1, min: -1, doc: 'Delete the oldest segments while a partition is larger than this; -1 means no limit.' },
  { name: 'log.retention.check.interval.ms', type: 'long', default: 300_000, min: 1, doc: 'How often retention runs.' },
  { name: 'log.index.interval.bytes', type: 'int', default: 4096, min: 0, doc: 'Bytes appended between two offset-index entries.' },
  { name: 'log.index.size.max.bytes', type: 'int', default: 10_485_760, min: 12, doc: 'Largest index file; a full index rolls the segment.' },
  { name: 'log.flush.interval.messages', type: 'long', default: LONG_MAX, min: 1, doc: 'fdatasync after this many records; 1 means fsync before every acknowledgement (group commit).' },
  { name: 'log.flush.interval.ms', type: 'long', default: LONG_MAX, min: 0, doc: 'fdatasync a partition once unflushed data is this old.' },
  { name: 'log.flush.scheduler.interval.ms', type: 'long', default: LONG_MAX, min: 1, doc: 'How often the periodic flush checks partitions.' },
  { name: 'log.flush.offset.checkpoint.interval.ms', type: 'int', default: 60_000, min: 1, doc: 'How often the recovery point is checkpointed.' },
  { name: 'log.flush.start.offset.checkpoint.interval.ms', type: 'int', default: 60_000, min: 1, doc: 'How often the log start offset is checkpointed.' },
  { name: 'file.delete.delay.ms', type: 'long', default: 60_000, min: 0, doc: 'Delay before a deleted segment file is removed from disk.' },
  { name: 'log.message.timestamp.type', type: 'string', default: 'CreateTime', oneOf: ['CreateTime', 'LogAppendTime'], doc: 'Which timestamp a batch keeps.' },
  { name: 'log.cleanup.policy', type: 'string', default: 'delete', oneOf: ['delete', 'compact', 'compact,delete', 'delete,compact'], doc: 'What happens to old segments.' },
  { name: 'compression.type', type: 'string', default: 'producer', oneOf: ['producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd'], doc: 'Batches are stored as the producer compressed them.' },
  { name: 'message.max.bytes', type: 'int', default: 1_048_588, min: 0, doc: 'Largest record batch accepted (max.message.bytes per topic).' },
  { name: 'socket.request.max.bytes', type: 'int', default: 104_857_600, min: 1, doc: 'Largest request frame; a larger one closes the connection.' },
  { name: 'max.connections', type: 'int', default: 2_147_483_647, min: 0, doc: 'Connections accepted at once; more are closed on accept.' },
  { name: 'connections.max.idle.ms', type: 'long', default: 600_000, min: -1, doc: 'Close a connection idle this long; -1 never.' },
  { name: 'queued.max.request.bytes', type: 'long', default: -1, min: -1, doc: 'Unused: per-connection back-pressure bounds what is buffered.' },
  { name: 'fetch.max.bytes', type: 'int', default: 57_671_680, min: 1024, doc: 'Cap on a fetch response, whatever the client asks.' },
  { name: 'group.initial.rebalance.delay.ms', type: 'int', default: 3000, min: 0, doc: 'How long the first rebalance of an empty group waits for more members.' },
  { name: 'group.min.session.timeout.ms', type: 'int', default: 6000, min: 0, doc: 'Smallest session timeout a member may ask for.' },
  { name: 'group.max.session.timeout.ms', type: 'int', default: 1_800_000, min: 0, doc: 'Largest session timeout a member may ask for.' },
  { name: 'offsets.topic.num.partitions', type: 'int', default: 50, min: 1, doc: 'Partitions of __consumer_offsets.' },
  { name: 'offsets.topic.segment.bytes', type: 'int', default: 104_857_600, min: 14, doc: 'Segment size of __consumer_offsets.' },
  { name: 'offsets.retention.minutes', type: 'int', default: 10_080, min: 1, doc: 'Committed offsets of an empty group expire after this long.' },
  { name: 'offset.metadata.max.bytes', type: 'int', default: 4096, min: 0, doc: 'Largest metadata string of a committed offset.' },
] as const satisfies readonly ConfigDef[];

type DefName<D> = D extends { name: infer N } ? N : never;
type DefValue<D> = D extends { type: 'boolean' } ? boolean : D extends { type: 'string' | 'list' } ? string : number;
type ConfigOf<Defs extends readonly ConfigDef[]> = {
  -readonly [D in Defs[number] as DefName<D> & string]: DefValue<D>;
};

export type BrokerConfig = ConfigOf<typeof BROKER_CONFIG_DEFS>;
export type BrokerConfigKey = keyof BrokerConfig;

/** Per-topic settings (Kafka's topic-level names) and the broker setting that gives each its default. */
export const TOPIC_CONFIG_DEFAULTS = {
  'segment.bytes': 'log.segment.bytes',
  'segment.ms': 'log.roll.ms',
  'retention.ms': 'log.retention.ms',
  'retention.bytes': 'log.retention.bytes',
  'index.interval.bytes': 'log.index.interval.bytes',
  'segment.index.bytes': 'log.index.size.max.bytes',
  'flush.messages': 'log.flush.interval.messages',
  'flush.ms': 'log.flush.interval.ms',
  'file.delete.delay.ms': 'file.delete.delay.ms',
  'max.message.bytes': 'message.max.bytes',
  'message.timestamp.type': 'log.message.timestamp.type',
  'cleanup.policy': 'log.cleanup.policy',
  'compression.type': 'compression.type',
} as const satisfies Record<string, BrokerConfigKey>;

export type TopicConfigKey = keyof typeof TOPIC_CONFIG_DEFAULTS;
export type TopicConfig = { [K in TopicConfigKey]: BrokerConfig[(typeof TOPIC_CONFIG_DEFAULTS)[K]] };

const BROKER_DEFS_BY_NAME = new Map<string, ConfigDef>(BROKER_CONFIG_DEFS.map((d) => [d.name, d]));

/** Thrown for an unknown key or a value that does not parse; says which key and why. */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`config ${key}: ${reason}`);
    this.name = 'ConfigError';
  }
}

/** Broker settings that Kafka spells in more than one unit; each maps to the one penstock keeps. */
const UNIT_ALIASES: Record<string, { key: BrokerConfigKey; factor: number }> = {
  'log.retention.hours': { key: 'log.retention.ms', factor: HOUR_MS },
  'log.retention.minutes': { key: 'log.retention.ms', factor: 60_000 },
  'log.roll.hours': { key: 'log.roll.ms', factor: HOUR_MS },
  'log.dir': { key: 'log.dirs', factor: 1 },
};

export function parseConfigValue(def: ConfigDef, raw: string | number | boolean): number | boolean | string {
  const text = String(raw).trim();
  switch (def.type) {
    case 'boolean':
      if (text === 'true') return true;
      if (text === 'false') return false;
      throw new ConfigError(def.name, `expected true or false, got "${text}"`);
    case 'int':
    case 'long': {
      if (!/^-?\d+$/.test(text)) throw new ConfigError(def.name, `expected an integer, got "${text}"`);
      let value = Number(text);
      if (!Number.isSafeInteger(value)) value = text.startsWith('-') ? -LONG_MAX : LONG_MAX;
      if (def.type === 'int' && (value > 2_147_483_647 || value < -2_147_483_648)) {
        throw new ConfigError(def.name, `${text} does not fit a 32-bit integer`);
      }
      if (def.min !== undefined && value < def.min) throw new ConfigError(def.name, `${value} is below the minimum ${def.min}`);
      return value;
    }
    case 'string':
    case 'list':
      if (def.oneOf && !def.oneOf.includes(text)) {
        throw new ConfigError(def.name, `"${text}" is not one of ${def.oneOf.join(', ')}`);
      }
      return text;
  }
}

export type ConfigSource = 'default' | 'file' | 'env' | 'flag';

export interface ResolvedConfig {
  config: BrokerConfig;
  /** Where each key's effective value came from. */
  sources: Record<BrokerConfigKey, ConfigSource>;
}

export function defaultBrokerConfig(): BrokerConfig {
  const config: Record<string, unknown> = {};
  for (const def of BROKER_CONFIG_DEFS) config[def.name] = def.default;
  return config as BrokerConfig;
}

/**
 * Applies layers of raw `key=value` settings over the defaults, later layers winning.
 * Unknown keys and bad values throw ConfigError with the key and the reason.
 */
export function resolveBrokerConfig(layers: readonly { source: ConfigSource; values: Record<string, string | number | boolean> }[]): ResolvedConfig {
  const config = defaultBrokerConfig() as Record<string, unknown>;
  const sources = Object.fromEntries(BROKER_CONFIG_DEFS.map((d) => [d.name, 'default'])) as Record<BrokerConfigKey, ConfigSource>;
  for (const layer of layers) {
    for (const [rawKey, rawValue] of Object.entries(layer.values)) {
      const alias = UNIT_ALIASES[rawKey];
      const key = alias ? alias.key : rawKey;
      const def = BROKER_DEFS_BY_NAME.get(key);
      if (!def) throw new ConfigError(rawKey, 'unknown setting');
      let value = parseConfigValue(alias ? { ...def, name: rawKey } : def, rawValue);
      if (alias && typeof value === 'number' && value > 0) value *= alias.factor;
      config[key] = value;
      sources[key as BrokerConfigKey] = layer.source;
    }
  }
  return { config: config as BrokerConfig, sources };
}

/** A broker config from defaults plus overrides, for programs and tests. */
export function brokerConfig(overrides: Partial<Record<string, string | number | boolean>> = {}): BrokerConfig {
  return resolveBrokerConfig([{ source: 'flag', values: overrides as Record<string, string | number | boolean> }]).config;
}

/** The topic settings implied by the broker's defaults. */
export function topicDefaults(broker: BrokerConfig): TopicConfig {
  const out: Record<string, unknown> = {};
  for (const [topicKey, brokerKey] of Object.entries(TOPIC_CONFIG_DEFAULTS)) out[topicKey] = broker[brokerKey];
  return out as TopicConfig;
}

/**
 * A topic's effective settings: broker defaults overlaid with the topic's own overrides (Kafka's
 * topic-level names). Unknown keys and bad values throw ConfigError.
 */
export function resolveTopicConfig(broker: BrokerConfig, overrides: Record<string, string | number | boolean>): TopicConfig {
  const out = topicDefaults(broker) as Record<string, unknown>;
  for (const [key, raw] of Object.entries(overrides)) {
    const brokerKey = (TOPIC_CONFIG_DEFAULTS as Record<string, BrokerConfigKey>)[key];
    if (!brokerKey) throw new ConfigError(key, 'unknown topic setting');
    const def = BROKER_DEFS_BY_NAME.get(brokerKey)!;
    out[key] = parseConfigValue({ ...def, name: key }, raw);
  }
  return out as TopicConfig;
}

/** Parses Kafka's `.properties` text: `key=value` or `key: value` lines, `#`/`!` comments. */
export function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const match = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (!match) throw new ConfigError(line, 'not a key=value line');
    out[match[1]!] = match[2]!;
  }
  return out;
}

/** Parses a listener such as `PLAINTEXT://127.0.0.1:9092` (or `host:port`) into host and port. */
export function parseListener(listener: string): { host: string; port: number } {
  const first = listener.split(',')[0]!.trim();
  const match = /^(?:[A-Za-z_]+:\/\/)?(\[[^\]]*\]|[^:]*):(\d+)$/.exec(first);
  if (!match) throw new ConfigError('listeners', `"${listener}" is not of the form PLAINTEXT://host:port`);
  const host = match[1]!.replace(/^\[|\]$/g, '');
  return { host: host === '' ? '0.0.0.0' : host, port: Number(match[2]) };
}
