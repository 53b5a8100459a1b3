/**
 * Kafka's offset index (`.index`, KAFKA-NOTES §1.2): 8-byte entries `int32 relativeOffset, int32 position`
 * (big-endian), sparse, offsets strictly increasing. An entry (O, P) says: the append whose last offset is O
 * starts at byte P, so a lookup's scan from P finds the batch holding any offset ≥ O.
 */
import { IndexFile } from './index-file.js';

export const OFFSET_INDEX_ENTRY_SIZE = 8;
const INT32_MAX = 2_147_483_647;

export interface OffsetPosition {
  offset: number;
  position: number;
}

export class OffsetIndex extends IndexFile {
  /** Size of the segment's log; entries pointing past it are invalid. Infinity when unknown. */
  logSize = Infinity;

  constructor(path: string, baseOffset: number, maxIndexSize: number, options: { create: boolean }) {
    super(path, baseOffset, OFFSET_INDEX_ENTRY_SIZE, maxIndexSize, options);
  }

  relativeOffsetAt(i: number): number {
    return this.buf.readInt32BE(i * OFFSET_INDEX_ENTRY_SIZE);
  }

  positionAt(i: number): number {
    return this.buf.readInt32BE(i * OFFSET_INDEX_ENTRY_SIZE + 4);
  }

  entry(i: number): OffsetPosition {
    return { offset: this.baseOffset + this.relativeOffsetAt(i), position: this.positionAt(i) };
  }

  /** The last entry, or (baseOffset, 0) when empty. */
  lastEntry(): OffsetPosition {
    const n = this.entries;
    return n === 0 ? { offset: this.baseOffset, position: 0 } : this.entry(n - 1);
  }

  /** Appends (offset, position); offsets must increase, as Kafka's OffsetIndex.append insists. */
  append(offset: number, position: number): void {
    const relative = offset - this.baseOffset;
    if (relative < 0 || relative > INT32_MAX) throw new RangeError(`offset ${offset} does not fit segment ${this.baseOffset}'s index`);
    const n = this.entries;
    if (n > 0 && relative <= this.relativeOffsetAt(n - 1)) {
      throw new RangeError(`index offset ${offset} is not above the last indexed offset ${this.baseOffset + this.relativeOffsetAt(n - 1)}`);
    }
    const at = this.slot();
    this.buf.writeInt32BE(relative, at);
    this.buf.writeInt32BE(position, at + 4);
  }

  /** The entry with the largest offset ≤ target, or (baseOffset, 0) below the first entry. */
  lookup(target: number): OffsetPosition {
    const i = this.floorIndex(target - this.baseOffset, (k) => this.relativeOffsetAt(k));
    return i < 0 ? { offset: this.baseOffset, position: 0 } : this.entry(i);
  }

  protected override check(): string | null {
    let lastRel = -1;
    let lastPos = -1;
    for (let i = 0; i < this.count; i++) {
      const rel = this.relativeOffsetAt(i);
      const pos = this.positionAt(i);
      if (rel <= lastRel) return `entry ${i}: relative offset ${rel} does not increase`;
      if (pos < lastPos) return `entry ${i}: position ${pos} goes backwards`;
      if (pos >= this.logSize) return `entry ${i}: position ${pos} is beyond the log's ${this.logSize} bytes`;
      lastRel = rel;
      lastPos = pos;
    }
    return null;
  }
}
