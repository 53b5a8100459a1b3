import type { Socket } from 'node:net';

/** A byte range of an open file, sent to a socket without entering JavaScript where the backend allows. */
export interface FileRegion {
  readonly fd: number;
  readonly position: number;
  readonly length: number;
}

/** One piece of an outgoing response: bytes already in memory, or a region of a segment file. */
export type SendPart = Buffer | FileRegion;

export function isFileRegion(part: SendPart): part is FileRegion {
  return !Buffer.isBuffer(part);
}

export interface SendResult {
  /** Every byte written to the socket by this send. */
  bytes: number;
  /** The bytes of file regions that went file → socket inside the kernel (sendfile/splice). */
  zeroCopyBytes: number;
}

/**
 * An I/O error with Node's shape (`code`, `errno`, `syscall`); a failed send also says how much it sent.
 */
export interface IoError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
  bytesSent?: number;
}

/**
 * The system calls penstock needs, with one native and one pure-JS implementation.
 * The rest of the code never asks which one it has.
 */
export interface Io {
  readonly kind: 'native' | 'fallback';
  /** Path of the loaded `.node` file, or null on the fallback. */
  readonly addonPath: string | null;

  /** CRC-32C (Castagnoli) of bytes [start, end) of `buf`, as an unsigned 32-bit number. */
  crc32c(buf: Uint8Array, start?: number, end?: number): number;

  /** Opens (creating if needed, mode 0644) a file for appending: O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC. */
  openAppend(path: string): number;
  /** Appends all buffers in order with writev(2), looping on short writes. Returns bytes written. Synchronous. */
  appendv(fd: number, buffers: readonly Buffer[]): number;
  /** fdatasync(2), off the event loop. */
  datasync(fd: number): Promise<void>;
  /** pread(2) into `buf[offset, offset+length)` from file `position`. Returns bytes read (short at EOF). Synchronous. */
  pread(fd: number, buf: Buffer, offset: number, length: number, position: number): number;

  /**
   * Sends `parts` in order to `socket`, after everything already queued on the socket has flushed.
   * Nothing else may write to the socket until the promise settles. Rejects with an IoError carrying
   * `bytesSent` when the peer goes away (EPIPE/ECONNRESET) or the socket is destroyed.
   */
  sendParts(socket: Socket, parts: readonly SendPart[]): Promise<SendResult>;
}
