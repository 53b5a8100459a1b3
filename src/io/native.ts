import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32cJs } from './crc32c.js';
import { createFallbackIo } from './fallback.js';
import { flushSocket, refreshIdleTimer, socketFd, socketGone } from './socket.js';
import type { Io, IoError, SendPart, SendResult } from './types.js';

/** The binding interface version this file was written against (native/addon.cc kBindingVersion). */
const BINDING_VERSION = 1;

/**
 * Below this many bytes CRC32C runs in JS even on native: a call into the addon costs 110–150 ns
 * here whatever the size, and slicing-by-8 in JS does 64 B in ~80 ns, 96 B in ~130 ns, 128 B in
 * ~170 ns (Node 20, x64 with SSE4.2; measured by bench/io-micro.mjs's method).
 */
const CRC32C_NATIVE_MIN_BYTES = 96;

export type SendCallback = (err: IoError | null, bytes: number, zeroCopyBytes: number) => void;

/** The addon's exports, as native/addon.cc defines them. */
export interface NativeBinding {
  readonly version: number;
  readonly features: {
    /** Which CRC32C implementation this CPU got. */
    readonly crc32c: 'sse4.2' | 'armv8' | 'table';
    /** sendfile(2) to a socket fd works (Linux, macOS). */
    readonly sendfile: boolean;
    /** splice(2) works (Linux). */
    readonly splice: boolean;
    /** The file calls work (not on Windows, where they report ENOSYS). */
    readonly files: boolean;
  };
  crc32c(buf: Uint8Array, start?: number, end?: number): number;
  openAppend(path: string): number;
  appendv(fd: number, buffers: readonly Uint8Array[]): number;
  datasync(fd: number): Promise<void>;
  pread(fd: number, buf: Uint8Array, offset: number, length: number, position: number): number;
  /**
   * Sends parts to a non-blocking socket fd. Returns an id for `cancelSend`, or 0 when the send
   * already ended and `done` was called synchronously. `done` may run before this returns.
   */
  sendParts(socketFd: number, parts: readonly SendPart[], done: SendCallback): number;
  /** Like sendParts for one region, file → pipe → socket by splice(2). */
  spliceFileToSocket(socketFd: number, fileFd: number, position: number, length: number, done: SendCallback): number;
  /** Stops a pending send; `done` then gets ECANCELED. False when the id is unknown or finished. */
  cancelSend(id: number): boolean;
  /**
   * Moves what `srcFd` (a non-blocking socket or a pipe) has now, up to `length` bytes, into
   * `fileFd` at `offset` by splice(2); returns the bytes moved (0 at end of input; throws EAGAIN
   * when nothing is available yet). `fileFd` must not be O_APPEND: the kernel refuses it (EINVAL).
   */
  spliceToFile(srcFd: number, fileFd: number, offset: number, length: number): number;
  /** Counters of this environment's send machinery, for tests and benchmarks. */
  stats(): { activeTransfers: number; inlineSends: number; bursts: number; polls: number };
}

const REQUIRED_FUNCTIONS = [
  'crc32c',
  'openAppend',
  'appendv',
  'datasync',
  'pread',
  'sendParts',
  'spliceFileToSocket',
  'cancelSend',
  'spliceToFile',
  'stats',
] as const;

export interface LoadedAddon {
  binding: NativeBinding;
  /** The `.node` file that was loaded. */
  path: string;
}

export interface LoadOptions {
  /** Package root to look for `build/Release` and `prebuilds/` in; defaults to penstock's own. */
  root?: string;
}

const require = createRequire(import.meta.url);

/** src/io and dist/io are both two levels below the package root. */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Checks that `binding` has everything this file uses; throws naming what is missing. */
export function verifyBinding(binding: unknown, addonPath: string): NativeBinding {
  const b = binding as Record<string, unknown> | null;
  if (b === null || typeof b !== 'object') throw new Error(`native addon ${addonPath} exported nothing usable`);
  const missing: string[] = REQUIRED_FUNCTIONS.filter((name) => typeof b[name] !== 'function');
  if (typeof b.features !== 'object' || b.features === null) missing.push('features');
  if (missing.length > 0) throw new Error(`native addon ${addonPath} lacks ${missing.join(', ')}`);
  if (b.version !== BINDING_VERSION) {
    throw new Error(`native addon ${addonPath} has binding version ${String(b.version)}, this code needs ${BINDING_VERSION}: rebuild it`);
  }
  return binding as NativeBinding;
}

/** Loads the addon (build/Release, build/Debug, then prebuilds/, as node-gyp-build orders them). */
export function loadAddon(options: LoadOptions = {}): LoadedAddon {
  const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
  const addonPath = nodeGypBuild.resolve(options.root ?? PACKAGE_ROOT);
  return { binding: verifyBinding(require(addonPath), addonPath), path: addonPath };
}

/** Loads the native addon as an Io. Throws, with the reason, when it cannot be loaded or is incomplete. */
export function loadNativeIo(options: LoadOptions = {}): Io {
  const { binding, path: addonPath } = loadAddon(options);
  // The copy path serves sockets without an fd (TLS, Windows) and platforms without sendfile.
  const js = createFallbackIo();
  const files = binding.features.files;

  return {
    kind: 'native',
    addonPath,

    crc32c(buf, start = 0, end = buf.length) {
      return end - start < CRC32C_NATIVE_MIN_BYTES ? crc32cJs(buf, start, end) : binding.crc32c(buf, start, end);
    },

    openAppend: files ? (p) => binding.openAppend(p) : js.openAppend,
    appendv: files ? (fd, buffers) => binding.appendv(fd, buffers) : js.appendv,
    datasync: files ? (fd) => binding.datasync(fd) : js.datasync,
    pread: files ? (fd, buf, offset, length, position) => binding.pread(fd, buf, offset, length, position) : js.pread,

    // Bytes sent here bypass Node's stream: socket.bytesWritten does not count them (SendResult does).
    async sendParts(socket: Socket, parts: readonly SendPart[]): Promise<SendResult> {
      if (!binding.features.sendfile || socketFd(socket) < 0) return js.sendParts(socket, parts);
      await flushSocket(socket);
      const fd = socketFd(socket);
      if (socket.destroyed || fd < 0) throw socketGone(socket, 0);
      return sendNative(binding, socket, (done) => binding.sendParts(fd, parts.slice(), done));
    },
  };
}

/**
 * Runs one native transfer on `socket`, cancelling it when the socket closes. `start` begins the
 * transfer and returns its id (0 when it already finished).
 */
export function sendNative(binding: NativeBinding, socket: Socket, start: (done: SendCallback) => number): Promise<SendResult> {
  return new Promise((resolve, reject) => {
    let id = 0;
    let settled = false;
    const onClose = (): void => {
      binding.cancelSend(id);
    };
    const done: SendCallback = (err, bytes, zeroCopyBytes) => {
      settled = true;
      socket.off('close', onClose);
      refreshIdleTimer(socket);
      if (!err) return resolve({ bytes, zeroCopyBytes });
      // Node's read side often notices a reset first (ECONNRESET, or EOF and an automatic end) and
      // closes the socket, which cancels the send: the peer leaving is then the true cause.
      const cause = socket.errored as IoError | null;
      if (err.code === 'ECANCELED' && (cause?.code || socket.readableEnded)) {
        return reject(socketGone(socket, err.bytesSent ?? bytes));
      }
      reject(err);
    };
    id = start(done);
    if (!settled) socket.once('close', onClose);
  });
}
