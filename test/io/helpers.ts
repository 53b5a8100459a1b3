import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A fresh directory under the OS temp dir; `remove()` deletes it. */
export function tempDir(prefix = 'penstock-io-'): { dir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Deterministic, position-dependent bytes, so a misplaced byte changes the content. */
export function patternBytes(length: number, seed = 1): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  return buf;
}

/** Writes a file of `length` pattern bytes in 8 MiB pieces (large files never sit in one Buffer). */
export function writePatternFile(file: string, length: number, seed = 1): void {
  const piece = patternBytes(Math.min(length, 8 << 20), seed);
  const fd = fs.openSync(file, 'w');
  try {
    for (let done = 0; done < length; ) {
      const n = Math.min(piece.length, length - done);
      fs.writeSync(fd, piece, 0, n, done);
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Bytes [position, position+length) of a file. */
export function readRange(file: string, position: number, length: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(fd, buf, done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return buf.subarray(0, done);
  } finally {
    fs.closeSync(fd);
  }
}

export interface LoopbackPair {
  server: net.Server;
  /** The accepted side: what the broker writes to. */
  sender: net.Socket;
  /** The connecting side: the consumer. */
  receiver: net.Socket;
  close(): Promise<void>;
}

/** A connected TCP pair on 127.0.0.1 (port 0). */
export async function loopbackPair(serverOptions: net.ServerOpts = {}): Promise<LoopbackPair> {
  const server = net.createServer(serverOptions);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const receiver = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    receiver.once('connect', resolve);
    receiver.once('error', reject);
  });
  const sender = await accepted;
  // A reset peer makes the sender's reads fail; tests look at the send's rejection instead.
  sender.on('error', () => {});
  receiver.on('error', () => {});
  return {
    server,
    sender,
    receiver,
    async close() {
      sender.destroy();
      receiver.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface Received {
  length: number;
  sha256: string;
  bytes: Buffer | null;
}

/**
 * Reads the socket to its end. `keep` keeps the bytes (else only length and hash); `slow` makes
 * the reader pause briefly every few chunks, so the sender meets a full window (EAGAIN).
 */
export function receiveAll(socket: net.Socket, options: { keep?: boolean; slow?: boolean } = {}): Promise<Received> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    let length = 0;
    let count = 0;
    socket.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      length += chunk.length;
      if (options.keep) chunks.push(chunk);
      if (options.slow && ++count % 8 === 0) {
        socket.pause();
        setTimeout(() => socket.resume(), 1);
      }
    });
    socket.once('end', () => resolve({ length, sha256: hash.digest('hex'), bytes: options.keep ? Buffer.concat(chunks) : null }));
    socket.once('error', reject);
  });
}

export function sha256(...pieces: Buffer[]): string {
  const hash = createHash('sha256');
  for (const p of pieces) hash.update(p);
  return hash.digest('hex');
}

/** Hash of a file range, read in pieces. */
export function sha256OfFileRange(file: string, position: number, length: number): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (let done = 0; done < length; ) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, length - done), position + done);
      if (n === 0) throw new Error(`file ended at ${position + done}`);
      hash.update(buf.subarray(0, n));
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** Polls `check` every few ms until it holds or `limitMs` passes; returns whether it held. */
export async function waitFor(check: () => boolean, limitMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  for (let i = 0; i < 100_000 && Date.now() < deadline; i++) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return check();
}

export const isNativeProject = process.env.PENSTOCK_IO !== 'fallback';
