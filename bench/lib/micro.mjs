// Micro-benchmarks of the two I/O backends through penstock's own Io interface (what the broker calls):
// CRC32C, sendParts of a fetch-shaped response to a loopback reader process, appendv, and
// PartitionLog.append through the storage layer.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadIo, pageCachedFile, sendLoopToSink } from './ceiling.mjs';
import { makeBatch } from './wire.mjs';

const MiB = 1024 * 1024;
const now = () => performance.now();

/** CRC32C throughput per size, native and fallback interleaved in one process (CPU-bound, no I/O). */
export async function runMicroCrc({ sizes, bytesPerSize, rounds, backends }) {
  const ios = {};
  for (const b of backends) ios[b] = await loadIo(b);
  const data = Buffer.alloc(4 * MiB);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  const rows = [];
  for (const size of sizes) for (const b of backends) rows.push({ size, backend: b, gbPerSec: [], nsPerCall: [] });
  let sink = 0;
  for (let r = 0; r < rounds; r++) {
    for (const row of rows) {
      const io = ios[row.backend];
      const calls = Math.max(4, Math.floor(bytesPerSize / row.size));
      const span = data.length - row.size;
      const t0 = now();
      for (let i = 0; i < calls; i++) {
        const start = (i * 64) % span;
        sink ^= io.crc32c(data, start, start + row.size);
      }
      const seconds = (now() - t0) / 1000;
      row.gbPerSec.push((calls * row.size) / seconds / 1e9);
      row.nsPerCall.push((seconds / calls) * 1e9);
    }
  }
  return { rows, checksum: sink >>> 0 };
}

/**
 * validateRecords (the produce path's CPU work before the write: CRC32C over each batch, then the walk
 * over every record) on one batch, repeated; both backends interleaved in one process. No I/O.
 */
export async function runMicroValidate({ recordBytes, batchBytes, bytes, rounds, backends }) {
  const { validateRecords } = await import('../../dist/storage/record-batch.js');
  const { brokerConfig } = await import('../../dist/config.js');
  const maxMessageBytes = brokerConfig()['message.max.bytes'];
  const ios = {};
  for (const b of backends) ios[b] = await loadIo(b);
  const { batch, records } = makeBatch({ recordBytes, batchBytes, crc32c: ios[backends[0]].crc32c });
  const calls = Math.max(10, Math.floor(bytes / batch.length));
  const rows = backends.map((backend) => ({ backend, recordsPerSec: [], gbPerSec: [] }));
  for (let r = 0; r < rounds; r++) {
    for (const row of rows) {
      const io = ios[row.backend];
      const t0 = now();
      for (let i = 0; i < calls; i++) validateRecords(batch, io, maxMessageBytes);
      const seconds = (now() - t0) / 1000;
      row.recordsPerSec.push((calls * records) / seconds);
      row.gbPerSec.push((calls * batch.length) / seconds / 1e9);
    }
  }
  return { batchBytes: batch.length, recordsPerBatch: records, rows };
}

/**
 * io.sendParts of a fetch-shaped response (a small header buffer, then four partitions, each a small
 * buffer and a 256 KiB file region: ~1 MiB per call) to a reader process, one call at a time.
 */
export async function runMicroSendParts({ backend, fileBytes, warmupMs, durationMs, maxBytes }) {
  const io = await loadIo(backend);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'penstock-micro-'));
  try {
    const { fd } = pageCachedFile(dir, fileBytes);
    const regionBytes = 256 * 1024;
    const regions = Math.floor(fileBytes / regionBytes);
    const header = Buffer.alloc(70, 1);
    const partitionHeader = Buffer.alloc(50, 2);
    let zeroCopyBytes = 0;
    const result = await sendLoopToSink({
      warmupMs,
      durationMs,
      maxBytes,
      sendOnce: async (socket, i) => {
        const parts = [header];
        for (let k = 0; k < 4; k++) parts.push(partitionHeader, { fd, position: ((i * 4 + k) % regions) * regionBytes, length: regionBytes });
        const sent = await io.sendParts(socket, parts);
        zeroCopyBytes += sent.zeroCopyBytes;
        return sent;
      },
    });
    fs.closeSync(fd);
    return { backend, ...result, zeroCopyShare: zeroCopyBytes / (result.totalBytes || 1) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** io.appendv of `buffersPerCall` buffers of `bufferBytes` on an O_APPEND fd, into a new file. */
export async function runMicroAppend({ backend, bufferBytes, buffersPerCall, warmupMs, durationMs, maxBytes }) {
  const io = await loadIo(backend);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'penstock-micro-'));
  try {
    const buffers = Array.from({ length: buffersPerCall }, (_, i) => Buffer.alloc(bufferBytes, 0x61 + (i % 26)));
    const fd = io.openAppend(path.join(dir, 'append.log'));
    let written = 0;
    let calls = 0;
    const t0 = now();
    while (now() - t0 < warmupMs && written < maxBytes / 4) written += io.appendv(fd, buffers);
    const warm = written;
    const cpu0 = process.cpuUsage();
    const start = now();
    while (now() - start < durationMs && written - warm < maxBytes) {
      written += io.appendv(fd, buffers);
      calls++;
    }
    const end = now();
    const cpu = process.cpuUsage(cpu0);
    fs.closeSync(fd);
    const bytes = written - warm;
    const seconds = (end - start) / 1000;
    return { backend, bufferBytes, buffersPerCall, bytes, calls, seconds, gbPerSec: bytes / seconds / 1e9, cpu: { user: cpu.user / 1e6, system: cpu.system / 1e6 } };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * PartitionLog.append through the storage layer (validation with CRC32C and the record walk, offsets
 * stamped in place, group-commit writev): `inFlight` distinct copies of one batch appended per loop
 * turn, awaited together, repeated.
 */
export async function runMicroPartitionAppend({ backend, recordBytes, batchBytes, inFlight, warmupMs, durationMs, maxBytes }) {
  const io = await loadIo(backend);
  const { LogManager } = await import('../../dist/storage/log-manager.js');
  const { brokerConfig } = await import('../../dist/config.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'penstock-micro-'));
  const logs = await LogManager.open({ dataDir: dir, config: brokerConfig({ 'log.dirs': dir }), io });
  try {
    await logs.createTopic('micro', 1);
    const partition = logs.partition('micro', 0);
    const { batch, records } = makeBatch({ recordBytes, batchBytes, crc32c: io.crc32c });
    // Each append stamps offsets into its buffer and is written a turn later: one copy per append in flight.
    const copies = Array.from({ length: inFlight }, () => Buffer.from(batch));
    let bytes = 0;
    let batches = 0;
    const round = () => Promise.all(copies.map((c) => partition.append(c)));
    const t0 = now();
    while (now() - t0 < warmupMs && bytes < maxBytes / 4) {
      await round();
      bytes += inFlight * batch.length;
    }
    bytes = 0;
    const cpu0 = process.cpuUsage();
    const start = now();
    while (now() - start < durationMs && bytes < maxBytes) {
      await round();
      bytes += inFlight * batch.length;
      batches += inFlight;
    }
    const end = now();
    const cpu = process.cpuUsage(cpu0);
    const seconds = (end - start) / 1000;
    return {
      backend,
      batchBytes: batch.length,
      recordsPerBatch: records,
      inFlight,
      bytes,
      seconds,
      gbPerSec: bytes / seconds / 1e9,
      recordsPerSec: (batches * records) / seconds,
      cpu: { user: cpu.user / 1e6, system: cpu.system / 1e6 },
    };
  } finally {
    // Closing would fdatasync everything just written; the directory is thrown away instead.
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
