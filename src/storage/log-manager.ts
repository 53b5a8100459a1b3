/**
 * LogManager: the data directory (KAFKA-NOTES §1.1) — its identity (`meta.properties`), the topics and
 * their partition logs, checkpoints, retention, and the clean-shutdown marker that lets the next start
 * skip recovery.
 *
 * Topic metadata (id, partition count, internal flag, config overrides) lives in one file,
 * `penstock-topics.json`, replaced atomically on every change. It is a file and not a directory because
 * Kafka's loader refuses any directory of a log dir that is not named `<topic>-<partition>`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, parseProperties, resolveTopicConfig, type BrokerConfig, type TopicConfig } from '../config.js';
import { defaultIo } from '../io/select.js';
import type { Io } from '../io/types.js';
import { log } from '../logger.js';
import { KafkaError } from '../protocol/error-codes.js';
import {
  CheckpointFormatError,
  fsyncDirectory,
  readOffsetCheckpoint,
  writeFileAtomic,
  writeFileAtomicSync,
  writeOffsetCheckpoint,
  type OffsetCheckpointEntry,
} from './checkpoint.js';
import { PartitionLog } from './partition-log.js';

export const META_PROPERTIES_FILE = 'meta.properties';
export const CLEAN_SHUTDOWN_FILE = '.kafka_cleanshutdown';
export const RECOVERY_POINT_CHECKPOINT_FILE = 'recovery-point-offset-checkpoint';
export const LOG_START_OFFSET_CHECKPOINT_FILE = 'log-start-offset-checkpoint';
export const TOPICS_FILE = 'penstock-topics.json';
export const PARTITION_METADATA_FILE = 'partition.metadata';
export const DELETE_DIR_SUFFIX = '-delete';
export const STRAY_DIR_SUFFIX = '-stray';

/** Kafka's internal topics: hidden from auto-creation and flagged IsInternal in Metadata. */
export const INTERNAL_TOPIC_NAMES: ReadonlySet<string> = new Set(['__consumer_offsets', '__transaction_state']);
export const MAX_TOPIC_NAME_LENGTH = 249;
/** penstock's own bound (Kafka has none): one request must not be able to create millions of directories. */
export const MAX_PARTITIONS_PER_TOPIC = 10_000;
const TOPICS_FILE_VERSION = 1;

export interface Topic {
  readonly name: string;
  /** Kafka's Uuid.toString(): the 16 bytes in unpadded base64url (22 characters). */
  readonly topicId: string;
  readonly topicIdBytes: Buffer;
  readonly internal: boolean;
  partitions: PartitionLog[];
  config: TopicConfig;
  /** The topic-level settings given at creation or by alterTopicConfig, by Kafka's names. */
  overrides: Record<string, string>;
}

interface TopicRecord {
  topicId: string;
  partitions: number;
  internal: boolean;
  configs: Record<string, string>;
}

interface TopicsFile {
  version: number;
  topics: Record<string, TopicRecord>;
}

interface PendingRemoval {
  done: Promise<void>;
  runNow(): void;
}

export interface LogManagerOptions {
  dataDir: string;
  config: BrokerConfig;
  io?: Io;
}

/** Kafka's topic name rules (Topic.validate); throws INVALID_TOPIC_EXCEPTION. */
export function validateTopicName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new KafkaError('INVALID_TOPIC_EXCEPTION', 'topic name is illegal, it cannot be empty', { topic: name });
  if (name === '.' || name === '..') throw new KafkaError('INVALID_TOPIC_EXCEPTION', 'topic name cannot be "." or ".."', { topic: name });
  if (name.length > MAX_TOPIC_NAME_LENGTH) {
    throw new KafkaError('INVALID_TOPIC_EXCEPTION', `topic name is illegal, it cannot be longer than ${MAX_TOPIC_NAME_LENGTH} characters`, { topic: name });
  }
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) {
    throw new KafkaError('INVALID_TOPIC_EXCEPTION', `topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`, {
      topic: name,
    });
  }
}

/** '.' and '_' collide in metric names, so Kafka refuses a topic differing from another only by them. */
function collisionKey(name: string): string {
  return name.replace(/\./g, '_');
}

/** A random Kafka Uuid: v4, never all-zero, never the metadata topic's id, never base64 starting with '-'. */
export function randomKafkaUuid(): Buffer {
  for (;;) {
    const bytes = crypto.randomBytes(16);
    bytes[6] = (bytes[6]! & 0x0f) | 0x40;
    bytes[8] = (bytes[8]! & 0x3f) | 0x80;
    const text = bytes.toString('base64url');
    if (!text.startsWith('-')) return bytes;
  }
}

export function uuidToString(bytes: Buffer): string {
  return bytes.toString('base64url');
}

export function uuidFromString(text: string): Buffer {
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.length !== 16 || bytes.toString('base64url') !== text) throw new Error(`"${text}" is not a Kafka Uuid`);
  return bytes;
}

/** `<topic>-<partition>` split on the last '-', as Kafka's LocalLog.parseTopicPartitionName. */
export function parsePartitionDirName(name: string): { topic: string; partition: number } | null {
  const dash = name.lastIndexOf('-');
  if (dash <= 0) return null;
  const topic = name.slice(0, dash);
  const digits = name.slice(dash + 1);
  if (!/^\d+$/.test(digits)) return null;
  try {
    validateTopicName(topic);
  } catch {
    return null;
  }
  const partition = Number(digits);
  return Number.isSafeInteger(partition) ? { topic, partition } : null;
}

/** Kafka's `<topic>-<p>.<uuid without dashes><suffix>`, shortened to fit a 255-byte file name. */
function transitionalDirName(topic: string, partition: number, suffix: string): string {
  const tail = `.${crypto.randomUUID().replace(/-/g, '')}${suffix}`;
  return `${topic}-${partition}`.slice(0, 255 - tail.length) + tail;
}

function checkpointKey(topic: string, partition: number): string {
  return `${topic} ${partition}`;
}

function readCheckpointMap(file: string): Map<string, number> {
  const map = new Map<string, number>();
  let entries: OffsetCheckpointEntry[] | null;
  try {
    entries = readOffsetCheckpoint(file);
  } catch (err) {
    // Kafka logs and starts from an empty map: recovery then scans from the start, which is safe.
    log.warn({ file, err: err instanceof CheckpointFormatError ? err.message : err }, 'ignoring unreadable checkpoint');
    return map;
  }
  for (const e of entries ?? []) map.set(checkpointKey(e.topic, e.partition), e.offset);
  return map;
}

function stringOverrides(overrides: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined || value === null) continue;
    out[key] = String(value);
  }
  return out;
}

export class LogManager {
  readonly dataDir: string;
  readonly clusterId: string;
  readonly nodeId: number;
  readonly directoryId: string;
  readonly io: Io;
  readonly config: BrokerConfig;
  /** Whether this start found the clean-shutdown marker (and so skipped recovery). */
  readonly cleanStart: boolean;

  private readonly topics = new Map<string, Topic>();
  private readonly records = new Map<string, TopicRecord>();
  /** Topic operations run one at a time: each rewrites the topics file. */
  private metadataChain: Promise<unknown> = Promise.resolve();
  private checkpointChain: Promise<void> = Promise.resolve();
  private readonly pendingRemovals = new Set<PendingRemoval>();
  private readonly timers: NodeJS.Timeout[] = [];
  private closing: Promise<void> | null = null;

  private constructor(options: LogManagerOptions, meta: { clusterId: string; nodeId: number; directoryId: string }, cleanStart: boolean) {
    this.dataDir = options.dataDir;
    this.config = options.config;
    this.io = options.io ?? defaultIo();
    this.clusterId = meta.clusterId;
    this.nodeId = meta.nodeId;
    this.directoryId = meta.directoryId;
    this.cleanStart = cleanStart;
  }

  /**
   * Opens (creating if needed) the data directory and loads every partition: without a scan after a
   * clean shutdown, with recovery from the checkpointed recovery points otherwise.
   */
  static async open(options: LogManagerOptions): Promise<LogManager> {
    const dataDir = path.resolve(options.dataDir);
    await fsp.mkdir(dataDir, { recursive: true });
    const meta = loadMetaProperties(dataDir, options.config['node.id']);
    const marker = path.join(dataDir, CLEAN_SHUTDOWN_FILE);
    const clean = fs.existsSync(marker);
    if (clean) {
      // Deleted before loading, so a crash while loading counts as unclean (KAFKA-10471).
      fs.unlinkSync(marker);
      await fsyncDirectory(dataDir);
    }
    const manager = new LogManager({ ...options, dataDir }, meta, clean);
    manager.loadTopics(clean);
    manager.startTimers();
    log.info({ dataDir, clusterId: meta.clusterId, topics: manager.topics.size, cleanShutdown: clean }, 'log manager opened');
    return manager;
  }

  private topicsFilePath(): string {
    return path.join(this.dataDir, TOPICS_FILE);
  }

  private partitionDir(topic: string, partition: number): string {
    return path.join(this.dataDir, `${topic}-${partition}`);
  }

  private loadTopics(clean: boolean): void {
    const recoveryPoints = readCheckpointMap(path.join(this.dataDir, RECOVERY_POINT_CHECKPOINT_FILE));
    const logStarts = readCheckpointMap(path.join(this.dataDir, LOG_START_OFFSET_CHECKPOINT_FILE));
    const stored = this.readTopicsFile();

    const found = new Map<string, Set<number>>();
    for (const entry of fs.readdirSync(this.dataDir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const name = entry.name;
      if (name.endsWith(DELETE_DIR_SUFFIX)) {
        fs.rmSync(path.join(this.dataDir, name), { recursive: true, force: true });
        continue;
      }
      if (name.endsWith(STRAY_DIR_SUFFIX) || name.endsWith('-future')) continue;
      const parsed = parsePartitionDirName(name);
      if (!parsed) {
        log.warn({ dir: name }, 'ignoring a directory that is not <topic>-<partition>');
        continue;
      }
      if (!found.has(parsed.topic)) found.set(parsed.topic, new Set());
      found.get(parsed.topic)!.add(parsed.partition);
    }

    if (stored === null) {
      // No topics file (a new data dir, or Kafka's own logs copied in): adopt what the directories show.
      for (const [topic, partitions] of found) {
        const count = Math.max(...partitions) + 1;
        const id = this.readPartitionTopicId(topic, 0) ?? uuidToString(randomKafkaUuid());
        this.records.set(topic, { topicId: id, partitions: count, internal: INTERNAL_TOPIC_NAMES.has(topic), configs: {} });
      }
      if (found.size > 0) writeFileAtomicSync(this.topicsFilePath(), this.formatTopicsFile());
    } else {
      for (const [name, record] of Object.entries(stored.topics)) this.records.set(name, record);
      for (const [topic, partitions] of found) {
        const record = this.records.get(topic);
        for (const p of partitions) {
          if (!record || p >= record.partitions) this.moveToStray(topic, p, 'no such topic-partition in the topics file');
        }
      }
    }

    for (const [name, record] of this.records) {
      let config: TopicConfig;
      try {
        config = resolveTopicConfig(this.config, record.configs);
      } catch (err) {
        log.error({ topic: name, err }, 'stored topic config is invalid; using broker defaults');
        config = resolveTopicConfig(this.config, {});
      }
      const partitions: PartitionLog[] = [];
      for (let p = 0; p < record.partitions; p++) {
        const key = checkpointKey(name, p);
        partitions.push(
          this.openPartition(name, p, record.topicId, config, {
            recoveryPoint: recoveryPoints.get(key),
            logStartOffset: logStarts.get(key),
            cleanShutdown: clean,
          }),
        );
      }
      this.topics.set(name, this.makeTopic(name, record, partitions, config));
    }
  }

  private makeTopic(name: string, record: TopicRecord, partitions: PartitionLog[], config: TopicConfig): Topic {
    return {
      name,
      topicId: record.topicId,
      topicIdBytes: uuidFromString(record.topicId),
      internal: record.internal,
      partitions,
      config,
      overrides: { ...record.configs },
    };
  }

  private readPartitionTopicId(topic: string, partition: number): string | null {
    try {
      const text = fs.readFileSync(path.join(this.partitionDir(topic, partition), PARTITION_METADATA_FILE), 'utf8');
      const match = /^topic_id:\s*(\S+)\s*$/m.exec(text);
      return match ? match[1]! : null;
    } catch {
      return null;
    }
  }

  /** Opens one partition's log, first making sure its directory belongs to this topic id. */
  private openPartition(
    topic: string,
    partition: number,
    topicId: string,
    config: TopicConfig,
    load: { recoveryPoint?: number; logStartOffset?: number; cleanShutdown: boolean },
    fresh = false,
  ): PartitionLog {
    const dir = this.partitionDir(topic, partition);
    const existing = fs.existsSync(dir);
    if (existing && fresh) {
      // A new partition never adopts bytes that were there before it.
      this.moveToStray(topic, partition, 'directory existed before the partition was created');
    } else if (existing) {
      const id = this.readPartitionTopicId(topic, partition);
      if (id !== null && id !== topicId) {
        // The directory belongs to another incarnation of the topic (Kafka refuses it too): set it aside.
        this.moveToStray(topic, partition, `partition.metadata has topic id ${id}, expected ${topicId}`);
      }
    }
    fs.mkdirSync(dir, { recursive: true });
    const metadataFile = path.join(dir, PARTITION_METADATA_FILE);
    if (!fs.existsSync(metadataFile)) writeFileAtomicSync(metadataFile, `version: 0\ntopic_id: ${topicId}\n`);
    return PartitionLog.open({ topic, partition, dir, config, io: this.io, ...load });
  }

  private moveToStray(topic: string, partition: number, reason: string): void {
    const target = transitionalDirName(topic, partition, STRAY_DIR_SUFFIX);
    log.warn({ topic, partition, reason, movedTo: target }, 'setting aside a stray partition directory');
    fs.renameSync(this.partitionDir(topic, partition), path.join(this.dataDir, target));
  }

  private readTopicsFile(): TopicsFile | null {
    let text: string;
    try {
      text = fs.readFileSync(this.topicsFilePath(), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    let parsed: TopicsFile;
    try {
      parsed = JSON.parse(text) as TopicsFile;
    } catch (err) {
      throw new KafkaError('KAFKA_STORAGE_ERROR', `${this.topicsFilePath()} is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
    if (parsed.version !== TOPICS_FILE_VERSION || typeof parsed.topics !== 'object' || parsed.topics === null) {
      throw new KafkaError('KAFKA_STORAGE_ERROR', `${this.topicsFilePath()} has an unsupported format (version ${parsed.version})`);
    }
    return parsed;
  }

  private formatTopicsFile(): string {
    const topics: Record<string, TopicRecord> = {};
    for (const name of [...this.records.keys()].sort()) topics[name] = this.records.get(name)!;
    return JSON.stringify({ version: TOPICS_FILE_VERSION, topics } satisfies TopicsFile, null, 2) + '\n';
  }

  private async persistTopics(): Promise<void> {
    try {
      await writeFileAtomic(this.topicsFilePath(), this.formatTopicsFile());
    } catch (err) {
      throw new KafkaError('KAFKA_STORAGE_ERROR', `writing ${TOPICS_FILE} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Runs topic operations one at a time, in call order. */
  private serial<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.metadataChain.then(operation, operation);
    this.metadataChain = result.catch(() => undefined);
    return result;
  }

  private startTimers(): void {
    const retention = setInterval(() => this.runRetention(), this.config['log.retention.check.interval.ms']);
    const checkpointEvery = Math.min(this.config['log.flush.offset.checkpoint.interval.ms'], this.config['log.flush.start.offset.checkpoint.interval.ms']);
    const checkpoint = setInterval(() => {
      this.checkpoint().catch((err) => log.error({ err }, 'writing checkpoints failed'));
    }, checkpointEvery);
    for (const timer of [retention, checkpoint]) {
      timer.unref();
      this.timers.push(timer);
    }
  }

  // ---- lookups ----

  topicNames(): string[] {
    return [...this.topics.keys()];
  }

  getTopic(name: string): Topic | undefined {
    return this.topics.get(name);
  }

  partition(topic: string, index: number): PartitionLog | undefined {
    return this.topics.get(topic)?.partitions[index];
  }

  /** Whether `name` is (or would be) an internal topic, existing or not. */
  isInternal(name: string): boolean {
    return this.topics.get(name)?.internal ?? INTERNAL_TOPIC_NAMES.has(name);
  }

  // ---- topic operations ----

  /**
   * Creates a topic: `partitions` -1 means num.partitions. The topics file is written before the
   * directories, so a crash in between leaves a topic whose missing partitions are created at the next
   * start. With validateOnly nothing is written and the returned topic has no partitions.
   */
  createTopic(
    name: string,
    partitions: number,
    overrides: Record<string, string> = {},
    options: { validateOnly?: boolean; internal?: boolean } = {},
  ): Promise<Topic> {
    return this.serial(async () => {
      if (this.closing) throw new KafkaError('KAFKA_STORAGE_ERROR', 'log manager is closing');
      validateTopicName(name);
      const internal = options.internal ?? false;
      if (!internal && INTERNAL_TOPIC_NAMES.has(name)) {
        throw new KafkaError('INVALID_TOPIC_EXCEPTION', `${name} is reserved for the broker's internal use`, { topic: name });
      }
      if (this.topics.has(name)) throw new KafkaError('TOPIC_ALREADY_EXISTS', `topic ${name} already exists`, { topic: name });
      const key = collisionKey(name);
      for (const existing of this.topics.keys()) {
        if (collisionKey(existing) === key) {
          throw new KafkaError('INVALID_TOPIC_EXCEPTION', `topic ${name} collides with existing topic ${existing} ('.' and '_' are interchangeable)`, { topic: name });
        }
      }
      const count = partitions === -1 ? this.config['num.partitions'] : partitions;
      this.checkPartitionCount(name, count);
      const configs = stringOverrides(overrides);
      const config = this.resolveConfig(name, configs);
      const idBytes = randomKafkaUuid();
      const record: TopicRecord = { topicId: uuidToString(idBytes), partitions: count, internal, configs };
      if (options.validateOnly) return this.makeTopic(name, record, [], config);

      this.records.set(name, record);
      try {
        await this.persistTopics();
      } catch (err) {
        this.records.delete(name);
        throw err;
      }
      const logs = await this.openNewPartitions(name, record, config, 0, count);
      await fsyncDirectory(this.dataDir);
      const topic = this.makeTopic(name, record, logs, config);
      this.topics.set(name, topic);
      log.info({ topic: name, partitions: count, overrides: configs }, 'created topic');
      return topic;
    });
  }

  private checkPartitionCount(topic: string, count: number): void {
    if (!Number.isInteger(count) || count < 1) {
      throw new KafkaError('INVALID_PARTITIONS', `number of partitions must be at least 1, got ${count}`, { topic });
    }
    if (count > MAX_PARTITIONS_PER_TOPIC) {
      throw new KafkaError('INVALID_PARTITIONS', `number of partitions ${count} exceeds penstock's limit of ${MAX_PARTITIONS_PER_TOPIC}`, { topic });
    }
  }

  private resolveConfig(topic: string, configs: Record<string, string>): TopicConfig {
    try {
      return resolveTopicConfig(this.config, configs);
    } catch (err) {
      if (err instanceof ConfigError) throw new KafkaError('INVALID_CONFIG', err.message, { topic, key: err.key });
      throw err;
    }
  }

  /**
   * Creates the partitions' directories and first segments. Each costs a few file creations and fsyncs
   * (milliseconds on a real disk), so the broker serves other requests between partitions: a request
   * for thousands of them must not stop every client for seconds.
   */
  private async openNewPartitions(name: string, record: TopicRecord, config: TopicConfig, from: number, to: number): Promise<PartitionLog[]> {
    const logs: PartitionLog[] = [];
    try {
      for (let p = from; p < to; p++) {
        logs.push(this.openPartition(name, p, record.topicId, config, { cleanShutdown: false }, true));
        if (p + 1 < to) await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      for (const opened of logs) void opened.close().catch(() => undefined);
      throw new KafkaError('KAFKA_STORAGE_ERROR', `creating partitions of ${name} failed: ${(err as Error).message}`, { topic: name, cause: err });
    }
    return logs;
  }

  /**
   * Deletes a topic: it disappears from the topics file first, then each partition log is closed and its
   * directory renamed to Kafka's `<topic>-<p>.<uuid>-delete`, removed after file.delete.delay.ms.
   * Regions being sent keep their fds until released.
   */
  deleteTopic(name: string): Promise<void> {
    return this.serial(async () => {
      const topic = this.topics.get(name);
      if (!topic) throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `unknown topic ${name}`, { topic: name });
      if (!this.config['delete.topic.enable']) throw new KafkaError('TOPIC_DELETION_DISABLED', 'topic deletion is disabled (delete.topic.enable=false)', { topic: name });
      const record = this.records.get(name)!;
      this.records.delete(name);
      try {
        await this.persistTopics();
      } catch (err) {
        this.records.set(name, record);
        throw err;
      }
      this.topics.delete(name);
      await Promise.allSettled(topic.partitions.map((p) => p.close()));
      const doomed: string[] = [];
      for (const p of topic.partitions) {
        const target = path.join(this.dataDir, transitionalDirName(name, p.partition, DELETE_DIR_SUFFIX));
        try {
          fs.renameSync(p.dir, target);
          doomed.push(target);
        } catch (err) {
          log.error({ topic: name, partition: p.partition, err }, 'could not rename a deleted partition directory');
        }
      }
      await fsyncDirectory(this.dataDir);
      const removed = this.scheduleRemoval(doomed);
      if (this.config['file.delete.delay.ms'] <= 0) await removed;
      log.info({ topic: name }, 'deleted topic');
    });
  }

  /** Removes renamed directories after file.delete.delay.ms; resolves when they are gone. */
  private scheduleRemoval(dirs: string[]): Promise<void> {
    let timer: NodeJS.Timeout | null = null;
    let started = false;
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    const removal: PendingRemoval = {
      done,
      runNow: () => {
        if (started) return;
        started = true;
        if (timer) clearTimeout(timer);
        Promise.all(dirs.map((d) => fsp.rm(d, { recursive: true, force: true })))
          .catch((err) => log.error({ err, dirs }, 'removing deleted partition directories failed'))
          .finally(() => {
            this.pendingRemovals.delete(removal);
            finished();
          });
      },
    };
    this.pendingRemovals.add(removal);
    const delay = this.config['file.delete.delay.ms'];
    if (delay <= 0) removal.runNow();
    else {
      timer = setTimeout(removal.runNow, delay);
      timer.unref();
    }
    return done;
  }

  /** Raises the partition count to `totalCount` (Kafka's CreatePartitions); it can never shrink. */
  createPartitions(name: string, totalCount: number, options: { validateOnly?: boolean } = {}): Promise<void> {
    return this.serial(async () => {
      const topic = this.topics.get(name);
      if (!topic) throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `unknown topic ${name}`, { topic: name });
      const current = topic.partitions.length;
      if (!Number.isInteger(totalCount) || totalCount <= current) {
        throw new KafkaError('INVALID_PARTITIONS', `topic ${name} currently has ${current} partitions, ${totalCount} would not add any`, { topic: name });
      }
      this.checkPartitionCount(name, totalCount);
      if (options.validateOnly) return;
      const record = this.records.get(name)!;
      const previous = record.partitions;
      record.partitions = totalCount;
      try {
        await this.persistTopics();
      } catch (err) {
        record.partitions = previous;
        throw err;
      }
      const logs = await this.openNewPartitions(name, record, topic.config, current, totalCount);
      await fsyncDirectory(this.dataDir);
      topic.partitions.push(...logs);
      log.info({ topic: name, partitions: totalCount }, 'added partitions');
    });
  }

  /**
   * Replaces a topic's config overrides (AlterConfigs semantics: keys left out return to the broker
   * default) and applies them to every partition log. Throws INVALID_CONFIG for unknown keys or bad values.
   */
  alterTopicConfig(name: string, overrides: Record<string, string>, options: { validateOnly?: boolean } = {}): Promise<void> {
    return this.serial(async () => {
      const topic = this.topics.get(name);
      if (!topic) throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `unknown topic ${name}`, { topic: name });
      const configs = stringOverrides(overrides);
      const config = this.resolveConfig(name, configs);
      if (options.validateOnly) return;
      const record = this.records.get(name)!;
      const previous = record.configs;
      record.configs = configs;
      try {
        await this.persistTopics();
      } catch (err) {
        record.configs = previous;
        throw err;
      }
      topic.config = config;
      topic.overrides = { ...configs };
      for (const p of topic.partitions) p.config = config;
    });
  }

  // ---- maintenance ----

  /** Applies retention to every partition; returns how many segments were deleted. */
  runRetention(now: number = Date.now()): number {
    let deleted = 0;
    for (const topic of this.topics.values()) {
      for (const p of topic.partitions) {
        try {
          deleted += p.deleteOldSegments(now);
        } catch (err) {
          log.error({ topic: topic.name, partition: p.partition, err }, 'retention failed');
        }
      }
    }
    return deleted;
  }

  /** Writes the recovery-point and log-start-offset checkpoints of every partition. */
  checkpoint(): Promise<void> {
    const run = async (): Promise<void> => {
      const recovery: OffsetCheckpointEntry[] = [];
      const starts: OffsetCheckpointEntry[] = [];
      for (const topic of this.topics.values()) {
        for (const p of topic.partitions) {
          recovery.push({ topic: topic.name, partition: p.partition, offset: p.recoveryPoint });
          starts.push({ topic: topic.name, partition: p.partition, offset: p.logStartOffset });
        }
      }
      await writeOffsetCheckpoint(path.join(this.dataDir, RECOVERY_POINT_CHECKPOINT_FILE), recovery);
      await writeOffsetCheckpoint(path.join(this.dataDir, LOG_START_OFFSET_CHECKPOINT_FILE), starts);
    };
    // One writer at a time: both writers would share the same `.tmp` file.
    const result = this.checkpointChain.then(run, run);
    this.checkpointChain = result.catch(() => undefined);
    return result;
  }

  /**
   * Flushes and closes every partition, writes the checkpoints, and — only if all of that succeeded —
   * the clean-shutdown marker that lets the next start skip recovery.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const timer of this.timers) clearInterval(timer);
      await this.metadataChain;
      let ok = true;
      const partitions = [...this.topics.values()].flatMap((t) => t.partitions);
      for (const result of await Promise.allSettled(partitions.map((p) => p.close()))) {
        if (result.status === 'rejected') {
          ok = false;
          log.error({ err: result.reason }, 'closing a partition failed; the next start will recover');
        }
      }
      try {
        await this.checkpoint();
      } catch (err) {
        ok = false;
        log.error({ err }, 'writing checkpoints at shutdown failed');
      }
      const removals = [...this.pendingRemovals];
      for (const removal of removals) removal.runNow();
      await Promise.all(removals.map((r) => r.done));
      if (ok) await writeFileAtomic(path.join(this.dataDir, CLEAN_SHUTDOWN_FILE), JSON.stringify({ version: 0, brokerEpoch: -1 }));
      log.info({ dataDir: this.dataDir, clean: ok }, 'log manager closed');
    })();
    return this.closing;
  }
}

/**
 * Reads `meta.properties` (KRaft's version 1: cluster.id, node.id, directory.id), or writes a new one
 * with a fresh cluster id. A node.id differing from the configured one is refused, as Kafka does.
 */
function loadMetaProperties(dataDir: string, nodeId: number): { clusterId: string; nodeId: number; directoryId: string } {
  const file = path.join(dataDir, META_PROPERTIES_FILE);
  let text: string | null = null;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text !== null) {
    const props = parseProperties(text);
    const clusterId = props['cluster.id'];
    const storedNode = props['node.id'] ?? props['broker.id'];
    if (!clusterId) throw new KafkaError('KAFKA_STORAGE_ERROR', `${file} has no cluster.id`);
    if (storedNode !== undefined && Number(storedNode) !== nodeId) {
      throw new KafkaError('KAFKA_STORAGE_ERROR', `${file} belongs to node.id ${storedNode}, but this broker is node.id ${nodeId}`, { file });
    }
    return { clusterId, nodeId, directoryId: props['directory.id'] ?? '' };
  }
  const clusterId = uuidToString(randomKafkaUuid());
  const directoryId = uuidToString(randomKafkaUuid());
  const content = [
    '#',
    `#Written by penstock ${new Date().toISOString()}`,
    `node.id=${nodeId}`,
    `directory.id=${directoryId}`,
    'version=1',
    `cluster.id=${clusterId}`,
    '',
  ].join('\n');
  writeFileAtomicSync(file, content);
  return { clusterId, nodeId, directoryId };
}
