/**
 * Cuts a TCP byte stream into Kafka frames (`int32 size` + `size` bytes). A frame that lies inside one
 * chunk is handed out as a view of that chunk; only a frame spanning chunks is copied into one buffer.
 */
export class FrameTooLargeError extends Error {
  constructor(readonly size: number, readonly limit: number) {
    super(size < 0 ? `negative frame size ${size}` : `frame of ${size} bytes exceeds socket.request.max.bytes ${limit}`);
    this.name = 'FrameTooLargeError';
  }
}

export class Framer {
  /** Chunks of the frame being assembled, when it spans chunks. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Size of the frame being assembled, once its 4-byte prefix is known; -1 before. */
  private expected = -1;

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes held for an incomplete frame. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** Feeds a chunk; calls `onFrame` with each complete frame body (without the size prefix), in order. */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    let pos = 0;
    if (this.pendingBytes > 0) {
      pos = this.continuePending(chunk, onFrame);
      if (pos < 0) return;
    }
    while (chunk.length - pos >= 4) {
      const size = chunk.readInt32BE(pos);
      this.check(size);
      if (chunk.length - pos - 4 < size) break;
      onFrame(chunk.subarray(pos + 4, pos + 4 + size));
      pos += 4 + size;
    }
    if (pos < chunk.length) {
      this.pending.push(chunk.subarray(pos));
      this.pendingBytes = chunk.length - pos;
      this.expected = this.pendingBytes >= 4 ? chunk.readInt32BE(pos) : -1;
    }
  }

  /** Adds `chunk` to the partial frame; returns the position in `chunk` after it, or -1 if still partial. */
  private continuePending(chunk: Buffer, onFrame: (frame: Buffer) => void): number {
    if (this.expected < 0) {
      const need = 4 - this.pendingBytes;
      if (chunk.length < need) {
        this.pending.push(chunk);
        this.pendingBytes += chunk.length;
        return -1;
      }
      const prefix = Buffer.concat([...this.pending, chunk.subarray(0, need)], 4);
      this.expected = prefix.readInt32BE(0);
      this.check(this.expected);
    }
    const total = 4 + this.expected;
    const need = total - this.pendingBytes;
    if (chunk.length < need) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      return -1;
    }
    const frame = Buffer.concat([...this.pending, chunk.subarray(0, need)], total);
    this.pending = [];
    this.pendingBytes = 0;
    this.expected = -1;
    onFrame(frame.subarray(4));
    return need;
  }

  private check(size: number): void {
    if (size < 0 || size > this.maxFrameBytes) throw new FrameTooLargeError(size, this.maxFrameBytes);
  }
}
