/**
 * Persistence of the group coordinator in the internal `__consumer_offsets` topic (Kafka's
 * GroupMetadataManager storage half): creates the topic, replays it at start, appends commits and group
 * metadata, and bounds its growth.
 *
 * Writes to one partition go out one append at a time, in arrival order. Whatever arrives while an
 * append is in flight leaves together in the next one (group commit), so ordering needs no record
 * offsets: a later write of a key always lands after an earlier one. Each write's `applied` callback runs
 * synchronously when its append resolves, before the next write starts, so the coordinator's memory
 * always equals "the log up to the last resolved append".
 *
 * Growth is bounded by a snapshot, not a cleaner: once a partition has rolled a segment (so there is
 * something below the active segment to delete) and at least half its records are superseded (Kafka's
 * cleaner acts on rolled segments at a dirty ratio of 0.5), the live key set is appended as fresh
 * batches at offset S and the log start offset is raised to S, so the segments below S are deleted. That
 * costs O(live keys) once per segment rolled, and keeps a partition within about two segments plus one
 * copy of its live keys. A crash in
 * between is harmless: the snapshot repeats values that are already the latest, so replaying old + new
 * records gives the same state. The log start offset moves with PartitionLog.maybeIncrementLogStartOffset.
 */
import type { BrokerConfig } from '../../config.js';
import type { Io } from '../../io/types.js';
import type { Logger } from '../../logger.js';
import type { LogManager } from '../../storage/log-manager.js';
import type { PartitionLog } from '../../storage/partition-log.js';
import { decodeRecordBatches, encodeRecordBatch } from '../../storage/record-codec.js';
import { KafkaError } from '../../protocol/error-codes.js';
import { OFFSETS_TOPIC, partitionForGroup } from './records.js';

export interface OffsetsRecord {
  key: Buffer;
  /** null is a tombstone. */
  value: Buffer | null;
}

/** What the coordinator tells the log about its state, for snapshots. */
export interface OffsetsSnapshotSource {
  /** The live records of one partition: the latest value of every key that is not deleted. */
  snapshot(partition: number): OffsetsRecord[];
  /** How many keys of one partition are live (cheaper than building the snapshot). */
  liveKeyCount(partition: number): number;
}

interface WriteItem {
  kind: 'write';
  records: OffsetsRecord[];
  bytes: number;
  applied: (() => void) | undefined;
  resolve(): void;
  reject(err: unknown): void;
}

/** A snapshot runs in the queue, so every earlier write is appended and applied when it is taken. */
interface SnapshotItem {
  kind: 'snapshot';
}

/** Resolves once everything queued before it is done (for close). */
interface BarrierItem {
  kind: 'barrier';
  resolve(): void;
}

type Item = WriteItem | SnapshotItem | BarrierItem;

interface PartitionWriter {
  queue: Item[];
  writing: boolean;
  /** A snapshot is queued or running: do not queue another. */
  snapshotQueued: boolean;
  /** Log end offset below which the partition cannot be dirty enough yet (saves counting live keys). */
  nextCheckOffset: number;
}

/** Writes queued while an append is in flight are combined up to this many bytes per batch. */
const MAX_COMBINED_BYTES = 64 * 1024;
/** A snapshot is appended in batches of about this size (well below message.max.bytes). */
const SNAPSHOT_BATCH_BYTES = 256 * 1024;
/** Bytes asked of `read()` per step of replay (a larger batch is still read whole). */
const REPLAY_READ_BYTES = 1024 * 1024;
/** Per-record overhead in a batch, for size estimates. */
const RECORD_OVERHEAD = 24;


export class OffsetsLog {
  private readonly writers: PartitionWriter[];
  private source: OffsetsSnapshotSource | null = null;
  private closed = false;

  private constructor(
    private readonly logs: LogManager,
    private readonly io: Io,
    private readonly log: Logger,
    private readonly partitionLogs: PartitionLog[],
  ) {
    this.writers = partitionLogs.map(() => ({ queue: [], writing: false, snapshotQueued: false, nextCheckOffset: 0 }));
  }

  /**
   * Opens `__consumer_offsets`, creating it (internal, `offsets.topic.num.partitions` partitions,
   * compacted, `offsets.topic.segment.bytes` segments) when missing. An existing topic keeps its
   * partition count: that is where its groups' records are.
   */
  static async open(logs: LogManager, config: BrokerConfig, io: Io, log: Logger): Promise<OffsetsLog> {
    let topic = logs.getTopic(OFFSETS_TOPIC);
    if (!topic) {
      topic = await logs.createTopic(
        OFFSETS_TOPIC,
        config['offsets.topic.num.partitions'],
        { 'segment.bytes': String(config['offsets.topic.segment.bytes']), 'cleanup.policy': 'compact' },
        { internal: true },
      );
    }
    if (topic.partitions.length !== config['offsets.topic.num.partitions']) {
      log.warn({ topic: OFFSETS_TOPIC, partitions: topic.partitions.length, configured: config['offsets.topic.num.partitions'] }, 'offsets topic exists with a different partition count; keeping it');
    }
    return new OffsetsLog(logs, io, log, [...topic.partitions]);
  }

  get numPartitions(): number {
    return this.partitionLogs.length;
  }

  partitionFor(groupId: string): number {
    return partitionForGroup(groupId, this.partitionLogs.length);
  }

  setSnapshotSource(source: OffsetsSnapshotSource): void {
    this.source = source;
  }

  /**
   * Reads every partition from its log start offset to its end, calling `onRecord` for each record in
   * log order. Synchronous: it runs once, before the broker listens. A batch that fails its CRC stops
   * that partition's replay (recovery already truncated torn tails, so this means damage, and logging it
   * beats inventing state).
   */
  replay(onRecord: (partition: number, key: Buffer, value: Buffer | null) => void): { records: number; batches: number } {
    let records = 0;
    let batches = 0;
    this.partitionLogs.forEach((partitionLog, partition) => {
      let offset = partitionLog.logStartOffset;
      const end = partitionLog.logEndOffset;
      // Each step consumes at least one batch, so the loop ends within end - start steps.
      for (let steps = 0; offset < end && steps <= end - partitionLog.logStartOffset; steps++) {
        const read = partitionLog.read(offset, REPLAY_READ_BYTES, true);
        let decoded;
        try {
          if (!read.region) break;
          const buf = Buffer.allocUnsafe(read.region.length);
          const n = this.io.pread(read.region.fd, buf, 0, buf.length, read.region.position);
          decoded = decodeRecordBatches(buf.subarray(0, n));
        } catch (err) {
          this.log.error({ topic: OFFSETS_TOPIC, partition, offset, err: (err as Error).message }, 'could not read __consumer_offsets; replay of this partition stops here');
          break;
        } finally {
          read.release();
        }
        if (decoded.length === 0) {
          this.log.error({ topic: OFFSETS_TOPIC, partition, offset }, 'no complete batch at this offset; replay of this partition stops here');
          break;
        }
        for (const batch of decoded) {
          batches++;
          if (!batch.isControl) {
            for (const record of batch.records) {
              // A batch may start below the log start offset; those records are gone.
              if (record.offset < offset || record.key === null) continue;
              records++;
              onRecord(partition, record.key, record.value);
            }
          }
          offset = Math.max(offset, batch.lastOffset + 1);
        }
      }
    });
    return { records, batches };
  }

  /**
   * Appends records for one partition; resolves once they are in the log (page cache, or fsync'd per
   * the topic's flush settings). `applied` runs at that moment, before any later write of the partition.
   */
  append(partition: number, records: OffsetsRecord[], applied?: () => void): Promise<void> {
    if (this.closed) return Promise.reject(new KafkaError('NOT_COORDINATOR', 'the group coordinator is shutting down'));
    if (records.length === 0) {
      applied?.();
      return Promise.resolve();
    }
    let bytes = 0;
    for (const r of records) bytes += r.key.length + (r.value?.length ?? 0) + RECORD_OVERHEAD;
    return new Promise<void>((resolve, reject) => {
      const writer = this.writers[partition]!;
      writer.queue.push({ kind: 'write', records, bytes, applied, resolve, reject });
      if (!writer.writing) void this.drain(partition);
    });
  }

  /** Resolves when every write queued so far has been appended (or failed). */
  async drained(): Promise<void> {
    const waits: Promise<void>[] = [];
    this.writers.forEach((writer, partition) => {
      if (writer.queue.length === 0 && !writer.writing) return;
      waits.push(new Promise<void>((resolve) => {
        writer.queue.push({ kind: 'barrier', resolve });
        if (!writer.writing) void this.drain(partition);
      }));
    });
    await Promise.all(waits);
  }

  /** Refuses further writes; what is queued still goes out (await `drained()`). */
  close(): void {
    this.closed = true;
  }

  private async drain(partition: number): Promise<void> {
    const writer = this.writers[partition]!;
    const partitionLog = this.partitionLogs[partition]!;
    writer.writing = true;
    try {
      while (writer.queue.length > 0) {
        const head = writer.queue[0]!;
        if (head.kind === 'barrier') {
          writer.queue.shift();
          head.resolve();
          continue;
        }
        if (head.kind === 'snapshot') {
          writer.queue.shift();
          await this.writeSnapshot(partition, partitionLog);
          writer.snapshotQueued = false;
          continue;
        }
        const items: WriteItem[] = [];
        let bytes = 0;
        while (writer.queue.length > 0) {
          const next = writer.queue[0]!;
          if (next.kind !== 'write' || (items.length > 0 && bytes + next.bytes > MAX_COMBINED_BYTES)) break;
          items.push(next);
          bytes += next.bytes;
          writer.queue.shift();
        }
        const timestamp = Date.now();
        try {
          const batch = encodeRecordBatch(items.flatMap((item) => item.records.map((r) => ({ key: r.key, value: r.value, timestamp }))));
          await partitionLog.append(batch);
        } catch (err) {
          for (const item of items) item.reject(err);
          continue;
        }
        for (const item of items) {
          try {
            item.applied?.();
          } catch (err) {
            this.log.error({ err }, 'applying an offsets write to the coordinator state failed');
          }
          item.resolve();
        }
        this.maybeQueueSnapshot(partition, partitionLog);
      }
    } finally {
      writer.writing = false;
    }
  }

  private maybeQueueSnapshot(partition: number, partitionLog: PartitionLog): void {
    const writer = this.writers[partition]!;
    if (writer.snapshotQueued || this.closed || !this.source) return;
    if (partitionLog.segmentCount < 2 || partitionLog.logEndOffset < writer.nextCheckOffset) return;
    // Dirty ratio at least 0.5: as many superseded records as live ones. Counting live keys is
    // O(groups), so the next count waits until the log could have become dirty by appends alone.
    const dirtyAt = partitionLog.logStartOffset + 2 * this.source.liveKeyCount(partition);
    if (partitionLog.logEndOffset < dirtyAt) {
      writer.nextCheckOffset = dirtyAt;
      return;
    }
    writer.snapshotQueued = true;
    writer.queue.push({ kind: 'snapshot' });
  }

  /** Appends the live key set at S, then makes S the log start offset so older segments can go. */
  private async writeSnapshot(partition: number, partitionLog: PartitionLog): Promise<void> {
    if (!this.source) return;
    const live = this.source.snapshot(partition);
    const before = { size: partitionLog.size, records: partitionLog.logEndOffset - partitionLog.logStartOffset };
    try {
      let start: number | null = null;
      const timestamp = Date.now();
      for (let i = 0; i < live.length; ) {
        const chunk = [];
        let bytes = 0;
        while (i < live.length && (chunk.length === 0 || bytes < SNAPSHOT_BATCH_BYTES)) {
          const r = live[i++]!;
          bytes += r.key.length + (r.value?.length ?? 0) + RECORD_OVERHEAD;
          chunk.push({ key: r.key, value: r.value, timestamp });
        }
        const result = await partitionLog.append(encodeRecordBatch(chunk));
        start ??= result.baseOffset;
      }
      // No live key at all: everything up to the end is dead.
      start ??= partitionLog.logEndOffset;
      partitionLog.maybeIncrementLogStartOffset(start);
      // Checkpoint first: a crash before the deletion leaves extra segments, never a gap.
      await this.logs.checkpoint();
      partitionLog.deleteOldSegments();
      this.log.info(
        { topic: OFFSETS_TOPIC, partition, liveKeys: live.length, logStartOffset: start, before, after: { size: partitionLog.size, records: partitionLog.logEndOffset - partitionLog.logStartOffset } },
        'compacted __consumer_offsets partition by snapshot',
      );
    } catch (err) {
      this.log.error({ topic: OFFSETS_TOPIC, partition, err: (err as Error).message }, 'snapshot of __consumer_offsets failed; the log keeps its older records');
    }
  }
}
