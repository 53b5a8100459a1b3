import fs from 'node:fs';
import type { Socket } from 'node:net';
import { crc32cJs } from './crc32c.js';
import { socketGone } from './socket.js';
import { isFileRegion, type Io, type IoError, type SendPart, type SendResult } from './types.js';

export { flushSocket, socketGone } from './socket.js';

/** Chunk size for copying file regions through JS: large enough to amortise a pread, small enough to pool. */
const COPY_CHUNK = 256 * 1024;

/**
 * Writes one buffer, waiting for 'drain' when the socket's buffer is full (back-pressure).
 * `onFlushed` runs once the socket no longer holds the buffer.
 */
function writeWithBackpressure(socket: Socket, chunk: Buffer, sentBefore: number, onFlushed?: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return reject(socketGone(socket, sentBefore));
    const more = socket.write(chunk, onFlushed);
    if (more) return resolve();
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onClose = (): void => {
      cleanup();
      reject(socketGone(socket, sentBefore));
    };
    const cleanup = (): void => {
      socket.off('drain', onDrain);
      socket.off('close', onClose);
    };
    socket.on('drain', onDrain);
    socket.on('close', onClose);
  });
}

/**
 * The pure-JS backend: `fs` calls for files, and file regions copied through pooled buffers with
 * back-pressure for sends. Every feature works on it; record bytes just pass through JavaScript.
 */
export function createFallbackIo(): Io {
  const pool: Buffer[] = [];
  const takeChunk = (): Buffer => pool.pop() ?? Buffer.allocUnsafeSlow(COPY_CHUNK);

  return {
    kind: 'fallback',
    addonPath: null,

    crc32c: crc32cJs,

    openAppend(path) {
      return fs.openSync(path, 'a', 0o644);
    },

    appendv(fd, buffers) {
      let total = 0;
      for (const b of buffers) total += b.length;
      let written = fs.writevSync(fd, buffers as Buffer[]);
      // writev may write less than asked (signals, quotas); finish the rest buffer by buffer.
      if (written < total) {
        let skip = written;
        for (const b of buffers) {
          if (skip >= b.length) {
            skip -= b.length;
            continue;
          }
          let off = skip;
          skip = 0;
          while (off < b.length) {
            const n = fs.writeSync(fd, b, off, b.length - off);
            off += n;
            written += n;
          }
        }
      }
      return written;
    },

    datasync(fd) {
      return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
    },

    pread(fd, buf, offset, length, position) {
      let done = 0;
      while (done < length) {
        const n = fs.readSync(fd, buf, offset + done, length - done, position + done);
        if (n === 0) break;
        done += n;
      }
      return done;
    },

    async sendParts(socket: Socket, parts: readonly SendPart[]): Promise<SendResult> {
      let bytes = 0;
      for (const part of parts) {
        if (!isFileRegion(part)) {
          if (part.length === 0) continue;
          await writeWithBackpressure(socket, part, bytes);
          bytes += part.length;
          continue;
        }
        let position = part.position;
        let remaining = part.length;
        while (remaining > 0) {
          const chunk = takeChunk();
          const want = Math.min(remaining, chunk.length);
          const n = fs.readSync(part.fd, chunk, 0, want, position);
          if (n === 0) {
            pool.push(chunk);
            const err = new Error(`file region ended early: fd ${part.fd} at ${position}, ${remaining} bytes short`) as IoError;
            err.code = 'ERANGE';
            err.syscall = 'pread';
            err.bytesSent = bytes;
            throw err;
          }
          // The socket holds the chunk until it is flushed; only then does it go back to the pool.
          await writeWithBackpressure(socket, chunk.subarray(0, n), bytes, () => pool.push(chunk));
          bytes += n;
          position += n;
          remaining -= n;
        }
      }
      return { bytes, zeroCopyBytes: 0 };
    },
  };
}
