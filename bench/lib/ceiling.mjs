// The ceiling: the system calls penstock is built on, through the addon, with no broker around them.
// sendfile of a page-cached file to a loopback socket read by a separate process (the same lean
// reader the load generator uses), and O_APPEND writev of 1 MiB buffers into a new file.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WORKER, killPid, spawnTracked, installCleanup } from './procs.mjs';

const MiB = 1024 * 1024;
const now = () => performance.now();

/** The addon's raw binding and helpers, or a reason why not. */
export async function loadNative() {
  try {
    const native = await import('../../dist/io/native.js');
    const socket = await import('../../dist/io/socket.js');
    if (typeof native.loadAddon !== 'function') return { error: 'dist/io/native.js exports no loadAddon (addon glue not built)' };
    const { binding, path: addonPath } = native.loadAddon();
    return { binding, addonPath, native, socketFd: socket.socketFd, sendNative: native.sendNative };
  } catch (err) {
    return { error: `native addon did not load: ${err.message}` };
  }
}

/** The I/O backend by name, as the broker would get it with PENSTOCK_IO. */
export async function loadIo(backend) {
  if (backend === 'fallback') {
    const { createFallbackIo } = await import('../../dist/io/fallback.js');
    return createFallbackIo();
  }
  const { loadNativeIo } = await import('../../dist/io/native.js');
  return loadNativeIo();
}

/**
 * Reader process: connects, counts bytes with one reused 1 MiB buffer, and on the sender's end-of-stream
 * answers with the count (8 bytes) so the sender can time the whole transfer.
 */
export function runSink({ port, maxMs = 120_000 }) {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    let firstAt = 0;
    const cpu0 = process.cpuUsage();
    const socket = net.connect({
      host: '127.0.0.1',
      port,
      allowHalfOpen: true,
      onread: {
        buffer: Buffer.allocUnsafe(MiB),
        callback: (n) => {
          if (bytes === 0) firstAt = now();
          bytes += n;
        },
      },
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`sink gave up after ${maxMs} ms with ${bytes} bytes`));
    }, maxMs);
    socket.on('end', () => {
      const lastAt = now();
      const cpu = process.cpuUsage(cpu0);
      const answer = Buffer.alloc(8);
      answer.writeBigUInt64BE(BigInt(bytes));
      socket.end(answer, () => {
        clearTimeout(timer);
        resolve({ bytes, seconds: (lastAt - firstAt) / 1000, cpu: { user: cpu.user / 1e6, system: cpu.system / 1e6 } });
      });
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** A file of `bytes` bytes, read once so it sits in the page cache. */
export function pageCachedFile(dir, bytes) {
  const file = path.join(dir, 'ceiling.log');
  const fd = fs.openSync(file, 'w');
  const piece = Buffer.alloc(8 * MiB, 0x6b);
  for (let off = 0; off < bytes; off += piece.length) fs.writeSync(fd, piece, 0, Math.min(piece.length, bytes - off), off);
  fs.closeSync(fd);
  const rfd = fs.openSync(file, 'r');
  const scratch = Buffer.allocUnsafe(8 * MiB);
  for (let off = 0; off < bytes; off += scratch.length) fs.readSync(rfd, scratch, 0, scratch.length, off);
  return { file, fd: rfd };
}

/**
 * Sends to `connections` sink processes, one socket each, with `sendOnce(socket, i)` (awaited, one
 * call at a time per socket, the sockets concurrently) for a warm-up and then a window bounded by time
 * and bytes; the window ends when every sink has every byte. Returns throughput and this process's
 * CPU over the window, and the sinks' CPU per byte.
 */
export async function sendLoopToSink({ sendOnce, warmupMs, durationMs, maxBytes, connections = 1 }) {
  installCleanup();
  const server = net.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const acceptedAll = new Promise((resolve) => {
    const sockets = [];
    server.on('connection', (s) => {
      sockets.push(s);
      if (sockets.length === connections) resolve(sockets);
    });
  });
  const sinks = Array.from({ length: connections }, () => {
    const child = spawnTracked(process.execPath, [WORKER, 'sink', JSON.stringify({ port: server.address().port, maxMs: warmupMs + durationMs + 60_000 })]);
    const sink = { child, out: '', err: '' };
    child.stdout.on('data', (d) => (sink.out += d));
    child.stderr.on('data', (d) => (sink.err += d));
    sink.exit = new Promise((r) => child.once('close', r));
    return sink;
  });
  try {
    const sockets = await acceptedAll;
    const answers = sockets.map((socket) => {
      socket.setNoDelay(true);
      return new Promise((resolve, reject) => {
        const parts = [];
        socket.on('data', (d) => parts.push(d));
        socket.on('end', () => resolve(Buffer.concat(parts)));
        socket.on('error', reject);
      });
    });
    const sent = new Array(connections).fill(0);
    let calls = 0;
    let phase = 'warmup';
    const total = () => sent.reduce((a, b) => a + b, 0);
    const t0 = now();
    let warmBytes = 0;
    let start = 0;
    let cpu0;
    const loop = async (k) => {
      for (;;) {
        const t = now();
        if (phase === 'warmup' && (t - t0 >= warmupMs || total() >= maxBytes / 4)) {
          // The first socket to see the end of the warm-up opens the window for all.
          phase = 'measure';
          warmBytes = total();
          cpu0 = process.cpuUsage();
          start = t;
        }
        if (phase === 'measure' && (t - start >= durationMs || total() - warmBytes >= maxBytes)) break;
        sent[k] += (await sendOnce(sockets[k], calls++)).bytes;
      }
      sockets[k].end();
    };
    await Promise.all(sockets.map((_, k) => loop(k)));
    const got = await Promise.all(answers);
    const end = now();
    const cpu = process.cpuUsage(cpu0);
    await Promise.all(sinks.map((s) => s.exit));
    for (let k = 0; k < connections; k++) {
      const received = got[k].length === 8 ? Number(got[k].readBigUInt64BE(0)) : -1;
      if (received !== sent[k]) throw new Error(`sink ${k} received ${received} bytes, ${sent[k]} were sent`);
    }
    const sinkCpu = sinks.map((s) => JSON.parse(s.out.trim().split('\n').pop()).cpu).reduce((a, c) => a + c.user + c.system, 0);
    const bytes = total() - warmBytes;
    const seconds = (end - start) / 1000;
    return {
      connections,
      bytes,
      totalBytes: total(),
      seconds,
      gbPerSec: bytes / seconds / 1e9,
      senderCpu: { user: cpu.user / 1e6, system: cpu.system / 1e6 },
      // The sinks ran for warm-up and window alike: their CPU is per byte of the whole transfer.
      sinkCpuPerGb: sinkCpu / (total() / 1e9),
      calls,
    };
  } catch (err) {
    const sinkErr = sinks.map((s) => s.err.trim()).filter(Boolean).join(' | ');
    throw new Error(`${err.message}${sinkErr ? ` (sink: ${sinkErr.slice(-500)})` : ''}`);
  } finally {
    for (const s of sinks) killPid(s.child.pid);
    server.close();
  }
}

/** sendfile(2) ceiling: one 1 MiB region of a page-cached file per addon call, on 1 or more sockets at once. */
export async function runSendfileCeiling({ fileBytes, chunkBytes = MiB, warmupMs, durationMs, maxBytes, connections = 1 }) {
  const n = await loadNative();
  if (n.error) return { skipped: n.error };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'penstock-ceiling-'));
  try {
    const { fd } = pageCachedFile(dir, fileBytes);
    const chunks = Math.floor(fileBytes / chunkBytes);
    const result = await sendLoopToSink({
      warmupMs,
      durationMs,
      maxBytes,
      connections,
      sendOnce: (socket, i) => {
        const region = { fd, position: (i % chunks) * chunkBytes, length: chunkBytes };
        return n.sendNative(n.binding, socket, (done) => n.binding.sendParts(n.socketFd(socket), [region], done));
      },
    });
    fs.closeSync(fd);
    return { chunkBytes, fileBytes, ...result, stats: n.binding.stats() };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** writev(2) ceiling: `buffersPerCall` 1 MiB buffers per addon appendv on an O_APPEND fd, into a new file. */
export async function runWritevCeiling({ bufferBytes = MiB, buffersPerCall = 1, warmupMs, durationMs, maxBytes }) {
  const n = await loadNative();
  if (n.error) return { skipped: n.error };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'penstock-ceiling-'));
  try {
    const buffers = Array.from({ length: buffersPerCall }, (_, i) => Buffer.alloc(bufferBytes, 0x61 + i));
    const fd = n.binding.openAppend(path.join(dir, 'append.log'));
    let written = 0;
    const t0 = now();
    while (now() - t0 < warmupMs && written < maxBytes / 4) written += n.binding.appendv(fd, buffers);
    const warm = written;
    const cpu0 = process.cpuUsage();
    const start = now();
    while (now() - start < durationMs && written - warm < maxBytes) written += n.binding.appendv(fd, buffers);
    const end = now();
    const cpu = process.cpuUsage(cpu0);
    fs.closeSync(fd);
    const bytes = written - warm;
    const seconds = (end - start) / 1000;
    return { bufferBytes, buffersPerCall, bytes, seconds, gbPerSec: bytes / seconds / 1e9, senderCpu: { user: cpu.user / 1e6, system: cpu.system / 1e6 } };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The latency floor: a Node server on loopback that answers every request frame at once with a canned
 * Produce response (no storage, no decoding), so the idle-latency figures have a same-machine baseline:
 * what a round trip through Node's event loop and loopback TCP costs here before any broker work.
 * Prints {"port": N} and serves until killed (or `maxMs`).
 */
export async function runEchoServer({ topic, maxMs = 600_000 }) {
  const { ApiKey, encodeResponseFrame } = await import('../../dist/protocol/index.js');
  const [canned] = encodeResponseFrame(ApiKey.Produce, 7, 0, {
    responses: [{ name: topic, partitionResponses: [{ index: 0, errorCode: 0, baseOffset: 0, logAppendTimeMs: -1, logStartOffset: 0 }] }],
    throttleTimeMs: 0,
  });
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    let pending = null;
    socket.on('data', (chunk) => {
      let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      while (buf.length >= 8 && buf.length >= 4 + buf.readInt32BE(0)) {
        const answer = Buffer.from(canned);
        answer.writeInt32BE(buf.readInt32BE(8), 4); // the request's correlation id
        socket.write(answer);
        buf = buf.subarray(4 + buf.readInt32BE(0));
      }
      pending = buf.length > 0 ? buf : null;
    });
    socket.on('error', () => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
  await new Promise((r) => setTimeout(r, maxMs));
  return { stopped: 'maxMs' };
}
