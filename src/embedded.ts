/**
 * The embedded log: penstock's storage without a socket, for programs that want an append-only,
 * Kafka-format log in a directory. The files are the broker's, so a broker can later serve them.
 */
import { brokerConfig } from './config.js';
import type { Io } from './io/types.js';
import { KafkaError } from './protocol/error-codes.js';
import { LogManager } from './storage/log-manager.js';
import type { PartitionLog } from './storage/partition-log.js';
import { decodeRecordBatches, encodeRecordBatch, type Compression, type RecordHeader, type RecordInput } from './storage/record-codec.js';

export type { Compression, RecordHeader, RecordInput } from './storage/record-codec.js';

export interface OpenLogOptions {
  /** Kafka broker settings by their server.properties names (log.segment.bytes, log.retention.ms, …). */
  config?: Record<string, string | number | boolean>;
  io?: Io;
}

export interface EmbeddedRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface EmbeddedLog {
  readonly dataDir: string;
  /** The log manager underneath, for what this small API does not cover. */
  readonly manager: LogManager;
  /** Creates a topic; `config` takes Kafka's topic-level names (retention.ms, segment.bytes, …). */
  createTopic(name: string, options?: { partitions?: number; config?: Record<string, string | number> }): Promise<void>;
  /** Appends the records as one batch; resolves with their offsets once written. */
  append(topic: string, partition: number, records: RecordInput[], options?: { compression?: Compression }): Promise<{ baseOffset: number; lastOffset: number }>;
  /** Records from `offset` on, about `maxBytes` of batches (at least one batch when there is one). */
  read(topic: string, partition: number, offset: number, options?: { maxBytes?: number }): Promise<{ records: EmbeddedRecord[]; highWatermark: number }>;
  topics(): string[];
  close(): Promise<void>;
}

const DEFAULT_READ_BYTES = 1024 * 1024;

export async function openLog(dir: string, options: OpenLogOptions = {}): Promise<EmbeddedLog> {
  const config = brokerConfig({ ...options.config, 'log.dirs': dir });
  const manager = await LogManager.open({ dataDir: dir, config, io: options.io });
  const io = manager.io;

  const partitionLog = (topic: string, partition: number): PartitionLog => {
    const log = manager.partition(topic, partition);
    if (!log) throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `unknown topic-partition ${topic}-${partition}`, { topic, partition });
    return log;
  };

  return {
    dataDir: manager.dataDir,
    manager,

    async createTopic(name, topicOptions = {}) {
      const overrides: Record<string, string> = {};
      for (const [key, value] of Object.entries(topicOptions.config ?? {})) overrides[key] = String(value);
      await manager.createTopic(name, topicOptions.partitions ?? -1, overrides);
    },

    async append(topic, partition, records, appendOptions = {}) {
      const log = partitionLog(topic, partition);
      const batch = encodeRecordBatch(records, { compression: appendOptions.compression ?? 'none', crc32c: io.crc32c });
      const result = await log.append(batch);
      return { baseOffset: result.baseOffset, lastOffset: result.lastOffset };
    },

    async read(topic, partition, offset, readOptions = {}) {
      const log = partitionLog(topic, partition);
      const read = log.read(offset, readOptions.maxBytes ?? DEFAULT_READ_BYTES, true);
      let bytes: Buffer;
      try {
        if (!read.region) return { records: [], highWatermark: read.highWatermark };
        bytes = Buffer.allocUnsafe(read.region.length);
        const n = io.pread(read.region.fd, bytes, 0, read.region.length, read.region.position);
        bytes = bytes.subarray(0, n);
      } finally {
        read.release();
      }
      // The region may end inside a batch (Kafka slices by size); the decoder stops at whole batches.
      const records: EmbeddedRecord[] = [];
      for (const batch of decodeRecordBatches(bytes, { crc32c: io.crc32c })) {
        for (const r of batch.records) {
          if (r.offset >= offset) records.push({ offset: r.offset, timestamp: r.timestamp, key: r.key, value: r.value, headers: r.headers });
        }
      }
      return { records, highWatermark: read.highWatermark };
    },

    topics() {
      return manager.topicNames();
    },

    close() {
      return manager.close();
    },
  };
}
