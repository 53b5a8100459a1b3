/**
 * LogSegment: one `<20-digit base offset>.log` file of RecordBatch v2 bytes with its `.index` and
 * `.timeindex` (KAFKA-NOTES §1). Appends go through an O_APPEND fd with one writev per group commit;
 * reads use a separate read-only fd, reference counted so a region handed to a socket send stays
 * readable even if retention deletes the segment meanwhile. Both are opened on demand and, while idle,
 * may be closed by the process's descriptor budget (file-handles.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Io } from '../io/types.js';
import { log } from '../logger.js';
import { FileHandle } from './file-handles.js';
import { OffsetIndex } from './offset-index.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  CURRENT_MAGIC,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  NO_TIMESTAMP,
  RECORD_BATCH_OVERHEAD,
  RECORDS_COUNT_OFFSET,
  RECORDS_OFFSET,
  TIMESTAMP_TYPE_MASK,
  batchSize,
  compressionCodec,
  hasValidCrc,
  readInt64,
} from './record-batch.js';
import { TimeIndex } from './time-index.js';

export const LOG_FILE_SUFFIX = '.log';
export const INDEX_FILE_SUFFIX = '.index';
export const TIME_INDEX_FILE_SUFFIX = '.timeindex';
export const DELETED_FILE_SUFFIX = '.deleted';

const INT32_MAX = 2_147_483_647;
/** Bytes read per pread while walking batch headers: covers an index interval of small batches in one call. */
const HEADER_SCAN_CHUNK = 16 * 1024;
/** Bytes read per pread during recovery, where every byte is CRC-checked anyway. */
const RECOVERY_CHUNK = 1024 * 1024;

/** Kafka's file name for a segment's files: the base offset, zero-padded to 20 digits. */
export function segmentFileName(baseOffset: number, suffix: string): string {
  return String(baseOffset).padStart(20, '0') + suffix;
}

/** The base offset of `00000000000000000042.log`, or null when the name is not a segment file. */
export function parseSegmentFileName(name: string, suffix: string): number | null {
  if (!name.endsWith(suffix)) return null;
  const digits = name.slice(0, -suffix.length);
  if (!/^\d{20}$/.test(digits)) return null;
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : null;
}

export interface SegmentOptions {
  /** `index.interval.bytes`: bytes appended between two index entries. */
  indexIntervalBytes: number;
  /** `segment.index.bytes`: the largest index file; a full index rolls the segment. */
  maxIndexSize: number;
}

/** One produce request's bytes, offsets already assigned: the unit Kafka's LogSegment.append indexes. */
export interface SegmentAppend {
  buffer: Buffer;
  lastOffset: number;
  maxTimestamp: number;
  /** Last offset of the batch carrying maxTimestamp (Kafka's shallowOffsetOfMaxTimestamp). */
  offsetOfMaxTimestamp: number;
  /** maxTimestamp of the first batch, which starts the segment.ms clock when it opens a segment. */
  firstBatchMaxTimestamp: number;
}

export interface RollParams {
  segmentBytes: number;
  segmentMs: number;
  now: number;
}

/** The running state that decides index entries and rolls; a copy of it plans a group commit. */
export interface AppendState {
  size: number;
  bytesSinceLastIndexEntry: number;
  maxTimestampSoFar: number;
  offsetOfMaxTimestampSoFar: number;
  offsetIndexEntries: number;
  timeIndexEntries: number;
  lastTimeIndexTimestamp: number;
  /** Max timestamp of the segment's first batch, or null while the segment is empty. */
  firstBatchTimestamp: number | null;
}

/** A write failed. `consistent` says whether the file was truncated back to its last good size. */
export class SegmentWriteError extends Error {
  constructor(
    message: string,
    readonly consistent: boolean,
    options: { cause: unknown },
  ) {
    super(message, options);
    this.name = 'SegmentWriteError';
  }
}

export interface BatchLocation {
  position: number;
  size: number;
}

export interface TimestampAndOffset {
  timestamp: number;
  offset: number;
}

function fsyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
}

function removeQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ file, err }, 'could not delete segment file');
  }
}

/**
 * Reads batch headers from a file with few syscalls: one pread fills a chunk, and every header inside
 * the chunk is parsed from memory.
 */
class HeaderReader {
  private chunk = Buffer.allocUnsafe(HEADER_SCAN_CHUNK);
  private chunkStart = 0;
  private chunkLength = 0;

  constructor(
    private readonly io: Io,
    private readonly fd: number,
    private readonly end: number,
  ) {}

  /** The chunk and offset at which the 61-byte header at `position` lies, or null past `end`. */
  header(position: number): { buf: Buffer; at: number } | null {
    if (position + RECORD_BATCH_OVERHEAD > this.end) return null;
    if (position < this.chunkStart || position + RECORD_BATCH_OVERHEAD > this.chunkStart + this.chunkLength) {
      const want = Math.min(this.chunk.length, this.end - position);
      this.chunkStart = position;
      this.chunkLength = this.io.pread(this.fd, this.chunk, 0, want, position);
      if (this.chunkLength < RECORD_BATCH_OVERHEAD) return null;
    }
    return { buf: this.chunk, at: position - this.chunkStart };
  }
}

/** Whole batches from a file for recovery: a large chunk per pread, a dedicated buffer for bigger batches. */
class ChunkReader {
  private chunk = Buffer.allocUnsafe(0);
  private chunkStart = 0;
  private chunkLength = 0;

  constructor(
    private readonly io: Io,
    private readonly fd: number,
    private readonly end: number,
  ) {}

  view(position: number, length: number): { buf: Buffer; at: number } | null {
    if (position + length > this.end) return null;
    if (position < this.chunkStart || position + length > this.chunkStart + this.chunkLength) {
      const want = Math.min(Math.max(RECOVERY_CHUNK, length), this.end - position);
      if (this.chunk.length < want) this.chunk = Buffer.allocUnsafe(Math.max(want, RECOVERY_CHUNK));
      this.chunkStart = position;
      this.chunkLength = this.io.pread(this.fd, this.chunk, 0, want, position);
      if (this.chunkLength < length) return null;
    }
    return { buf: this.chunk, at: position - this.chunkStart };
  }
}

export class LogSegment {
  readonly dir: string;
  readonly baseOffset: number;
  readonly offsetIndex: OffsetIndex;
  readonly timeIndex: TimeIndex;
  /** Wall-clock creation (or load) time: the segment.ms clock when no batch carries a timestamp. */
  readonly created: number;

  logPath: string;
  private readonly io: Io;
  private readonly options: SegmentOptions;
  /** Null until the active segment is activated, or a sealed one's indexes are needed. */
  private state: AppendState | null = null;
  private committedSize: number;
  /** O_APPEND descriptor of a segment that takes appends; null once sealed (or before activation). */
  private appendFile: FileHandle | null = null;
  private readonly readFile: FileHandle;
  private indexesReady: boolean;
  /** Set once the segment stops taking appends; later syncs wait for the final one. */
  private sealing: Promise<void> | null = null;
  private syncRunning: Promise<void> | null = null;
  private syncQueued: Promise<void> | null = null;
  private deleted = false;
  private closed = false;
  private unlinkTimer: NodeJS.Timeout | null = null;
  private pendingUnlink: string[] = [];
  private onUnlinked: (() => void) | null = null;

  private constructor(dir: string, baseOffset: number, io: Io, options: SegmentOptions, size: number, created: boolean) {
    this.dir = dir;
    this.baseOffset = baseOffset;
    this.io = io;
    this.options = options;
    this.committedSize = size;
    this.logPath = path.join(dir, segmentFileName(baseOffset, LOG_FILE_SUFFIX));
    this.readFile = new FileHandle(this.logPath, (p) => fs.openSync(p, 'r'));
    this.offsetIndex = new OffsetIndex(path.join(dir, segmentFileName(baseOffset, INDEX_FILE_SUFFIX)), baseOffset, options.maxIndexSize, { create: created });
    this.timeIndex = new TimeIndex(path.join(dir, segmentFileName(baseOffset, TIME_INDEX_FILE_SUFFIX)), baseOffset, options.maxIndexSize, { create: created });
    this.indexesReady = created;
    this.created = Date.now();
  }

  /** A new, empty segment; files left over under the same name are replaced, as Kafka's roll does. */
  static create(dir: string, baseOffset: number, io: Io, options: SegmentOptions): LogSegment {
    const logPath = path.join(dir, segmentFileName(baseOffset, LOG_FILE_SUFFIX));
    removeQuietly(logPath);
    const segment = new LogSegment(dir, baseOffset, io, options, 0, true);
    // Created now, so a crash right after the roll leaves the (empty) file Kafka's loader expects.
    segment.appendFile = segment.appendHandle();
    segment.appendFile.with(() => undefined);
    segment.state = segment.freshState();
    return segment;
  }

  /** An existing segment; nothing but its size is read until it is used. */
  static open(dir: string, baseOffset: number, io: Io, options: SegmentOptions): LogSegment {
    const size = fs.statSync(path.join(dir, segmentFileName(baseOffset, LOG_FILE_SUFFIX))).size;
    return new LogSegment(dir, baseOffset, io, options, size, false);
  }

  /** Committed bytes: everything a reader may see. */
  get size(): number {
    return this.committedSize;
  }

  /** Whether both index files are on disk (a missing one means the segment must be recovered). */
  hasIndexFiles(): boolean {
    return this.offsetIndex.fileExists() && this.timeIndex.fileExists();
  }

  /** Largest batch timestamp in the segment, NO_TIMESTAMP if none carries one. */
  get maxTimestampSoFar(): number {
    if (this.state) return this.state.maxTimestampSoFar;
    this.ensureIndexes();
    return this.timeIndex.lastEntry().timestamp;
  }

  /** Kafka's LogSegment.largestTimestamp: the max timestamp, or the file's mtime when no batch has one. */
  largestTimestamp(): number {
    const ts = this.maxTimestampSoFar;
    if (ts >= 0) return ts;
    try {
      return fs.statSync(this.logPath).mtimeMs;
    } catch {
      return NO_TIMESTAMP;
    }
  }

  private freshState(): AppendState {
    return {
      size: 0,
      bytesSinceLastIndexEntry: 0,
      maxTimestampSoFar: NO_TIMESTAMP,
      offsetOfMaxTimestampSoFar: -1,
      offsetIndexEntries: 0,
      timeIndexEntries: 0,
      lastTimeIndexTimestamp: NO_TIMESTAMP,
      firstBatchTimestamp: null,
    };
  }

  /** Loads (lazily) and checks both indexes; invalid ones are rebuilt from the log without truncating it. */
  ensureIndexes(): void {
    if (this.indexesReady) return;
    this.indexesReady = true;
    this.offsetIndex.logSize = this.committedSize;
    const problems = [this.offsetIndex.load(), this.timeIndex.load()].filter((p) => p !== null);
    if (problems.length > 0) {
      log.warn({ segment: this.logPath, problems }, 'segment index invalid; rebuilding it from the log');
      this.scan(false);
    }
  }

  /**
   * Prepares a loaded segment to take appends: the running state from its indexes and first batch,
   * and the O_APPEND fd. Called on the active segment after loading.
   */
  activate(): void {
    this.ensureIndexes();
    if (!this.state) {
      const lastIndexed = this.offsetIndex.lastEntry();
      const lastTime = this.timeIndex.lastEntry();
      this.state = {
        size: this.committedSize,
        bytesSinceLastIndexEntry: this.committedSize - (this.offsetIndex.entries > 0 ? lastIndexed.position : 0),
        maxTimestampSoFar: lastTime.timestamp,
        offsetOfMaxTimestampSoFar: this.timeIndex.entries > 0 ? lastTime.offset : -1,
        offsetIndexEntries: this.offsetIndex.entries,
        timeIndexEntries: this.timeIndex.entries,
        lastTimeIndexTimestamp: lastTime.timestamp,
        firstBatchTimestamp: this.readFirstBatchTimestamp(),
      };
    }
    this.appendFile ??= this.appendHandle();
  }

  private appendHandle(): FileHandle {
    return new FileHandle(this.logPath, (p) => this.io.openAppend(p));
  }

  private readFirstBatchTimestamp(): number | null {
    if (this.committedSize < RECORD_BATCH_OVERHEAD) return null;
    const fd = this.acquire();
    try {
      const h = new HeaderReader(this.io, fd, this.committedSize).header(0);
      return h ? readInt64(h.buf, h.at + MAX_TIMESTAMP_OFFSET) : null;
    } finally {
      this.release();
    }
  }

  /** A copy of the running state, for planning a group commit. */
  planState(): AppendState {
    if (!this.state) this.activate();
    return { ...this.state! };
  }

  /**
   * Kafka's LogSegment.shouldRoll for one more append, given the state after earlier appends of the
   * same group commit: size would pass segment.bytes, the first batch is segment.ms old, an index is
   * full, or an offset would not fit an int32 relative offset.
   */
  shouldRoll(state: AppendState, next: SegmentAppend, params: RollParams): boolean {
    const incoming = next.buffer.length;
    const waited =
      state.firstBatchTimestamp !== null && state.firstBatchTimestamp >= 0
        ? next.maxTimestamp - state.firstBatchTimestamp
        : params.now - this.created;
    return (
      state.size > params.segmentBytes - incoming ||
      (state.size > 0 && waited > params.segmentMs) ||
      state.offsetIndexEntries >= this.offsetIndex.maxEntries ||
      state.timeIndexEntries >= this.timeIndex.maxEntries ||
      next.lastOffset - this.baseOffset > INT32_MAX
    );
  }

  /**
   * Advances `state` over one append and says which index entries Kafka's rule adds: the last offset
   * of the append at its start position, once more than index.interval.bytes went by since the last entry.
   */
  advance(state: AppendState, next: SegmentAppend): { position: number; offsetEntry: boolean; timeEntry: boolean } {
    const position = state.size;
    if (state.firstBatchTimestamp === null) state.firstBatchTimestamp = next.firstBatchMaxTimestamp;
    if (next.maxTimestamp > state.maxTimestampSoFar) {
      state.maxTimestampSoFar = next.maxTimestamp;
      state.offsetOfMaxTimestampSoFar = next.offsetOfMaxTimestamp;
    }
    let offsetEntry = false;
    let timeEntry = false;
    if (state.bytesSinceLastIndexEntry > this.options.indexIntervalBytes) {
      offsetEntry = true;
      state.offsetIndexEntries++;
      if (state.maxTimestampSoFar > state.lastTimeIndexTimestamp && state.timeIndexEntries < this.timeIndex.maxEntries) {
        timeEntry = true;
        state.timeIndexEntries++;
        state.lastTimeIndexTimestamp = state.maxTimestampSoFar;
      }
      state.bytesSinceLastIndexEntry = 0;
    }
    state.bytesSinceLastIndexEntry += next.buffer.length;
    state.size += next.buffer.length;
    return { position, offsetEntry, timeEntry };
  }

  /**
   * Writes the appends with one writev, then indexes them. On failure the file is truncated back to its
   * last good size, so nothing half-written ever stays behind; throws SegmentWriteError.
   */
  append(appends: readonly SegmentAppend[]): void {
    const file = this.appendFile;
    if (!file || this.sealing) throw new SegmentWriteError(`segment ${this.logPath} is not writable`, true, { cause: null });
    if (!this.state) this.activate();
    let fd: number;
    try {
      fd = file.acquire();
    } catch (err) {
      throw new SegmentWriteError(`opening ${this.logPath} for append failed: ${(err as Error).message}`, true, { cause: err });
    }
    try {
      this.appendLocked(fd, appends);
    } finally {
      file.release();
    }
  }

  private appendLocked(fd: number, appends: readonly SegmentAppend[]): void {
    const before = this.committedSize;
    let expected = 0;
    const buffers: Buffer[] = [];
    for (const a of appends) {
      buffers.push(a.buffer);
      expected += a.buffer.length;
    }
    let failure: unknown = null;
    try {
      const written = this.io.appendv(fd, buffers);
      if (written !== expected) {
        failure = Object.assign(new Error(`short write: ${written} of ${expected} bytes`), { code: 'EIO', syscall: 'writev' });
      }
    } catch (err) {
      failure = err;
    }
    if (failure !== null) {
      let consistent = true;
      try {
        fs.ftruncateSync(fd, before);
      } catch (err) {
        consistent = false;
        log.error({ segment: this.logPath, err }, 'could not truncate a failed write; the partition stops taking appends');
      }
      throw new SegmentWriteError(`append to ${this.logPath} failed: ${(failure as Error).message}`, consistent, { cause: failure });
    }
    const state = this.state!;
    for (const a of appends) {
      const step = this.advance(state, a);
      if (step.offsetEntry) this.offsetIndex.append(a.lastOffset, step.position);
      if (step.timeEntry) this.timeIndex.maybeAppend(state.maxTimestampSoFar, state.offsetOfMaxTimestampSoFar);
    }
    this.committedSize = state.size;
    this.offsetIndex.flush();
    this.timeIndex.flush();
  }

  // ---- reads ----

  /**
   * The read fd, opened on demand; every acquire needs one release, and the fd stays open (even if the
   * segment is deleted meanwhile) until then.
   */
  acquire(): number {
    return this.readFile.acquire();
  }

  release(): void {
    this.readFile.release();
  }

  /** A deleted or closed segment's read fd closes once its last reader is done. */
  private closeReadFdWhenIdle(): void {
    if (this.deleted || this.closed) this.readFile.close();
  }

  /**
   * Kafka's FileRecords.searchForOffsetWithSize: from `startPosition`, the first batch whose last offset
   * is ≥ target, or null if the segment holds none. The caller holds the read fd.
   */
  searchForOffset(fd: number, target: number, startPosition: number): BatchLocation | null {
    const reader = new HeaderReader(this.io, fd, this.committedSize);
    let position = startPosition;
    for (;;) {
      const h = reader.header(position);
      if (!h) return null;
      const size = batchSize(h.buf, h.at);
      if (size < RECORD_BATCH_OVERHEAD) return null;
      const last = readInt64(h.buf, h.at) + h.buf.readInt32BE(h.at + LAST_OFFSET_DELTA_OFFSET);
      if (last >= target) return { position, size };
      position += size;
    }
  }

  /**
   * Kafka's LogSegment.read: the region from the batch holding `startOffset`, at most `maxSize` bytes
   * (raised to the first batch's size with minOneBatch) and never past `maxPosition`. Null when the segment
   * has no batch at or after `startOffset`. Like Kafka, the region may end inside a batch.
   */
  read(fd: number, startOffset: number, maxSize: number, maxPosition: number, minOneBatch: boolean): BatchLocation | null {
    this.ensureIndexes();
    const start = this.searchForOffset(fd, startOffset, this.offsetIndex.lookup(startOffset).position);
    if (!start) return null;
    const adjustedMax = minOneBatch ? Math.max(maxSize, start.size) : maxSize;
    return { position: start.position, size: Math.max(0, Math.min(maxPosition - start.position, adjustedMax)) };
  }

  /**
   * Kafka's LogSegment.findOffsetByTimestamp: the first record at or after `startingOffset` whose
   * timestamp is ≥ target. Uncompressed batches are searched record by record as Kafka does; a compressed
   * batch answers with its first offset and max timestamp (its records would need decompressing).
   */
  findOffsetByTimestamp(target: number, startingOffset: number): TimestampAndOffset | null {
    this.ensureIndexes();
    const fromTime = this.timeIndex.lookup(target);
    const position = this.offsetIndex.lookup(Math.max(fromTime.offset, startingOffset)).position;
    const fd = this.acquire();
    try {
      const reader = new HeaderReader(this.io, fd, this.committedSize);
      for (let pos = position; ; ) {
        const h = reader.header(pos);
        if (!h) return null;
        const size = batchSize(h.buf, h.at);
        if (size < RECORD_BATCH_OVERHEAD) return null;
        const base = readInt64(h.buf, h.at);
        const last = base + h.buf.readInt32BE(h.at + LAST_OFFSET_DELTA_OFFSET);
        const maxTs = readInt64(h.buf, h.at + MAX_TIMESTAMP_OFFSET);
        if (maxTs >= target && last >= startingOffset) {
          const attributes = h.buf.readInt16BE(h.at + ATTRIBUTES_OFFSET);
          if ((attributes & TIMESTAMP_TYPE_MASK) !== 0 || compressionCodec(attributes) !== 0) {
            // Every record of a LogAppendTime batch carries maxTimestamp; a compressed one is answered per batch.
            return { timestamp: maxTs, offset: Math.max(base, startingOffset) };
          }
          const batch = Buffer.allocUnsafe(size);
          if (this.io.pread(fd, batch, 0, size, pos) === size) {
            const found = findRecordByTimestamp(batch, target, startingOffset);
            if (found) return found;
          }
        }
        pos += size;
      }
    } finally {
      this.release();
    }
  }

  // ---- loading and recovery ----

  /**
   * After a clean shutdown: walks the batch headers after the last index entry to find the next offset.
   * Returns it with the position where the walk stopped, which is the file size unless the tail is not
   * batches (then the caller recovers the segment).
   */
  loadNextOffset(): { nextOffset: number; end: number } {
    this.ensureIndexes();
    const from = this.offsetIndex.lastEntry();
    let nextOffset = this.offsetIndex.entries > 0 ? from.offset + 1 : this.baseOffset;
    let position = this.offsetIndex.entries > 0 ? from.position : 0;
    const fd = this.acquire();
    try {
      const reader = new HeaderReader(this.io, fd, this.committedSize);
      for (;;) {
        const h = reader.header(position);
        if (!h) break;
        const size = batchSize(h.buf, h.at);
        if (size < RECORD_BATCH_OVERHEAD || h.buf.readInt8(h.at + MAGIC_OFFSET) !== CURRENT_MAGIC || position + size > this.committedSize) break;
        nextOffset = readInt64(h.buf, h.at) + h.buf.readInt32BE(h.at + LAST_OFFSET_DELTA_OFFSET) + 1;
        position += size;
      }
    } finally {
      this.release();
    }
    return { nextOffset, end: position };
  }

  /**
   * Kafka's LogSegment.recover: validates every batch from position 0 (size, magic, CRC32C, offsets
   * increasing and within int32 of the base), rebuilds both indexes with Kafka's per-batch rule, and
   * truncates the log at the first bad or partial batch — after a crash the tail may hold a torn write
   * or a "nonsense block". Returns the bytes truncated and the next offset.
   */
  recover(): { truncated: number; nextOffset: number } {
    return this.scan(true);
  }

  private scan(truncate: boolean): { truncated: number; nextOffset: number } {
    this.indexesReady = true;
    this.offsetIndex.reset();
    this.timeIndex.reset();
    const fd = this.acquire();
    let valid = 0;
    let nextOffset = this.baseOffset;
    let lastIndexEntry = 0;
    let maxTs = NO_TIMESTAMP;
    let offsetOfMaxTs = -1;
    let firstTs: number | null = null;
    let fileSize: number;
    try {
      fileSize = fs.fstatSync(fd).size;
      const reader = new ChunkReader(this.io, fd, fileSize);
      for (;;) {
        const h = reader.view(valid, RECORD_BATCH_OVERHEAD);
        if (!h) break;
        const size = batchSize(h.buf, h.at);
        if (size < RECORD_BATCH_OVERHEAD || h.buf.readInt8(h.at + MAGIC_OFFSET) !== CURRENT_MAGIC) break;
        const b = reader.view(valid, size);
        if (!b || !hasValidCrc(b.buf, b.at, size, this.io)) break;
        const base = readInt64(b.buf, b.at);
        const delta = b.buf.readInt32BE(b.at + LAST_OFFSET_DELTA_OFFSET);
        const last = base + delta;
        if (delta < 0 || base < nextOffset || last - this.baseOffset > INT32_MAX) break;
        const batchMaxTs = readInt64(b.buf, b.at + MAX_TIMESTAMP_OFFSET);
        if (firstTs === null) firstTs = batchMaxTs;
        if (batchMaxTs > maxTs) {
          maxTs = batchMaxTs;
          offsetOfMaxTs = last;
        }
        if (valid - lastIndexEntry > this.options.indexIntervalBytes) {
          this.offsetIndex.append(last, valid);
          this.timeIndex.maybeAppend(maxTs, offsetOfMaxTs);
          lastIndexEntry = valid;
        }
        valid += size;
        nextOffset = last + 1;
      }
    } finally {
      this.release();
    }
    const truncated = fileSize - valid;
    if (truncated > 0 && truncate) {
      log.warn({ segment: this.logPath, validBytes: valid, truncated }, 'truncating invalid bytes at the end of the segment');
      fs.truncateSync(this.logPath, valid);
    } else if (truncated > 0) {
      log.error({ segment: this.logPath, validBytes: valid, fileSize }, 'segment holds invalid bytes; indexing only the valid prefix');
    }
    this.timeIndex.maybeAppend(maxTs, offsetOfMaxTs, true);
    this.offsetIndex.flush();
    this.timeIndex.flush();
    this.committedSize = truncate ? valid : Math.min(valid, fileSize);
    this.state = {
      size: this.committedSize,
      bytesSinceLastIndexEntry: valid - lastIndexEntry,
      maxTimestampSoFar: maxTs,
      offsetOfMaxTimestampSoFar: offsetOfMaxTs,
      offsetIndexEntries: this.offsetIndex.entries,
      timeIndexEntries: this.timeIndex.entries,
      lastTimeIndexTimestamp: this.timeIndex.lastEntry().timestamp,
      firstBatchTimestamp: firstTs,
    };
    return { truncated: truncate ? truncated : 0, nextOffset };
  }

  // ---- durability and lifecycle ----

  /**
   * fdatasync of everything written so far. Concurrent callers share syncs: a caller arriving while one
   * runs waits for the next, which starts after it and covers its writes.
   */
  sync(): Promise<void> {
    if (this.sealing) return this.sealing;
    if (!this.appendFile) return Promise.resolve();
    if (this.syncQueued) return this.syncQueued;
    if (!this.syncRunning) return this.startSync();
    this.syncQueued = this.syncRunning
      .catch(() => undefined)
      .then(() => {
        this.syncQueued = null;
        return this.startSync();
      });
    return this.syncQueued;
  }

  private startSync(): Promise<void> {
    const file = this.appendFile!;
    let fd: number;
    try {
      fd = file.acquire();
    } catch (err) {
      return Promise.reject(err);
    }
    // An fd opened after the write still flushes it: fdatasync works on the file, not the descriptor.
    const running = this.io.datasync(fd).finally(() => {
      file.release();
      if (this.syncRunning === running) this.syncRunning = null;
    });
    this.syncRunning = running;
    return running;
  }

  /**
   * Kafka's onBecomeInactiveSegment plus the flush that follows a roll: the final time-index entry,
   * then fdatasync of the log and fsync of the indexes, then the append fds close. Idempotent.
   */
  seal(): Promise<void> {
    if (this.sealing) return this.sealing;
    if (this.state) this.timeIndex.maybeAppend(this.state.maxTimestampSoFar, this.state.offsetOfMaxTimestampSoFar, true);
    const inFlight = this.syncQueued ?? this.syncRunning ?? Promise.resolve();
    const file = this.appendFile;
    this.sealing = (async () => {
      try {
        await inFlight.catch(() => undefined);
        // A deleted segment's bytes are going away: nothing to make durable.
        if (file && !this.deleted) await file.withAsync((fd) => this.io.datasync(fd));
        await Promise.all([this.offsetIndex.sync(), this.timeIndex.sync()]);
      } finally {
        this.offsetIndex.closeFd();
        this.timeIndex.closeFd();
        file?.close();
        this.appendFile = null;
      }
    })();
    return this.sealing;
  }

  /** Seals the segment (if it was writable) and closes the read fd once the last reader releases it. */
  async close(): Promise<void> {
    try {
      await this.seal();
    } finally {
      this.closed = true;
      this.closeReadFdWhenIdle();
    }
  }

  /**
   * Retention: renames the files to `.deleted` (a reader's fd keeps working), unlinks them after
   * `delayMs`, and closes the read fd once the last reader has released it. `onUnlinked` runs once the
   * files are gone, so whoever keeps the segment for that can let it go.
   */
  markDeleted(delayMs: number, onUnlinked?: () => void): void {
    if (this.deleted) return;
    this.deleted = true;
    this.onUnlinked = onUnlinked ?? null;
    const files = [this.logPath, this.offsetIndex.path, this.timeIndex.path];
    const renamed: string[] = [];
    for (const file of files) {
      try {
        fs.renameSync(file, file + DELETED_FILE_SUFFIX);
        renamed.push(file + DELETED_FILE_SUFFIX);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ file, err }, 'could not rename deleted segment file');
      }
    }
    this.logPath += DELETED_FILE_SUFFIX;
    this.offsetIndex.path += DELETED_FILE_SUFFIX;
    this.timeIndex.path += DELETED_FILE_SUFFIX;
    this.readFile.path = this.logPath;
    if (this.appendFile) this.appendFile.path = this.logPath;
    // A deleted segment's indexes are never written again (a late write would recreate an unlinked file).
    this.offsetIndex.discard();
    this.timeIndex.discard();
    void this.seal().catch((err) => log.warn({ segment: this.logPath, err }, 'final sync of a deleted segment failed'));
    this.pendingUnlink = renamed;
    if (delayMs <= 0) this.unlinkNow();
    else {
      this.unlinkTimer = setTimeout(() => this.unlinkNow(), delayMs);
      this.unlinkTimer.unref();
    }
    this.closeReadFdWhenIdle();
  }

  /** Removes the `.deleted` files now (also used at shutdown so no timer outlives the log). */
  unlinkNow(): void {
    if (this.unlinkTimer) clearTimeout(this.unlinkTimer);
    this.unlinkTimer = null;
    for (const file of this.pendingUnlink) removeQuietly(file);
    this.pendingUnlink = [];
    const done = this.onUnlinked;
    this.onUnlinked = null;
    done?.();
  }

  /** Removes the segment's files at once; only for segments nobody reads (recovery, loading). */
  deleteFilesNow(): void {
    for (const file of [this.logPath, this.offsetIndex.path, this.timeIndex.path]) removeQuietly(file);
    this.closed = true;
    this.offsetIndex.discard();
    this.timeIndex.discard();
    this.appendFile?.close();
    this.appendFile = null;
    this.closeReadFdWhenIdle();
  }

  /** Readers currently holding the read fd (for tests and diagnostics). */
  get activeReaders(): number {
    return this.readFile.holders;
  }

  get isDeleted(): boolean {
    return this.deleted;
  }
}

/**
 * Walks the records of an uncompressed CreateTime batch for the first one at or after `startingOffset`
 * with timestamp ≥ target. Only the varints before the key are decoded.
 */
function findRecordByTimestamp(batch: Buffer, target: number, startingOffset: number): TimestampAndOffset | null {
  const base = readInt64(batch, 0);
  const baseTimestamp = readInt64(batch, BASE_TIMESTAMP_OFFSET);
  const count = batch.readInt32BE(RECORDS_COUNT_OFFSET);
  let pos = RECORDS_OFFSET;
  for (let i = 0; i < count && pos < batch.length; i++) {
    const length = readZigzag(batch, pos);
    pos = length.next;
    const end = pos + length.value;
    const tsDelta = readZigzag(batch, pos + 1); // after the attributes byte
    const offsetDelta = readZigzag(batch, tsDelta.next);
    const timestamp = baseTimestamp + tsDelta.value;
    const offset = base + offsetDelta.value;
    if (timestamp >= target && offset >= startingOffset) return { timestamp, offset };
    pos = end;
  }
  return null;
}

/** A zigzag varint/varlong as a JS number (exact to 2^53, enough for timestamp deltas). */
function readZigzag(buf: Buffer, pos: number): { value: number; next: number } {
  let raw = 0;
  let scale = 1;
  let p = pos;
  for (let n = 0; n < 10 && p < buf.length; n++) {
    const b = buf[p++]!;
    raw += (b & 0x7f) * scale;
    scale *= 128;
    if ((b & 0x80) === 0) break;
  }
  // zigzag: even → raw/2, odd → -(raw+1)/2
  const value = raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  return { value, next: p };
}
