/**
 * PartitionLog: the segments of one partition and the policy over them (Kafka's LocalLog + UnifiedLog on
 * one broker). Appends are validated, stamped with offsets in arrival order, and written as a group
 * commit: everything appended in one turn of the event loop leaves in one writev. The high watermark
 * (= log end offset, one replica) moves only after the write returned, so readers never see bytes that
 * are not in the file.
 */
import fs from 'node:fs';
import type { TopicConfig } from '../config.js';
import type { FileRegion, Io } from '../io/types.js';
import { log } from '../logger.js';
import { KafkaError } from '../protocol/error-codes.js';
import { floorSegmentIndex, loadLog } from './log-loader.js';
import { NO_TIMESTAMP, assignOffsets, setLogAppendTime, validateRecords } from './record-batch.js';
import { LogSegment, SegmentWriteError, type SegmentAppend, type SegmentOptions } from './segment.js';

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
  /** The broker's timestamp for LogAppendTime topics, -1 for CreateTime. */
  logAppendTime: number;
  logStartOffset: number;
}

export interface ReadResult {
  /** File bytes to send, or null when there is nothing at or after the offset yet. */
  region: FileRegion | null;
  /** Must be called once the send of `region` has finished (or was abandoned). */
  release(): void;
  highWatermark: number;
  logStartOffset: number;
}

export interface PartitionLogOptions {
  topic: string;
  partition: number;
  /** The partition's directory, `<dataDir>/<topic>-<partition>`; created when missing. */
  dir: string;
  config: TopicConfig;
  io: Io;
  /** From the recovery-point checkpoint; absent means recover every segment (unless shut down cleanly). */
  recoveryPoint?: number;
  /** From the log-start-offset checkpoint. */
  logStartOffset?: number;
  /** `.kafka_cleanshutdown` was present: indexes are trusted and nothing is scanned. */
  cleanShutdown?: boolean;
  /** Stamped into every batch's partitionLeaderEpoch; one broker is always leader of epoch 0. */
  leaderEpoch?: number;
}

/** What loading found, for logs and tests. */
export interface LoadStats {
  recoveredSegments: number;
  truncatedBytes: number;
}

interface PendingAppend extends SegmentAppend {
  baseOffset: number;
  logAppendTime: number;
  resolve(result: AppendResult): void;
  reject(err: unknown): void;
}

const NOOP = (): void => {};

function fsyncDir(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.open(dir, 'r', (err, fd) => {
      if (err) return reject(err);
      fs.fsync(fd, (syncErr) => fs.close(fd, () => (syncErr ? reject(syncErr) : resolve())));
    });
  });
}

export class PartitionLog {
  readonly topic: string;
  readonly partition: number;
  readonly dir: string;
  readonly io: Io;
  readonly leaderEpoch: number;
  readonly loadStats: LoadStats;
  /** The topic's effective settings; the log manager replaces it when the topic's config changes. */
  config: TopicConfig;

  private segmentList: LogSegment[];
  private startOffset: number;
  private endOffset: number;
  /** Offsets handed out to queued appends run ahead of the log end offset until they are written. */
  private nextOffset: number;
  private flushedOffset: number;
  private queue: PendingAppend[] = [];
  private writeScheduled = false;
  private readonly listeners = new Set<() => void>();
  /** Set when a failed write could not be undone: the file may hold garbage, so no more appends. */
  private failure: Error | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;
  /** Chain of seals of rolled segments; the recovery point follows it. */
  private sealChain: Promise<void> = Promise.resolve();
  private sealFailed = false;
  private readonly durabilityWaits = new Set<Promise<unknown>>();
  private readonly deletedSegments = new Set<LogSegment>();
  private flushTimer: NodeJS.Timeout | null = null;

  private constructor(options: PartitionLogOptions) {
    this.topic = options.topic;
    this.partition = options.partition;
    this.dir = options.dir;
    this.io = options.io;
    this.config = options.config;
    this.leaderEpoch = options.leaderEpoch ?? 0;
    const loaded = loadLog({
      dir: options.dir,
      io: options.io,
      segmentOptions: this.segmentOptions(),
      recoveryPoint: options.recoveryPoint,
      logStartOffset: options.logStartOffset,
      cleanShutdown: options.cleanShutdown ?? false,
    });
    this.segmentList = loaded.segments;
    this.startOffset = loaded.logStartOffset;
    this.endOffset = loaded.logEndOffset;
    this.nextOffset = loaded.logEndOffset;
    this.flushedOffset = loaded.recoveryPoint;
    this.loadStats = { recoveredSegments: loaded.recoveredSegments, truncatedBytes: loaded.truncatedBytes };
    if (loaded.recoveredSegments > 0) {
      log.info({ topic: this.topic, partition: this.partition, ...this.loadStats, logEndOffset: this.endOffset }, 'recovered partition log');
    }
  }

  /** Opens the partition's directory (creating it, with an empty first segment, when new). Synchronous. */
  static open(options: PartitionLogOptions): PartitionLog {
    return new PartitionLog(options);
  }

  get logStartOffset(): number {
    return this.startOffset;
  }

  get logEndOffset(): number {
    return this.endOffset;
  }

  /** One replica: the high watermark is the log end offset, which only moves once bytes are written. */
  get highWatermark(): number {
    return this.endOffset;
  }

  /** Offset below which everything is known to be fdatasync'd (what the recovery-point checkpoint records). */
  get recoveryPoint(): number {
    return this.flushedOffset;
  }

  get size(): number {
    let total = 0;
    for (const segment of this.segmentList) total += segment.size;
    return total;
  }

  get segmentCount(): number {
    return this.segmentList.length;
  }

  /** The live segments, oldest first (for diagnostics and tests; do not mutate). */
  get segments(): readonly LogSegment[] {
    return this.segmentList;
  }

  private get activeSegment(): LogSegment {
    return this.segmentList[this.segmentList.length - 1]!;
  }

  private segmentOptions(): SegmentOptions {
    return { indexIntervalBytes: this.config['index.interval.bytes'], maxIndexSize: this.config['segment.index.bytes'] };
  }

  private context(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { topic: this.topic, partition: this.partition, ...extra };
  }

  // ---- append ----

  append(records: Buffer): Promise<AppendResult> {
    try {
      return this.enqueue(records);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private enqueue(records: Buffer): Promise<AppendResult> {
    if (this.closed) throw new KafkaError('NOT_LEADER_OR_FOLLOWER', `partition ${this.topic}-${this.partition} is closed`, this.context());
    if (this.failure) {
      throw new KafkaError('KAFKA_STORAGE_ERROR', `partition ${this.topic}-${this.partition} stopped taking appends after a write it could not undo`, this.context());
    }
    const batches = validateRecords(records, this.io, this.config['max.message.bytes']);
    if (records.length > this.config['segment.bytes']) {
      throw new KafkaError('RECORD_LIST_TOO_LARGE', `${records.length} bytes of batches exceed segment.bytes ${this.config['segment.bytes']}`, this.context());
    }
    const logAppendTime = this.config['message.timestamp.type'] === 'LogAppendTime' ? Date.now() : -1;
    const baseOffset = this.nextOffset;
    let offset = baseOffset;
    let maxTimestamp = NO_TIMESTAMP;
    let offsetOfMaxTimestamp = -1;
    for (const batch of batches) {
      if (logAppendTime >= 0) setLogAppendTime(records, batch.position, logAppendTime, this.io);
      assignOffsets(records, batch.position, offset, this.leaderEpoch);
      const last = offset + batch.lastOffsetDelta;
      const timestamp = logAppendTime >= 0 ? logAppendTime : batch.maxTimestamp;
      if (timestamp > maxTimestamp) {
        maxTimestamp = timestamp;
        offsetOfMaxTimestamp = last;
      }
      offset = last + 1;
    }
    this.nextOffset = offset;
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({
        buffer: records,
        baseOffset,
        lastOffset: offset - 1,
        maxTimestamp,
        offsetOfMaxTimestamp,
        firstBatchMaxTimestamp: logAppendTime >= 0 ? logAppendTime : batches[0]!.maxTimestamp,
        logAppendTime,
        resolve,
        reject,
      });
      if (!this.writeScheduled) {
        this.writeScheduled = true;
        setImmediate(() => this.writeQueued());
      }
    });
  }

  /**
   * The group commit: one writev per segment for everything queued this turn, rolling between appends
   * where Kafka's rules say so. Appends written before a failure stand; the failed one and all after it
   * are rejected and their offsets handed out again.
   */
  private writeQueued(): void {
    this.writeScheduled = false;
    const queue = this.queue;
    this.queue = [];
    if (queue.length === 0) return;
    const params = { segmentBytes: this.config['segment.bytes'], segmentMs: this.config['segment.ms'], now: Date.now() };
    const written: PendingAppend[] = [];
    const touched: LogSegment[] = [];
    let failure: unknown = null;
    let i = 0;
    while (i < queue.length) {
      let active = this.activeSegment;
      let plan: ReturnType<LogSegment['planState']>;
      try {
        plan = active.planState();
        if (active.shouldRoll(plan, queue[i]!, params)) {
          active = this.roll(queue[i]!.baseOffset);
          plan = active.planState();
        }
      } catch (err) {
        failure = err;
        break;
      }
      const run: PendingAppend[] = [];
      while (i < queue.length && (run.length === 0 || !active.shouldRoll(plan, queue[i]!, params))) {
        active.advance(plan, queue[i]!);
        run.push(queue[i]!);
        i++;
      }
      try {
        active.append(run);
      } catch (err) {
        failure = err;
        break;
      }
      this.endOffset = run[run.length - 1]!.lastOffset + 1;
      written.push(...run);
      if (!touched.includes(active)) touched.push(active);
    }
    if (failure !== null) this.failAppends(queue.slice(written.length), failure);
    if (written.length > 0) this.completeAppends(written, touched);
  }

  private failAppends(pending: PendingAppend[], cause: unknown): void {
    if (cause instanceof SegmentWriteError && !cause.consistent) this.failure = cause;
    // Nothing of these was kept: their offsets go to the next appends.
    this.nextOffset = this.endOffset;
    log.error({ ...this.context(), err: cause, rejected: pending.length }, 'append failed');
    const err = new KafkaError('KAFKA_STORAGE_ERROR', `append to ${this.topic}-${this.partition} failed: ${(cause as Error).message}`, this.context({ cause }));
    for (const p of pending) p.reject(err);
  }

  private completeAppends(written: PendingAppend[], touched: LogSegment[]): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (err) {
        log.warn({ ...this.context(), err }, 'append listener threw');
      }
    }
    const resolveAll = (): void => {
      for (const p of written) {
        p.resolve({ baseOffset: p.baseOffset, lastOffset: p.lastOffset, logAppendTime: p.logAppendTime, logStartOffset: this.startOffset });
      }
    };
    // Kafka's flush.messages: fdatasync before acknowledging once this many messages are unflushed.
    if (this.endOffset - this.flushedOffset >= this.config['flush.messages']) {
      const target = this.endOffset;
      const wait = Promise.all([this.sealChain, ...touched.map((s) => s.sync())]).then(
        () => {
          if (!this.sealFailed) this.flushedOffset = Math.max(this.flushedOffset, target);
          resolveAll();
        },
        (cause: unknown) => {
          log.error({ ...this.context(), err: cause }, 'fdatasync failed');
          const err = new KafkaError('KAFKA_STORAGE_ERROR', `fdatasync of ${this.topic}-${this.partition} failed: ${(cause as Error).message}`, this.context({ cause }));
          for (const p of written) p.reject(err);
        },
      );
      this.trackWait(wait);
    } else {
      resolveAll();
      this.schedulePeriodicFlush();
    }
  }

  private trackWait(wait: Promise<unknown>): void {
    this.durabilityWaits.add(wait);
    void wait.finally(() => this.durabilityWaits.delete(wait));
  }

  /** Kafka's flush.ms: unflushed data is fdatasync'd once it is this old (off by default). */
  private schedulePeriodicFlush(): void {
    const ms = this.config['flush.ms'];
    if (this.flushTimer || ms >= Number.MAX_SAFE_INTEGER || this.closed) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush().catch((err) => log.error({ ...this.context(), err }, 'periodic flush failed'));
    }, ms);
    this.flushTimer.unref();
  }

  /**
   * Starts a new active segment at `baseOffset` (Kafka's roll): the old one is sealed in the background
   * (final time-index entry, fdatasync, fds closed) and the recovery point follows once it is durable.
   */
  private roll(baseOffset: number): LogSegment {
    const old = this.activeSegment;
    if (old.size === 0) return old;
    const created = LogSegment.create(this.dir, baseOffset, this.io, this.segmentOptions());
    this.segmentList.push(created);
    const sealed = old.seal().then(() => fsyncDir(this.dir));
    this.sealChain = Promise.all([this.sealChain, sealed]).then(
      () => {
        if (!this.sealFailed) this.flushedOffset = Math.max(this.flushedOffset, baseOffset);
      },
      (err: unknown) => {
        // The recovery point stays put from here on: the next start recovers from it.
        this.sealFailed = true;
        log.error({ ...this.context(), segment: old.baseOffset, err }, 'flushing a rolled segment failed');
      },
    );
    log.debug({ ...this.context(), baseOffset }, 'rolled segment');
    return created;
  }

  /** Registers `listener` to run after every completed append. Returns the unsubscribe function. */
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  // ---- read ----

  /**
   * The bytes from the batch holding `offset`: at most maxBytes (raised to the first batch with
   * minOneBatch), never past the high watermark, from one segment. The region's fd stays open until
   * release(), even if the segment is deleted meanwhile.
   */
  read(offset: number, maxBytes: number, minOneBatch: boolean): ReadResult {
    const highWatermark = this.endOffset;
    const logStartOffset = this.startOffset;
    if (offset < logStartOffset || offset > highWatermark) {
      throw new KafkaError('OFFSET_OUT_OF_RANGE', `offset ${offset} is outside [${logStartOffset}, ${highWatermark}] of ${this.topic}-${this.partition}`, {
        ...this.context(),
        offset,
        logStartOffset,
        logEndOffset: highWatermark,
      });
    }
    const empty: ReadResult = { region: null, release: NOOP, highWatermark, logStartOffset };
    if (offset === highWatermark) return empty;
    for (let i = Math.max(0, floorSegmentIndex(this.segmentList, offset)); i < this.segmentList.length; i++) {
      const segment = this.segmentList[i]!;
      let fd: number;
      let found: ReturnType<LogSegment['read']>;
      try {
        fd = segment.acquire();
      } catch (err) {
        throw this.storageError('open', err);
      }
      try {
        found = segment.read(fd, offset, maxBytes, segment.size, minOneBatch);
      } catch (err) {
        segment.release();
        throw this.storageError('read', err);
      }
      if (found && found.size > 0) {
        let released = false;
        return {
          region: { fd, position: found.position, length: found.size },
          release: () => {
            if (released) return;
            released = true;
            segment.release();
          },
          highWatermark,
          logStartOffset,
        };
      }
      segment.release();
      if (found) break; // a batch is there but maxBytes was 0
    }
    return empty;
  }

  private storageError(what: string, cause: unknown): KafkaError {
    return new KafkaError('KAFKA_STORAGE_ERROR', `${what} of ${this.topic}-${this.partition} failed: ${(cause as Error).message}`, this.context({ cause }));
  }

  /**
   * Kafka's ListOffsets by timestamp: the first record (below the high watermark, from the log start
   * offset) whose timestamp is ≥ `timestamp`, found through the first segment whose max timestamp reaches
   * it. Compressed batches answer with their first offset and max timestamp. Null when none.
   */
  offsetForTimestamp(timestamp: number): { offset: number; timestamp: number } | null {
    const highWatermark = this.endOffset;
    for (const segment of this.segmentList) {
      if (segment.maxTimestampSoFar < timestamp) continue;
      let found: ReturnType<LogSegment['findOffsetByTimestamp']>;
      try {
        found = segment.findOffsetByTimestamp(timestamp, this.startOffset);
      } catch (err) {
        throw this.storageError('timestamp lookup', err);
      }
      if (found) return found.offset < highWatermark ? found : null;
    }
    return null;
  }

  // ---- retention ----

  /**
   * Kafka's maybeIncrementLogStartOffset: moves the log start offset up to `offset` (never past the high
   * watermark, never down). Offsets below it are no longer served, and deleteOldSegments removes the
   * segments wholly below it. Returns whether it moved.
   */
  maybeIncrementLogStartOffset(offset: number): boolean {
    if (this.closed) throw new KafkaError('NOT_LEADER_OR_FOLLOWER', `partition ${this.topic}-${this.partition} is closed`, this.context());
    if (offset > this.highWatermark) {
      throw new KafkaError('OFFSET_OUT_OF_RANGE', `cannot move the log start offset to ${offset}, past the high watermark ${this.highWatermark}`, this.context({ offset }));
    }
    if (offset <= this.startOffset) return false;
    this.startOffset = offset;
    this.flushedOffset = Math.max(this.flushedOffset, this.startOffset);
    return true;
  }

  /**
   * Kafka's deleteOldSegments: segments wholly below the log start offset, then (for cleanup.policy
   * delete) the oldest while the log exceeds retention.bytes, then those whose newest timestamp is older
   * than retention.ms. Never a segment at or past the high watermark; if every segment goes, roll first so
   * the log keeps an (empty) active segment. Returns how many segments were deleted.
   */
  deleteOldSegments(now: number = Date.now()): number {
    if (this.closed) return 0;
    let deleted = this.deleteSegmentsWhile((_segment, next) => next !== undefined && next.baseOffset <= this.startOffset, 'log start offset');
    if (this.config['cleanup.policy'].split(',').includes('delete')) {
      const retentionBytes = this.config['retention.bytes'];
      if (retentionBytes >= 0 && this.size >= retentionBytes) {
        let excess = this.size - retentionBytes;
        deleted += this.deleteSegmentsWhile((segment) => {
          if (excess - segment.size < 0) return false;
          excess -= segment.size;
          return true;
        }, 'retention.bytes');
      }
      const retentionMs = this.config['retention.ms'];
      if (retentionMs >= 0) deleted += this.deleteSegmentsWhile((segment) => now - segment.largestTimestamp() > retentionMs, 'retention.ms');
    }
    return deleted;
  }

  private deleteSegmentsWhile(predicate: (segment: LogSegment, next: LogSegment | undefined) => boolean, reason: string): number {
    const doomed: LogSegment[] = [];
    for (let i = 0; i < this.segmentList.length; i++) {
      const segment = this.segmentList[i]!;
      const next = this.segmentList[i + 1];
      const upperBound = next ? next.baseOffset : this.endOffset;
      const lastAndEmpty = next === undefined && segment.size === 0;
      if (this.highWatermark >= upperBound && !lastAndEmpty && predicate(segment, next)) doomed.push(segment);
      else break;
    }
    if (doomed.length === 0) return 0;
    if (doomed.length === this.segmentList.length) {
      try {
        this.roll(this.endOffset);
      } catch (err) {
        log.error({ ...this.context(), err }, 'could not roll before deleting every segment');
        doomed.pop();
        if (doomed.length === 0) return 0;
      }
    }
    this.segmentList = this.segmentList.slice(doomed.length);
    this.startOffset = Math.max(this.startOffset, this.segmentList[0]!.baseOffset);
    this.flushedOffset = Math.max(this.flushedOffset, this.startOffset);
    const delay = this.config['file.delete.delay.ms'];
    for (const segment of doomed) {
      // Kept only until its files are unlinked (then, or at close): its indexes hold memory.
      if (delay > 0) this.deletedSegments.add(segment);
      segment.markDeleted(delay, () => this.deletedSegments.delete(segment));
    }
    log.info({ ...this.context(), deleted: doomed.length, reason, logStartOffset: this.startOffset }, 'deleted old segments');
    return doomed.length;
  }

  // ---- durability and lifecycle ----

  /** Writes whatever is queued, then fdatasyncs every segment; the recovery point becomes the log end offset. */
  async flush(): Promise<void> {
    if (this.queue.length > 0) this.writeQueued();
    const target = this.endOffset;
    await Promise.all([this.sealChain, this.activeSegment.sync()]);
    if (!this.sealFailed) this.flushedOffset = Math.max(this.flushedOffset, target);
  }

  /**
   * Stops taking appends, writes what is queued, waits for pending fdatasyncs, flushes and closes every
   * segment. Read fds of regions still being sent close when those are released.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.flushTimer = null;
      if (this.queue.length > 0) this.writeQueued();
      await Promise.allSettled([...this.durabilityWaits]);
      let firstError: unknown = null;
      try {
        await this.flush();
      } catch (err) {
        firstError = err;
      }
      for (const result of await Promise.allSettled(this.segmentList.map((s) => s.close()))) {
        if (result.status === 'rejected') firstError ??= result.reason;
      }
      for (const segment of this.deletedSegments) segment.unlinkNow();
      this.deletedSegments.clear();
      this.listeners.clear();
      if (firstError) throw this.storageError('close', firstError);
    })();
    return this.closing;
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
