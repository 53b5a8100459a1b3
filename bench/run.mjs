#!/usr/bin/env node
// penstock's benchmark: `npm run bench [-- --quick | --smoke]` (after `npm run build:ts`).
//
// One invocation measures, side by side and interleaved (native, fallback, native, fallback, ...) so
// drift on a noisy machine cancels out in the ratios:
//   1. the ceiling: the addon's sendfile and writev with no broker;
//   2. micro-benchmarks of both I/O backends (CRC32C, sendParts, appendv, PartitionLog.append);
//   3. end to end through a broker process per backend on 127.0.0.1, driven by the purpose-built load
//      generator in bench/lib/loadgen.mjs, and by librdkafka's rdkafka_performance when it builds.
// Prints a table with the ratios, writes every figure to bench/results/<timestamp>.json (+ latest.json)
// and a self-contained chart (<timestamp>.html + latest.html). Progress goes to stderr.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { BENCH_DIR, CLI, REPO, clockTicksPerSecond, cpuDelta, installCleanup, killAll, machineCpu, procCpu, runWorker, startBroker, startEchoServer } from './lib/procs.mjs';
import { buildRdkafkaPerformance, runRdkafka } from './lib/rdkafka.mjs';
import { buildReport } from './lib/report.mjs';
import { fmtDuration } from './lib/stats.mjs';

const KiB = 1024;
const MiB = 1024 * 1024;
let BACKENDS = ['native', 'fallback'];

/** What each mode runs. Durations in ms; byte caps keep disk use and memory bounded. */
const PROFILES = {
  smoke: {
    rounds: 1,
    ceiling: { fileBytes: 32 * MiB, warmupMs: 50, durationMs: 250, maxBytes: 512 * MiB },
    micro: { crcBytes: 2 * MiB, crcRounds: 1, fileBytes: 32 * MiB, warmupMs: 50, durationMs: 200, maxBytes: 256 * MiB },
    produceCases: [{ recordBytes: 100, batchBytes: 16 * KiB }],
    fsyncCases: [],
    durabilities: ['never'],
    microVariants: 1,
    produce: { warmupMs: 100, durationMs: 300, maxBytes: 64 * MiB },
    fetch: { warmupMs: 50, durationMs: 250, maxBytes: 1024 * MiB, maxPasses: 50 },
    fixedRate: { ratePerSec: 500, warmupMs: 100, durationMs: 300 },
    idle: { samples: 40, warmupSamples: 10, maxMs: 1_000 },
    rdkafka: null,
  },
  quick: {
    rounds: 1,
    ceiling: { fileBytes: 128 * MiB, warmupMs: 150, durationMs: 800, maxBytes: 2048 * MiB },
    micro: { crcBytes: 16 * MiB, crcRounds: 2, fileBytes: 64 * MiB, warmupMs: 100, durationMs: 400, maxBytes: 1024 * MiB },
    produceCases: 'all',
    fsyncCases: [
      { recordBytes: 100, batchBytes: 16 * KiB },
      { recordBytes: 100, batchBytes: MiB },
    ],
    produce: { warmupMs: 300, durationMs: 800, maxBytes: 384 * MiB },
    fetch: { warmupMs: 100, durationMs: 500, maxBytes: 4096 * MiB, maxPasses: 50 },
    fixedRate: { ratePerSec: 2_000, warmupMs: 200, durationMs: 1_000 },
    idle: { samples: 300, warmupSamples: 50, maxMs: 2_000 },
    rdkafka: { messages: 300_000, timeoutMs: 30_000 },
  },
  full: {
    rounds: 3,
    ceiling: { fileBytes: 256 * MiB, warmupMs: 300, durationMs: 1_500, maxBytes: 6144 * MiB },
    micro: { crcBytes: 64 * MiB, crcRounds: 3, fileBytes: 128 * MiB, warmupMs: 200, durationMs: 800, maxBytes: 2048 * MiB },
    produceCases: 'all',
    fsyncCases: 'all',
    produce: { warmupMs: 400, durationMs: 2_000, maxBytes: 768 * MiB },
    fetch: { warmupMs: 200, durationMs: 1_200, maxBytes: 8192 * MiB, maxPasses: 50 },
    fixedRate: { ratePerSec: 2_000, warmupMs: 400, durationMs: 3_000 },
    idle: { samples: 1_500, warmupSamples: 200, maxMs: 6_000 },
    rdkafka: { messages: 1_500_000, timeoutMs: 60_000 },
  },
};

const ALL_CASES = [
  { recordBytes: 100, batchBytes: 16 * KiB },
  { recordBytes: 100, batchBytes: MiB },
  { recordBytes: 1024, batchBytes: 16 * KiB },
  { recordBytes: 1024, batchBytes: MiB },
];

/** Connections and requests in flight per connection, by batch size. */
function pipelineFor(batchBytes) {
  return batchBytes >= 512 * KiB ? { connections: 2, partitions: 2, depth: 4 } : { connections: 2, partitions: 2, depth: 16 };
}

const sizeLabel = (b) => (b >= MiB ? `${b / MiB} MiB` : b >= KiB ? `${b / KiB} KiB` : `${b} B`);

// ---------------------------------------------------------------------------------------------

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    smoke: { type: 'boolean' },
    rounds: { type: 'string' },
    out: { type: 'string' },
    'no-rdkafka': { type: 'boolean' },
    report: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (args.help) {
  console.log(`usage: npm run bench -- [--quick | --smoke] [--rounds N] [--out DIR] [--no-rdkafka]

  (default)  full run, ${PROFILES.full.rounds} interleaved rounds, under 10 minutes
  --quick    one round with short windows, about a minute
  --smoke    a few seconds; checks the machinery, not the machine
  --out DIR  where the JSON and chart go (default bench/results)
  --report FILE.json  print the table of an earlier run and rewrite its chart (FILE.html)
Build first: npm run build:ts (and npm run build:native for the native backend).`);
  process.exit(0);
}
if (args.report) {
  const earlier = JSON.parse(fs.readFileSync(args.report, 'utf8'));
  const report = buildReport(earlier);
  fs.writeFileSync(args.report.replace(/\.json$/, '') + '.html', report.html);
  console.log(report.text);
  process.exit(0);
}
const mode = args.smoke ? 'smoke' : args.quick ? 'quick' : 'full';
const profile = structuredClone(PROFILES[mode]);
if (args.rounds) profile.rounds = Math.max(1, Math.min(10, Number(args.rounds) || 1));
if (args['no-rdkafka']) profile.rdkafka = null;
const outDir = path.resolve(args.out ?? path.join(BENCH_DIR, 'results'));

if (!fs.existsSync(CLI)) {
  console.error(`bench: ${path.relative(REPO, CLI)} is missing; run npm run build:ts first`);
  process.exit(2);
}

// Without the addon there is nothing native to compare: the run goes on with the fallback alone.
const nativeProbe = await import('./lib/ceiling.mjs').then((m) => m.loadNative());
if (nativeProbe.error) {
  process.stderr.write(`bench: native backend unavailable, measuring the fallback only: ${nativeProbe.error}\n`);
  BACKENDS = ['fallback'];
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'penstock-bench-'));
installCleanup(() => fs.rmSync(scratch, { recursive: true, force: true }));

const results = {
  meta: {
    mode,
    rounds: profile.rounds,
    startedAt: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    kernel: os.release(),
    memoryBytes: os.totalmem(),
    commit: gitCommit(),
    profile,
    clockTicks: clockTicksPerSecond(),
    loadAverageAtStart: os.loadavg(),
    steps: [],
    notes: [
      'Medians over rounds; every round is kept under "runs".',
      'Produce/fetch MB and CPU per GB count record-batch bytes (the log bytes), 1 MB = 1e6 bytes, 1 GB = 1e9 bytes.',
      'Broker CPU is utime/stime of the broker process (all threads) from /proc/<pid>/stat over the measurement window.',
      'Latency is measured by the load generator from the write of a request to the arrival of its response.',
    ],
  },
  native: nativeProbe.error ? { skipped: nativeProbe.error } : { addon: nativeProbe.addonPath, features: nativeProbe.binding.features },
  rdkafka: null,
  cases: [],
  errors: [],
};

/** One measured thing: identity, then a list of runs per backend. */
const caseIndex = new Map();
function caseFor(section, key, label, params) {
  let c = caseIndex.get(`${section}/${key}`);
  if (!c) {
    c = { section, key, label, params, runs: {} };
    caseIndex.set(`${section}/${key}`, c);
    results.cases.push(c);
  }
  return c;
}
function record(section, key, label, params, backend, run) {
  const c = caseFor(section, key, label, params);
  (c.runs[backend] ??= []).push(run);
}

// ---------------------------------------------------------------------------------------------
// Steps. Each is one unit of progress; failures are recorded and the run goes on.

const steps = [];
const step = (label, fn) => steps.push({ label, fn });

const cpuPerGb = (cpu, bytes) => (cpu && bytes > 0 ? (cpu.user + cpu.system) / (bytes / 1e9) : null);
const perGb = (seconds, bytes) => (bytes > 0 ? seconds / (bytes / 1e9) : null);

/** Flattens a load-generator result into the figures the report reads. */
function e2eFigures(r, extra = {}) {
  return {
    ...extra,
    recordsPerSec: r.recordsPerSec,
    mbPerSec: r.mbPerSec,
    bytes: r.bytes,
    seconds: r.seconds,
    brokerCpuPerGb: cpuPerGb(r.brokerCpu, r.bytes),
    brokerUserPerGb: r.brokerCpu ? perGb(r.brokerCpu.user, r.bytes) : null,
    brokerSystemPerGb: r.brokerCpu ? perGb(r.brokerCpu.system, r.bytes) : null,
    brokerCpuShare: r.brokerCpu ? (r.brokerCpu.user + r.brokerCpu.system) / r.seconds : null,
    generatorCpuPerGb: cpuPerGb(r.generatorCpu, r.bytes),
    generatorCpuShare: (r.generatorCpu.user + r.generatorCpu.system) / r.seconds,
    otherCpuShare: r.otherCpu ? r.otherCpu.seconds / r.seconds : null,
    latencyP50Us: r.latencyUs?.p50 ?? null,
    latencyP99Us: r.latencyUs?.p99 ?? null,
    latencyP999Us: r.latencyUs?.p999 ?? null,
    raw: r,
  };
}

async function withBroker(backend, fsync, fn) {
  const dataDir = fs.mkdtempSync(path.join(scratch, `broker-${backend}-`));
  const broker = await startBroker({ backend, dataDir, fsync });
  try {
    return await fn(broker);
  } finally {
    await broker.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

function planCeiling(round) {
  const c = profile.ceiling;
  for (const connections of [1, 2]) {
    step(`ceiling: sendfile 1 MiB/call → ${connections} loopback reader(s) (round ${round})`, async () => {
      const r = await runWorker('ceiling-sendfile', { fileBytes: c.fileBytes, warmupMs: c.warmupMs, durationMs: c.durationMs, maxBytes: c.maxBytes, connections }, { timeoutMs: 120_000 });
      if (r.skipped) return (results.native = { skipped: r.skipped });
      const key = connections === 1 ? 'sendfile' : `sendfile-${connections}`;
      const label = `sendfile 1 MiB per call, page cache → ${connections === 1 ? 'a loopback socket' : `${connections} loopback sockets at once`}`;
      record('ceiling', key, label, { chunkBytes: MiB, connections }, 'addon', {
        gbPerSec: r.gbPerSec,
        mbPerSec: r.gbPerSec * 1000,
        cpuPerGb: cpuPerGb(r.senderCpu, r.bytes),
        readerCpuPerGb: r.sinkCpuPerGb,
        raw: r,
      });
    });
  }
  step(`ceiling: writev 1 MiB/call, O_APPEND (round ${round})`, async () => {
    const r = await runWorker('ceiling-writev', { warmupMs: c.warmupMs, durationMs: c.durationMs, maxBytes: Math.min(c.maxBytes, 1536 * MiB) }, { timeoutMs: 120_000 });
    if (r.skipped) return;
    record('ceiling', 'writev', 'writev 1 MiB per call, O_APPEND, new file', { bufferBytes: MiB }, 'addon', {
      gbPerSec: r.gbPerSec,
      mbPerSec: r.gbPerSec * 1000,
      cpuPerGb: cpuPerGb(r.senderCpu, r.bytes),
      raw: r,
    });
  });
}

function planMicro(round) {
  const m = profile.micro;
  step(`micro: crc32c native vs fallback (round ${round})`, async () => {
    const r = await runWorker('micro-crc', { sizes: [128, 16 * KiB, MiB], bytesPerSize: m.crcBytes, rounds: m.crcRounds, backends: BACKENDS }, { timeoutMs: 120_000 });
    for (const row of r.rows) {
      // Each worker round is itself interleaved; keep every value.
      for (let i = 0; i < row.gbPerSec.length; i++) {
        record('micro', `crc32c/${row.size}`, `crc32c ${sizeLabel(row.size)}`, { size: row.size }, row.backend, { gbPerSec: row.gbPerSec[i], nsPerCall: row.nsPerCall[i] });
      }
    }
  });
  step(`micro: validateRecords (CRC32C + record walk) native vs fallback (round ${round})`, async () => {
    for (const batchBytes of [MiB, 16 * KiB].slice(0, profile.microVariants ?? 2)) {
      const r = await runWorker('micro-validate', { recordBytes: 100, batchBytes, bytes: m.crcBytes * 2, rounds: m.crcRounds, backends: BACKENDS }, { timeoutMs: 120_000 });
      for (const row of r.rows) {
        for (let i = 0; i < row.recordsPerSec.length; i++) {
          record('micro', `validate/${batchBytes}`, `validateRecords, 100 B records, ${sizeLabel(batchBytes)} batches (no I/O)`, { batchBytes }, row.backend, {
            recordsPerSec: row.recordsPerSec[i],
            gbPerSec: row.gbPerSec[i],
          });
        }
      }
    }
  });
  for (const backend of BACKENDS) {
    step(`micro: sendParts fetch-shaped response, ${backend} (round ${round})`, async () => {
      const r = await runWorker('micro-sendparts', { backend, fileBytes: m.fileBytes, warmupMs: m.warmupMs, durationMs: m.durationMs, maxBytes: m.maxBytes }, { timeoutMs: 120_000 });
      record('micro', 'sendparts', 'io.sendParts: 70 B + 4 × (50 B + 256 KiB region) per call', {}, backend, {
        gbPerSec: r.gbPerSec,
        cpuPerGb: cpuPerGb(r.senderCpu, r.bytes),
        zeroCopyShare: r.zeroCopyShare,
        raw: r,
      });
    });
  }
  for (const [bufferBytes, buffersPerCall] of [[MiB, 1], [16 * KiB, 64]].slice(0, profile.microVariants ?? 2)) {
    for (const backend of BACKENDS) {
      step(`micro: appendv ${buffersPerCall} × ${sizeLabel(bufferBytes)}, ${backend} (round ${round})`, async () => {
        const r = await runWorker('micro-appendv', { backend, bufferBytes, buffersPerCall, warmupMs: m.warmupMs, durationMs: m.durationMs, maxBytes: Math.min(m.maxBytes, 1024 * MiB) }, { timeoutMs: 120_000 });
        record('micro', `appendv/${buffersPerCall}x${bufferBytes}`, `io.appendv ${buffersPerCall} × ${sizeLabel(bufferBytes)} per call`, { bufferBytes, buffersPerCall }, backend, {
          gbPerSec: r.gbPerSec,
          cpuPerGb: cpuPerGb(r.cpu, r.bytes),
          raw: r,
        });
      });
    }
  }
  for (const batchBytes of [MiB, 16 * KiB].slice(0, profile.microVariants ?? 2)) {
    for (const backend of BACKENDS) {
      step(`micro: PartitionLog.append 100 B records, ${sizeLabel(batchBytes)} batches, ${backend} (round ${round})`, async () => {
        const inFlight = batchBytes >= MiB ? 4 : 64;
        const r = await runWorker(
          'micro-partition-append',
          { backend, recordBytes: 100, batchBytes, inFlight, warmupMs: m.warmupMs, durationMs: m.durationMs, maxBytes: Math.min(m.maxBytes, 768 * MiB) },
          { timeoutMs: 120_000 },
        );
        record('micro', `partition-append/${batchBytes}`, `PartitionLog.append, 100 B records, ${sizeLabel(batchBytes)} batches (${inFlight} per turn)`, { batchBytes, inFlight }, backend, {
          gbPerSec: r.gbPerSec,
          recordsPerSec: r.recordsPerSec,
          cpuPerGb: cpuPerGb(r.cpu, r.bytes),
          raw: r,
        });
      });
    }
  }
}

function latencyFigures(r) {
  return { p50Us: r.latencyUs.p50, p99Us: r.latencyUs.p99, p999Us: r.latencyUs.p999, maxUs: r.latencyUs.max, samples: r.latencyUs.count, raw: r };
}

/** The same idle client against a Node server that answers at once: the machine's round-trip floor. */
function planLatencyFloor(round) {
  step(`latency floor: Node echo server, paced and back to back (round ${round})`, async () => {
    const echo = await startEchoServer({ topic: 'bench-idle' });
    try {
      for (const gapMs of [1, 0]) {
        const r = await runWorker('idle', { port: echo.port, create: false, topic: 'bench-idle', acks: 1, recordBytes: 100, gapMs, ...profile.idle }, { timeoutMs: 120_000 });
        record('latency', `floor${gapMs ? '' : '-b2b'}`, `floor: Node echo server, no broker work, ${gapMs ? `${gapMs} ms between requests` : 'back to back'}`, { gapMs }, 'echo', latencyFigures(r));
      }
    } finally {
      await echo.stop();
    }
  });
}

function planEndToEnd(round) {
  const cases = (list) => (list === 'all' ? ALL_CASES : list);
  for (const cfg of cases(profile.produceCases)) {
    for (const backend of BACKENDS) {
      const label = `${cfg.recordBytes} B records, ${sizeLabel(cfg.batchBytes)} batches`;
      step(`e2e: produce + fetch ${label}, acks=1, ${backend} (round ${round})`, () =>
        withBroker(backend, 'never', async (broker) => {
          const pipe = pipelineFor(cfg.batchBytes);
          const topic = `bench-${cfg.recordBytes}-${cfg.batchBytes}`;
          const p = await runWorker('produce', { port: broker.port, brokerPid: broker.pid, topic, acks: 1, ...cfg, ...pipe, ...profile.produce }, { timeoutMs: 120_000 });
          record('produce', `${cfg.recordBytes}/${cfg.batchBytes}/acks1`, `${label}, acks=1`, { ...cfg, ...pipe, acks: 1, fsync: 'never' }, backend, e2eFigures(p, { recordsPerBatch: p.recordsPerBatch, batchBytesExact: p.batchBytes }));
          const fetchBatches = Math.max(1, Math.floor(MiB / p.batchBytes));
          const f = await runWorker(
            'fetch',
            {
              port: broker.port,
              brokerPid: broker.pid,
              topic,
              partitions: pipe.partitions,
              connections: pipe.partitions,
              depth: 4,
              batchBytes: p.batchBytes,
              recordsPerBatch: p.recordsPerBatch,
              perPartitionBatches: p.perPartitionBatches,
              fetchBatches,
              ...profile.fetch,
            },
            { timeoutMs: 120_000 },
          );
          record('fetch', `${cfg.recordBytes}/${cfg.batchBytes}`, `${label}`, { ...cfg, fetchBytes: fetchBatches * p.batchBytes, connections: pipe.partitions, depth: 4 }, backend, e2eFigures(f, { passes: f.passes }));
        }),
      );
    }
  }
  for (const cfg of cases(profile.fsyncCases)) {
    for (const backend of BACKENDS) {
      const label = `${cfg.recordBytes} B records, ${sizeLabel(cfg.batchBytes)} batches`;
      step(`e2e: produce ${label}, fsync before ack, ${backend} (round ${round})`, () =>
        withBroker(backend, 'always', async (broker) => {
          const pipe = pipelineFor(cfg.batchBytes);
          const p = await runWorker('produce', { port: broker.port, brokerPid: broker.pid, topic: 'bench-fsync', acks: 1, ...cfg, ...pipe, ...profile.produce }, { timeoutMs: 120_000 });
          record('produce', `${cfg.recordBytes}/${cfg.batchBytes}/fsync`, `${label}, fsync before ack`, { ...cfg, ...pipe, acks: 1, fsync: 'always' }, backend, e2eFigures(p, { recordsPerBatch: p.recordsPerBatch }));
        }),
      );
    }
  }
  planLatencyFloor(round);
  for (const fsync of profile.durabilities ?? ['never', 'always']) {
    const durability = fsync === 'always' ? 'fsync before ack' : 'acks=1';
    for (const backend of BACKENDS) {
      step(`e2e: latency at a fixed rate and idle single-record, ${durability}, ${backend} (round ${round})`, () =>
        withBroker(backend, fsync, async (broker) => {
          const fr = profile.fixedRate;
          const cfg = { recordBytes: 100, batchBytes: 16 * KiB };
          const r = await runWorker('fixed-rate', { port: broker.port, brokerPid: broker.pid, topic: 'bench-rate', acks: 1, depth: 64, ...cfg, ...fr }, { timeoutMs: 120_000 });
          record('latency', `fixed/${fsync}`, `${fr.ratePerSec} × 16 KiB batches/s of 100 B records (${((fr.ratePerSec * r.batchBytes) / 1e6).toFixed(0)} MB/s), ${durability}`, { ...cfg, ratePerSec: fr.ratePerSec, fsync }, backend, {
            p50Us: r.latencyUs.p50,
            p99Us: r.latencyUs.p99,
            p999Us: r.latencyUs.p999,
            maxUs: r.latencyUs.max,
            scheduleP99Us: r.latencyFromScheduleUs.p99,
            achievedPerSec: r.achievedPerSec,
            brokerCpuShare: r.brokerCpu ? (r.brokerCpu.user + r.brokerCpu.system) / r.seconds : null,
            raw: r,
          });
          for (const gapMs of [1, 0]) {
            const idle = await runWorker('idle', { port: broker.port, brokerPid: broker.pid, topic: 'bench-idle', acks: 1, recordBytes: 100, gapMs, ...profile.idle }, { timeoutMs: 120_000 });
            record('latency', `idle${gapMs ? '' : '-b2b'}/${fsync}`, `one 100 B record per request, ${gapMs ? `idle broker (${gapMs} ms between requests)` : 'back to back (one in flight)'}, ${durability}`, { recordBytes: 100, gapMs, fsync }, backend, latencyFigures(idle));
          }
        }),
      );
    }
  }
}

let rdkafka = null;
function planRdkafka(round) {
  if (!profile.rdkafka) return;
  if (round === 1) {
    step('rdkafka_performance: build from librdkafka-dev example source', async () => {
      rdkafka = await buildRdkafkaPerformance(path.join(scratch, 'rdkafka'));
      results.rdkafka = rdkafka.skipped ? { skipped: rdkafka.skipped } : { built: true, version: rdkafka.version, note: rdkafka.shim };
    });
  }
  for (const backend of BACKENDS) {
    step(`rdkafka_performance -P / -C 100 B records, ${backend} (round ${round})`, () => {
      if (!rdkafka || rdkafka.skipped) return;
      return withBroker(backend, 'never', async (broker) => {
        const { createTopic } = await import('./lib/loadgen.mjs');
        await createTopic(broker.port, 'rdkafka', 1);
        const n = String(profile.rdkafka.messages);
        const common = ['-t', 'rdkafka', '-p', '0', '-b', `127.0.0.1:${broker.port}`];
        for (const [key, label, extra] of [
          ['produce', 'rdkafka_performance -P -s 100 -a 1', ['-P', '-s', '100', '-a', '1', '-c', n]],
          ['consume', 'rdkafka_performance -C -o beginning', ['-C', '-o', 'beginning', '-c', n]],
        ]) {
          const cpu0 = procCpu(broker.pid);
          const r = await runRdkafka(rdkafka.binary, [...extra, ...common], { timeoutMs: profile.rdkafka.timeoutMs, ticks: clockTicksPerSecond() });
          const cpu = cpuDelta(cpu0, procCpu(broker.pid));
          if (r.error) throw new Error(`${label}: ${r.error}`);
          record('rdkafka', key, `${label} (${n} messages)`, { messages: Number(n) }, backend, {
            recordsPerSec: r.msgsPerSec,
            mbPerSec: r.mbPerSec,
            // rdkafka counts payload bytes only; broker CPU per GB of payload.
            brokerCpuPerGb: cpuPerGb(cpu, r.bytes),
            clientCpuPerGb: cpuPerGb(r.clientCpu, r.bytes),
            raw: { ...r, brokerCpu: cpu },
          });
        }
      });
    });
  }
}

// The order, per round: ceiling, micro, end to end, rdkafka. Within each,
// native and fallback alternate, so slow drift hits both alike.
for (let round = 1; round <= profile.rounds; round++) {
  planCeiling(round);
  planMicro(round);
  planEndToEnd(round);
  planRdkafka(round);
}

// ---------------------------------------------------------------------------------------------

const started = performance.now();
const tty = process.stderr.isTTY;
const progress = (text) => {
  if (tty) process.stderr.write(`\r\x1b[2K${text.slice(0, (process.stderr.columns || 120) - 1)}`);
  else process.stderr.write(`${text}\n`);
};
process.stderr.write(`bench: ${mode}, ${profile.rounds} round(s), ${steps.length} steps; node ${process.version}, ${os.cpus().length} CPUs\n`);
for (let i = 0; i < steps.length; i++) {
  const s = steps[i];
  progress(`[${String(i + 1).padStart(3)}/${steps.length}] ${fmtDuration(performance.now() - started).padStart(6)}  ${s.label}`);
  const t0 = performance.now();
  const m0 = machineCpu();
  try {
    await s.fn();
  } catch (err) {
    const message = String(err?.message ?? err).slice(0, 2000);
    results.errors.push({ step: s.label, error: message });
    if (tty) process.stderr.write('\n');
    process.stderr.write(`bench: FAILED ${s.label}: ${message}\n`);
  }
  const m1 = machineCpu();
  const seconds = (performance.now() - t0) / 1000;
  results.meta.steps.push({ label: s.label, seconds, machineBusyCores: m0 && m1 ? (m1.busy - m0.busy) / seconds : null });
}
if (tty) process.stderr.write('\n');
killAll();
results.meta.durationSeconds = (performance.now() - started) / 1000;
results.meta.loadAverageAtEnd = os.loadavg();
results.meta.finishedAt = new Date().toISOString();

const report = buildReport(results);
results.summary = report.summary;
results.targets = report.targets;

fs.mkdirSync(outDir, { recursive: true });
const stamp = results.meta.startedAt.replace(/[:]/g, '-').replace(/\..*/, '');
const jsonName = `${stamp}-${mode}.json`;
const htmlName = `${stamp}-${mode}.html`;
fs.writeFileSync(path.join(outDir, jsonName), `${JSON.stringify(results, null, 1)}\n`);
fs.copyFileSync(path.join(outDir, jsonName), path.join(outDir, 'latest.json'));
fs.writeFileSync(path.join(outDir, htmlName), report.html);
fs.copyFileSync(path.join(outDir, htmlName), path.join(outDir, 'latest.html'));

console.log(report.text);
console.log(`\nwritten: ${path.relative(process.cwd(), path.join(outDir, jsonName))} (and latest.json), ${path.relative(process.cwd(), path.join(outDir, htmlName))} (and latest.html)`);
if (results.errors.length > 0) {
  console.log(`\n${results.errors.length} step(s) failed:`);
  for (const e of results.errors) console.log(`  - ${e.step}: ${e.error}`);
  process.exitCode = 1;
}

function gitCommit() {
  try {
    const head = execFileSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', REPO, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() ? '+dirty' : '';
    return head + dirty;
  } catch {
    return null;
  }
}
