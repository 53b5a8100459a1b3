import type { Socket } from 'node:net';
import { isFileRegion, type Io, type SendPart } from '../io/types.js';

/** A response's place in the connection's order, filled when its handler finishes. */
interface Slot {
  parts: readonly SendPart[] | null;
  filled: boolean;
  /** Runs once the response left (or failed to leave): releases segment regions and the like. */
  afterSend: (() => void) | undefined;
}

export interface SendStats {
  bytesOut: number;
  zeroCopyBytes: number;
}

/**
 * Keeps responses leaving a connection in request order, whatever order their handlers finish in.
 * Buffer-only responses are written straight to the socket; a response holding file regions goes out
 * through `io.sendParts`, and nothing else is written until it ends.
 */
export class ResponseQueue {
  private readonly slots: Slot[] = [];
  private sending = false;
  private closed = false;
  private pumpScheduled = false;

  constructor(
    private readonly socket: Socket,
    private readonly io: Io,
    /** Counters this queue adds to (the broker's, shared by every connection). */
    readonly stats: SendStats,
    private readonly events: {
      /** A send failed (peer gone): the connection should close. */
      onSendError: (err: Error) => void;
      /** Responses left the queue: a paused reader may resume. */
      onProgress: () => void;
    },
  ) {}

  /** Responses reserved and not yet sent. */
  get length(): number {
    return this.slots.length;
  }

  get busy(): boolean {
    return this.sending;
  }

  /** Reserves the next place in order; fill it with `parts` (or null for no response, as with acks=0). */
  reserve(): (parts: readonly SendPart[] | null, afterSend?: () => void) => void {
    const slot: Slot = { parts: null, filled: false, afterSend: undefined };
    if (!this.closed) this.slots.push(slot);
    return (parts, afterSend) => {
      slot.parts = parts;
      slot.afterSend = afterSend;
      slot.filled = true;
      if (this.closed) return this.drop(slot);
      this.schedulePump();
    };
  }

  /**
   * Pumps once the current callbacks and promise reactions have run: responses completed together (a
   * group commit acknowledges many produce requests at once) leave in one corked writev, not one
   * write(2) each.
   */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    process.nextTick(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /**
   * Drops every unsent response (the connection is gone) and releases what they hold. A response being
   * sent is released only when its send settles: its file regions must stay open under the transfer.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const inFlight = this.sending ? this.slots[0] : undefined;
    for (const slot of this.slots.splice(0)) if (slot !== inFlight) this.drop(slot);
  }

  private drop(slot: Slot): void {
    const release = slot.afterSend;
    slot.afterSend = undefined;
    release?.();
  }

  private pump(): void {
    if (this.sending || this.closed) return;
    let corked = false;
    while (this.slots.length > 0 && this.slots[0]!.filled) {
      const slot = this.slots[0]!;
      const parts = slot.parts;
      if (parts && parts.some(isFileRegion)) {
        if (corked) this.socket.uncork();
        this.sendRegions(slot, parts);
        return;
      }
      this.slots.shift();
      if (parts) {
        if (!corked) {
          this.socket.cork();
          corked = true;
        }
        for (const part of parts as Buffer[]) {
          this.socket.write(part);
          this.stats.bytesOut += part.length;
        }
      }
      this.drop(slot);
    }
    if (corked) this.socket.uncork();
    this.events.onProgress();
  }

  private sendRegions(slot: Slot, parts: readonly SendPart[]): void {
    this.sending = true;
    this.io.sendParts(this.socket, parts).then(
      (result) => {
        this.stats.bytesOut += result.bytes;
        this.stats.zeroCopyBytes += result.zeroCopyBytes;
        this.finishSend(slot);
      },
      (err: Error) => {
        this.finishSend(slot);
        this.events.onSendError(err);
      },
    );
  }

  private finishSend(slot: Slot): void {
    this.sending = false;
    if (this.slots[0] === slot) this.slots.shift();
    this.drop(slot);
    this.pump();
  }
}
