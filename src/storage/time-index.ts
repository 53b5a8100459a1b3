/**
 * Kafka's time index (`.timeindex`, KAFKA-NOTES §1.3): 12-byte entries `int64 timestamp, int32 relativeOffset`
 * (big-endian). An entry (T, O) says: the largest timestamp up to offset O is T, and O is where it first
 * appeared. Timestamps strictly increase (an entry is added only above the last one), offsets never fall.
 */
import { NO_TIMESTAMP, readInt64, writeInt64 } from './record-batch.js';
import { IndexFile } from './index-file.js';

export const TIME_INDEX_ENTRY_SIZE = 12;
const INT32_MAX = 2_147_483_647;

export interface TimestampOffset {
  timestamp: number;
  offset: number;
}

export class TimeIndex extends IndexFile {
  constructor(path: string, baseOffset: number, maxIndexSize: number, options: { create: boolean }) {
    super(path, baseOffset, TIME_INDEX_ENTRY_SIZE, maxIndexSize, options);
  }

  timestampAt(i: number): number {
    return readInt64(this.buf, i * TIME_INDEX_ENTRY_SIZE);
  }

  relativeOffsetAt(i: number): number {
    return this.buf.readInt32BE(i * TIME_INDEX_ENTRY_SIZE + 8);
  }

  entry(i: number): TimestampOffset {
    return { timestamp: this.timestampAt(i), offset: this.baseOffset + this.relativeOffsetAt(i) };
  }

  /** The last entry, or (NO_TIMESTAMP, baseOffset) when empty, as Kafka's TimeIndex.lastEntry. */
  lastEntry(): TimestampOffset {
    const n = this.entries;
    return n === 0 ? { timestamp: NO_TIMESTAMP, offset: this.baseOffset } : this.entry(n - 1);
  }

  /**
   * Adds (timestamp, offset) if the timestamp is above the last entry's; `skipFullCheck` lets the final
   * entry written at roll or close go in even when the index is full (Kafka does the same).
   */
  maybeAppend(timestamp: number, offset: number, skipFullCheck = false): void {
    if (!skipFullCheck && this.isFull) return;
    const last = this.lastEntry();
    if (this.entries > 0 && offset < last.offset) {
      throw new RangeError(`time index offset ${offset} is below the last indexed offset ${last.offset}`);
    }
    if (timestamp <= last.timestamp) return;
    const relative = offset - this.baseOffset;
    if (relative < 0 || relative > INT32_MAX) throw new RangeError(`offset ${offset} does not fit segment ${this.baseOffset}'s time index`);
    const at = this.slot();
    writeInt64(this.buf, timestamp, at);
    this.buf.writeInt32BE(relative, at + 8);
  }

  /** The entry with the largest timestamp ≤ target, or (NO_TIMESTAMP, baseOffset) if none. */
  lookup(target: number): TimestampOffset {
    const i = this.floorIndex(target, (k) => this.timestampAt(k));
    return i < 0 ? { timestamp: NO_TIMESTAMP, offset: this.baseOffset } : this.entry(i);
  }

  protected override check(): string | null {
    let lastTs = NO_TIMESTAMP;
    let lastRel = 0;
    for (let i = 0; i < this.count; i++) {
      const ts = this.timestampAt(i);
      const rel = this.relativeOffsetAt(i);
      if (ts <= lastTs) return `entry ${i}: timestamp ${ts} does not increase`;
      if (rel < lastRel || rel < 0) return `entry ${i}: relative offset ${rel} goes backwards`;
      lastTs = ts;
      lastRel = rel;
    }
    return null;
  }
}
