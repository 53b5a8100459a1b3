import type { Socket } from 'node:net';
import { getSystemErrorMap } from 'node:util';
import type { IoError } from './types.js';

/** Rounds of the flush barrier before giving up on a socket that someone keeps writing to. */
const MAX_FLUSH_ROUNDS = 16;

/**
 * Waits until everything Node has queued on the socket reached the kernel, or the socket fails.
 * A native send may start only then: bytes still in Node's queue would otherwise arrive after it.
 */
export async function flushSocket(socket: Socket): Promise<void> {
  // Node counts a write in writableLength until the kernel took all of it, so zero means there is
  // nothing to wait for (and saves the empty write's round trip, ~8 µs per send here).
  if (socket.writableLength === 0 && !socket.connecting && !socket.destroyed) return;
  for (let round = 0; round < MAX_FLUSH_ROUNDS; round++) {
    await new Promise<void>((resolve, reject) => {
      if (socket.destroyed) return reject(socketGone(socket, 0));
      socket.write('', (err) => (err ? reject(Object.assign(err, { bytesSent: 0 })) : resolve()));
    });
    // The empty write's callback runs once every earlier write is done; a non-zero length here
    // means someone wrote after it, so wait for that too.
    if (socket.writableLength === 0) return;
  }
  const err = new Error(`socket still had ${socket.writableLength} bytes queued after ${MAX_FLUSH_ROUNDS} flushes`) as IoError;
  err.code = 'EBUSY';
  err.syscall = 'write';
  err.bytesSent = 0;
  throw err;
}

let errnoByCode: Map<string, number> | undefined;

/** libuv's (negative) error number for a code such as 'EPIPE', as Node puts in `err.errno`. */
export function uvErrno(code: string): number | undefined {
  errnoByCode ??= new Map([...getSystemErrorMap()].map(([errno, [name]]) => [name, errno]));
  return errnoByCode.get(code);
}

export function socketGone(socket: Socket, bytesSent: number): IoError {
  const cause = socket.errored as IoError | null;
  const err = new Error(`socket closed during send (${bytesSent} bytes sent)`) as IoError;
  err.code = cause?.code ?? 'EPIPE';
  err.errno = typeof cause?.errno === 'number' ? cause.errno : uvErrno(err.code);
  err.syscall = cause?.syscall ?? 'write';
  err.bytesSent = bytesSent;
  return err;
}

interface SocketInternals {
  _handle?: { fd?: number } | null;
  _unrefTimer?: () => void;
}

/** The socket's own file descriptor, or -1 where it has none (TLS, Windows, closed, not yet connected). */
export function socketFd(socket: Socket): number {
  const fd = (socket as unknown as SocketInternals)._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
}

/** Node refreshes a socket's idle timeout only on its own writes; a native send must do it itself. */
export function refreshIdleTimer(socket: Socket): void {
  (socket as unknown as SocketInternals)._unrefTimer?.();
}
