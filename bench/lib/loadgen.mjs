// The load generator: a purpose-built Kafka client for measuring the broker, not for applications.
// Record batches and request frames are encoded once; each send patches the correlation id (and, for
// Fetch, the offset) in a preallocated frame; responses are scanned by their size prefix and first
// bytes only. Reads use one reused buffer per socket (net's `onread`), so receiving allocates nothing.
import net from 'node:net';
import { ApiKey } from '../../dist/protocol/index.js';
import { KafkaConnection } from '../../dist/client/kafka-connection.js';
import { cpuDelta, machineCpu, procCpu } from './procs.mjs';
import { Samples } from './stats.mjs';
import {
  CORRELATION_ID_AT,
  FrameScanner,
  checkFetchLayout,
  fetchFrame,
  fetchResponseLayout,
  makeBatch,
  produceErrorAt,
  produceFrame,
} from './wire.mjs';

const now = () => performance.now();

/** Creates `topic` (TOPIC_ALREADY_EXISTS is fine) through penstock's own client. */
export async function createTopic(port, topic, partitions, configs = {}) {
  const c = await KafkaConnection.connect('127.0.0.1', port, { clientId: 'penstock-bench-setup' });
  try {
    const res = await c.request(ApiKey.CreateTopics, 4, {
      topics: [{ name: topic, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: Object.entries(configs).map(([name, value]) => ({ name, value })) }],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    const code = res.topics[0].errorCode;
    if (code !== 0 && code !== 36) throw new Error(`CreateTopics ${topic} failed with error code ${code}: ${res.topics[0].errorMessage ?? ''}`);
  } finally {
    c.close();
  }
}

/** A raw loopback connection whose incoming frames go through a FrameScanner. */
export function connectRaw(port, headerBytes, onFrame, readBufferBytes = 256 * 1024) {
  return new Promise((resolve, reject) => {
    const scanner = new FrameScanner(headerBytes, onFrame);
    const state = { failure: null };
    const socket = net.connect({
      host: '127.0.0.1',
      port,
      onread: {
        buffer: Buffer.allocUnsafe(readBufferBytes),
        callback: (n, buf) => {
          try {
            scanner.push(buf, 0, n);
          } catch (err) {
            state.failure ??= err;
            socket.destroy(err);
          }
        },
      },
    });
    socket.setNoDelay(true);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', (err) => (state.failure ??= err));
      resolve({ socket, scanner, state });
    });
    socket.once('error', reject);
  });
}

/** Snapshot of the clocks a measurement window needs: wall time, this process's CPU, the broker's CPU. */
function snapshot(brokerPid) {
  return { t: now(), cpu: process.cpuUsage(), broker: brokerPid ? procCpu(brokerPid) : null, machine: machineCpu() };
}

function windowFigures(start, end) {
  const genUser = (end.cpu.user - start.cpu.user) / 1e6;
  const genSystem = (end.cpu.system - start.cpu.system) / 1e6;
  const brokerCpu = cpuDelta(start.broker, end.broker);
  const seconds = (end.t - start.t) / 1000;
  let otherCpu = null;
  if (start.machine && end.machine) {
    // Everything else the machine ran meanwhile (other processes, kernel threads, steal), in CPU-seconds.
    const busy = end.machine.busy - start.machine.busy;
    otherCpu = { seconds: Math.max(0, busy - genUser - genSystem - (brokerCpu ? brokerCpu.user + brokerCpu.system : 0)), steal: end.machine.steal - start.machine.steal };
  }
  return { seconds, brokerCpu, generatorCpu: { user: genUser, system: genSystem }, otherCpu };
}

/**
 * Throughput of acknowledged produce: `connections` sockets, each with `depth` requests in flight,
 * connection i writing partition i % partitions. A warm-up, then a window bounded by time and bytes.
 */
export async function runProduce(p) {
  const { port, topic, partitions, connections, depth, acks, warmupMs, durationMs, maxBytes, brokerPid } = p;
  if (p.create !== false) await createTopic(port, topic, partitions);
  const { batch, records } = makeBatch({ recordBytes: p.recordBytes, batchBytes: p.batchBytes });
  const errorAt = produceErrorAt(topic);
  const latency = new Samples(1_000_000);
  const perPartitionBatches = new Array(partitions).fill(0);

  let phase = 'warmup';
  let measuredBytes = 0;
  let measuredBatches = 0;
  let errors = 0;
  let firstError = null;
  let inFlight = 0;
  let lastResponseAt = 0;
  let finish;
  const finished = new Promise((r) => (finish = r));

  const conns = [];
  for (let c = 0; c < connections; c++) {
    const partition = c % partitions;
    const template = produceFrame({ topic, partition, acks, batch });
    const frames = Array.from({ length: depth }, () => Buffer.from(template));
    const sentAt = new Float64Array(depth);
    const conn = { partition, frames, sentAt, sent: 0, acked: 0, socket: null };
    const corrBase = (c + 1) * 0x1000000;
    const send = () => {
      const slot = conn.sent % depth;
      const frame = frames[slot];
      frame.writeInt32BE(corrBase + (conn.sent & 0xffffff), CORRELATION_ID_AT);
      sentAt[slot] = now();
      conn.sent++;
      inFlight++;
      conn.socket.write(frame);
    };
    const onFrame = (header) => {
      const t = now();
      const slot = conn.acked % depth;
      const corr = header.readInt32BE(0);
      if (corr !== corrBase + (conn.acked & 0xffffff)) throw new Error(`produce response ${corr} out of order (expected ${corrBase + conn.acked})`);
      const code = header.readInt16BE(errorAt);
      conn.acked++;
      inFlight--;
      lastResponseAt = t;
      if (code !== 0) {
        errors++;
        firstError ??= `error code ${code}`;
      } else {
        perPartitionBatches[partition]++;
        if (phase === 'measure') {
          measuredBytes += batch.length;
          measuredBatches++;
          latency.add((t - sentAt[slot]) * 1000);
          if (measuredBytes >= maxBytes) phase = 'drain';
        }
      }
      if (phase !== 'drain') send();
      else if (inFlight === 0) finish();
    };
    const { socket, state } = await connectRaw(port, errorAt + 2, onFrame, 64 * 1024);
    conn.socket = socket;
    conn.state = state;
    conn.send = send;
    socket.on('close', () => {
      if (phase !== 'done') {
        firstError ??= `connection closed: ${state.failure?.message ?? 'by the broker'}`;
        finish();
      }
    });
    conns.push(conn);
  }

  const t0 = now();
  for (const conn of conns) for (let i = 0; i < depth; i++) conn.send();
  let start;
  const warmTimer = setTimeout(() => {
    start = snapshot(brokerPid);
    phase = 'measure';
  }, warmupMs);
  const stopTimer = setTimeout(() => {
    if (phase === 'measure') phase = 'drain';
  }, warmupMs + durationMs);
  // Hard bound: a broker that stops answering ends the trial.
  const hardTimer = setTimeout(() => {
    firstError ??= 'timed out waiting for responses';
    finish();
  }, warmupMs + durationMs + 30_000);
  await finished;
  const end = snapshot(brokerPid);
  end.t = lastResponseAt || end.t;
  phase = 'done';
  clearTimeout(warmTimer);
  clearTimeout(stopTimer);
  clearTimeout(hardTimer);
  for (const conn of conns) conn.socket.destroy();
  if (!start) throw new Error(`produce never reached its measurement window: ${firstError ?? 'no responses'} after ${((now() - t0) / 1000).toFixed(1)} s`);
  if (firstError) throw new Error(`produce failed: ${firstError}`);
  const w = windowFigures(start, end);
  return {
    batchBytes: batch.length,
    recordsPerBatch: records,
    bytes: measuredBytes,
    batches: measuredBatches,
    records: measuredBatches * records,
    ...w,
    recordsPerSec: (measuredBatches * records) / w.seconds,
    mbPerSec: measuredBytes / w.seconds / 1e6,
    latencyUs: latency.summary(),
    perPartitionBatches,
    errors,
  };
}

/**
 * Throughput of fetch over a log this generator produced (every batch the same size), with `depth`
 * fetches in flight per connection: the next offsets are known without waiting for answers. Each
 * fetch asks for `fetchBatches` whole batches; the log is read in passes until time, bytes or passes run out.
 */
export async function runFetch(p) {
  const { port, topic, partitions, connections, depth, batchBytes, recordsPerBatch, perPartitionBatches, fetchBatches, warmupMs, durationMs, maxBytes, maxPasses, brokerPid } = p;
  const layout = fetchResponseLayout(topic);
  const partitionMaxBytes = fetchBatches * batchBytes;
  let phase = 'warmup';
  let measuredBytes = 0;
  let measuredFetches = 0;
  let partialBytes = 0;
  let errors = 0;
  let firstError = null;
  let inFlight = 0;
  let lastResponseAt = 0;
  let finish;
  const finished = new Promise((r) => (finish = r));
  const latency = new Samples(1_000_000);

  const conns = [];
  for (let c = 0; c < connections; c++) {
    const partition = c % partitions;
    const batches = perPartitionBatches[partition];
    if (!batches) throw new Error(`partition ${partition} of ${topic} is empty; nothing to fetch`);
    const fetchesPerPass = Math.ceil(batches / fetchBatches);
    const { frame: template, offsetAt } = fetchFrame({ topic, partition, partitionMaxBytes });
    const frames = Array.from({ length: depth }, () => Buffer.from(template));
    const sentAt = new Float64Array(depth);
    const conn = { partition, sent: 0, acked: 0, socket: null, fetchesPerPass };
    const corrBase = (c + 1) * 0x1000000;
    const send = () => {
      if (Math.floor(conn.sent / fetchesPerPass) >= maxPasses) return false;
      const slot = conn.sent % depth;
      const frame = frames[slot];
      frame.writeInt32BE(corrBase + (conn.sent & 0xffffff), CORRELATION_ID_AT);
      frame.writeBigInt64BE(BigInt((conn.sent % fetchesPerPass) * fetchBatches * recordsPerBatch), offsetAt);
      sentAt[slot] = now();
      conn.sent++;
      inFlight++;
      conn.socket.write(frame);
      return true;
    };
    const onFrame = (header, headerLength) => {
      const t = now();
      if (headerLength < layout.headerBytes) throw new Error(`fetch response of ${headerLength} bytes is too short`);
      const corr = header.readInt32BE(0);
      if (corr !== corrBase + (conn.acked & 0xffffff)) throw new Error(`fetch response ${corr} out of order`);
      const slot = conn.acked % depth;
      conn.acked++;
      inFlight--;
      lastResponseAt = t;
      const code = header.readInt16BE(layout.topErrorAt) || header.readInt16BE(layout.errorAt);
      const length = Math.max(0, header.readInt32BE(layout.recordsLengthAt));
      if (code !== 0) {
        errors++;
        firstError ??= `error code ${code}`;
      } else if (phase === 'measure') {
        measuredBytes += length;
        measuredFetches++;
        partialBytes += length % batchBytes;
        latency.add((t - sentAt[slot]) * 1000);
        if (measuredBytes >= maxBytes) phase = 'drain';
      }
      if (phase === 'drain' || !send()) {
        if (inFlight === 0) finish();
      }
    };
    const { socket, scanner, state } = await connectRaw(port, layout.headerBytes, onFrame, 1024 * 1024);
    if (c === 0) scanner.keepFirst((whole) => checkFetchLayout(topic, whole));
    conn.socket = socket;
    conn.send = send;
    socket.on('close', () => {
      if (phase !== 'done') {
        firstError ??= `connection closed: ${state.failure?.message ?? 'by the broker'}`;
        finish();
      }
    });
    conns.push(conn);
  }

  for (const conn of conns) for (let i = 0; i < depth; i++) conn.send();
  let start;
  const warmTimer = setTimeout(() => {
    start = snapshot(brokerPid);
    phase = 'measure';
  }, warmupMs);
  const stopTimer = setTimeout(() => {
    if (phase === 'measure') phase = 'drain';
  }, warmupMs + durationMs);
  const hardTimer = setTimeout(() => {
    firstError ??= 'timed out waiting for responses';
    finish();
  }, warmupMs + durationMs + 30_000);
  await finished;
  const end = snapshot(brokerPid);
  end.t = lastResponseAt || end.t;
  phase = 'done';
  clearTimeout(warmTimer);
  clearTimeout(stopTimer);
  clearTimeout(hardTimer);
  for (const conn of conns) conn.socket.destroy();
  if (firstError) throw new Error(`fetch failed: ${firstError}`);
  if (!start) throw new Error('fetch ran out of passes before its measurement window; raise maxPasses or produce more');
  const w = windowFigures(start, end);
  const wholeBatches = Math.floor((measuredBytes - partialBytes) / batchBytes);
  return {
    bytes: measuredBytes,
    fetches: measuredFetches,
    records: wholeBatches * recordsPerBatch,
    partialBytes,
    ...w,
    recordsPerSec: (wholeBatches * recordsPerBatch) / w.seconds,
    mbPerSec: measuredBytes / w.seconds / 1e6,
    latencyUs: latency.summary(),
    passes: Math.max(...conns.map((c) => c.acked / c.fetchesPerPass)),
    errors,
  };
}

/**
 * Latency of acknowledged produce at a fixed rate (open loop: sends follow a schedule, not the
 * answers). Ticks every millisecond and sends what is due; latency is measured from the actual send
 * and, to expose coordinated omission, from the scheduled time as well.
 */
export async function runFixedRate(p) {
  const { port, topic, acks, ratePerSec, warmupMs, durationMs, depth, brokerPid } = p;
  if (p.create !== false) await createTopic(port, topic, 1);
  const { batch, records } = makeBatch({ recordBytes: p.recordBytes, batchBytes: p.batchBytes });
  const errorAt = produceErrorAt(topic);
  const template = produceFrame({ topic, partition: 0, acks, batch });
  const frames = Array.from({ length: depth }, () => Buffer.from(template));
  const sentAt = new Float64Array(depth);
  const dueAt = new Float64Array(depth);
  const fromSend = new Samples(1_000_000);
  const fromSchedule = new Samples(1_000_000);
  let sent = 0;
  let acked = 0;
  let errors = 0;
  let firstError = null;
  let measuring = false;
  let measuredBatches = 0;
  let stopping = false;
  let finish;
  const finished = new Promise((r) => (finish = r));
  let t0 = 0;

  const onFrame = (header) => {
    const t = now();
    const slot = acked % depth;
    if (header.readInt32BE(0) !== (acked & 0x7fffffff)) throw new Error('produce response out of order');
    acked++;
    const code = header.readInt16BE(errorAt);
    if (code !== 0) {
      errors++;
      firstError ??= `error code ${code}`;
    } else if (measuring && dueAt[slot] >= t0 + warmupMs) {
      fromSend.add((t - sentAt[slot]) * 1000);
      fromSchedule.add((t - dueAt[slot]) * 1000);
      measuredBatches++;
    }
    if (stopping && acked === sent) finish();
  };
  const { socket, state } = await connectRaw(port, errorAt + 2, onFrame, 64 * 1024);
  socket.on('close', () => {
    if (!stopping || acked < sent) {
      firstError ??= `connection closed: ${state.failure?.message ?? 'by the broker'}`;
      finish();
    }
  });

  const interval = 1000 / ratePerSec;
  let maxBacklog = 0;
  let start;
  t0 = now();
  const tick = () => {
    if (stopping) return;
    const t = now();
    if (!measuring && t - t0 >= warmupMs) {
      measuring = true;
      start = snapshot(brokerPid);
    }
    if (t - t0 >= warmupMs + durationMs) {
      stopping = true;
      if (acked === sent) finish();
      return;
    }
    const due = Math.floor((t - t0) / interval) + 1;
    maxBacklog = Math.max(maxBacklog, due - sent);
    while (sent < due && sent - acked < depth) {
      const slot = sent % depth;
      frames[slot].writeInt32BE(sent & 0x7fffffff, CORRELATION_ID_AT);
      dueAt[slot] = t0 + sent * interval;
      sentAt[slot] = now();
      sent++;
      socket.write(frames[slot]);
    }
    setTimeout(tick, 1);
  };
  tick();
  const hardTimer = setTimeout(() => {
    firstError ??= 'timed out waiting for responses';
    finish();
  }, warmupMs + durationMs + 30_000);
  await finished;
  const end = snapshot(brokerPid);
  clearTimeout(hardTimer);
  stopping = true;
  socket.destroy();
  if (firstError) throw new Error(`fixed-rate produce failed: ${firstError}`);
  const w = windowFigures(start, end);
  return {
    ratePerSec,
    achievedPerSec: measuredBatches / w.seconds,
    batchBytes: batch.length,
    recordsPerBatch: records,
    mbPerSec: (measuredBatches * batch.length) / w.seconds / 1e6,
    ...w,
    latencyUs: fromSend.summary(),
    latencyFromScheduleUs: fromSchedule.summary(),
    maxBacklog,
    errors,
  };
}

/**
 * Latency of single-record produce on an otherwise idle broker: one request at a time, a pause of
 * `gapMs` between answer and next request, so every request finds the broker idle.
 */
export async function runIdleLatency(p) {
  const { port, topic, acks, samples, gapMs, maxMs, warmupSamples, brokerPid } = p;
  if (p.create !== false) await createTopic(port, topic, 1);
  const { batch } = makeBatch({ recordBytes: p.recordBytes, records: 1 });
  const errorAt = produceErrorAt(topic);
  const frame = produceFrame({ topic, partition: 0, acks, batch });
  const lat = new Samples(samples);
  let n = 0;
  let sentAt = 0;
  let firstError = null;
  let done = false;
  let finish;
  const finished = new Promise((r) => (finish = r));
  const deadline = now() + maxMs;
  let start;

  const send = () => {
    if (done) return;
    if (n === warmupSamples) start = snapshot(brokerPid);
    frame.writeInt32BE(n, CORRELATION_ID_AT);
    sentAt = now();
    socket.write(frame);
  };
  const onFrame = (header) => {
    const t = now();
    if (header.readInt32BE(0) !== n) throw new Error('produce response out of order');
    const code = header.readInt16BE(errorAt);
    if (code !== 0) firstError ??= `error code ${code}`;
    if (n >= warmupSamples) lat.add((t - sentAt) * 1000);
    n++;
    if (firstError || lat.count >= samples || t >= deadline) {
      done = true;
      return finish();
    }
    if (gapMs > 0) setTimeout(send, gapMs);
    else send();
  };
  const { socket, state } = await connectRaw(port, errorAt + 2, onFrame, 64 * 1024);
  socket.on('close', () => {
    if (!done) {
      firstError ??= `connection closed: ${state.failure?.message ?? 'by the broker'}`;
      finish();
    }
  });
  send();
  const hardTimer = setTimeout(() => {
    firstError ??= 'timed out waiting for a response';
    finish();
  }, maxMs + 30_000);
  await finished;
  const end = snapshot(brokerPid);
  clearTimeout(hardTimer);
  done = true;
  socket.destroy();
  if (firstError) throw new Error(`idle produce failed: ${firstError}`);
  return { gapMs, ...windowFigures(start ?? end, end), latencyUs: lat.summary() };
}
