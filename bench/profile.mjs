#!/usr/bin/env node
// Profiles the broker under load: runs `node --cpu-prof dist/cli/main.js broker ...` in its own process
// per backend and load, drives it with the bench's load generator, stops it with SIGTERM (the profile
// is written at exit) and prints the top functions by self time, with the broker's CPU split.
//   node bench/profile.mjs [--backend native,fallback] [--load produce-16k,produce-1m,fetch,idle] [--seconds 4] [--out DIR]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR, installCleanup, runWorker, startBroker } from './lib/procs.mjs';
import { formatSummary, summarizeProfile } from './cpuprofile-top.mjs';

const KiB = 1024;
const MiB = 1024 * 1024;
const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'native,fallback' },
    load: { type: 'string', default: 'produce-16k,produce-1m,fetch,idle' },
    seconds: { type: 'string', default: '4' },
    top: { type: 'string', default: '20' },
    callers: { type: 'string', default: '0' },
    out: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const outDir = path.resolve(values.out ?? path.join(BENCH_DIR, 'results', 'profiles', new Date().toISOString().replace(/[:]/g, '-').replace(/\..*/, '')));
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'penstock-profile-'));
installCleanup(() => fs.rmSync(scratch, { recursive: true, force: true }));

const LOADS = {
  'produce-16k': async (b) => {
    const r = await runWorker('produce', { port: b.port, brokerPid: b.pid, topic: 'p', partitions: 2, connections: 2, depth: 16, acks: 1, recordBytes: 100, batchBytes: 16 * KiB, warmupMs: 300, durationMs: seconds * 1000, maxBytes: 1536 * MiB });
    return `produce 100 B records in 16 KiB batches: ${(r.recordsPerSec / 1e6).toFixed(2)}M records/s, ${r.mbPerSec.toFixed(0)} MB/s`;
  },
  'produce-1m': async (b) => {
    const r = await runWorker('produce', { port: b.port, brokerPid: b.pid, topic: 'p', partitions: 2, connections: 2, depth: 4, acks: 1, recordBytes: 100, batchBytes: MiB, warmupMs: 300, durationMs: seconds * 1000, maxBytes: 1536 * MiB });
    return `produce 100 B records in 1 MiB batches: ${(r.recordsPerSec / 1e6).toFixed(2)}M records/s, ${r.mbPerSec.toFixed(0)} MB/s`;
  },
  // The log is filled by an unprofiled broker on the same data directory, so the profile holds fetches only.
  fetch: {
    async prepare(dataDir, backend) {
      const filler = await startBroker({ backend, dataDir });
      try {
        return await runWorker('produce', { port: filler.port, brokerPid: filler.pid, topic: 'f', partitions: 2, connections: 2, depth: 16, acks: 1, recordBytes: 1024, batchBytes: 16 * KiB, warmupMs: 200, durationMs: 1500, maxBytes: 512 * MiB });
      } finally {
        await filler.stop({ graceful: true });
      }
    },
    async run(b, p) {
      const r = await runWorker('fetch', {
        port: b.port,
        brokerPid: b.pid,
        topic: 'f',
        partitions: 2,
        connections: 2,
        depth: 4,
        batchBytes: p.batchBytes,
        recordsPerBatch: p.recordsPerBatch,
        perPartitionBatches: p.perPartitionBatches,
        fetchBatches: Math.floor(MiB / p.batchBytes),
        warmupMs: 300,
        durationMs: seconds * 1000,
        maxBytes: 64e9,
        maxPasses: 1000,
      });
      const cpu = r.brokerCpu;
      return `fetch 1 KiB records, ~1 MiB per fetch: ${r.mbPerSec.toFixed(0)} MB/s, broker ${(((cpu.user + cpu.system) / r.bytes) * 1e9).toFixed(2)} CPU-s/GB (user ${((cpu.user / r.bytes) * 1e9).toFixed(2)}, sys ${((cpu.system / r.bytes) * 1e9).toFixed(2)})`;
    },
  },
  idle: async (b) => {
    const r = await runWorker('idle', { port: b.port, brokerPid: b.pid, topic: 'i', acks: 1, recordBytes: 100, samples: 3000, warmupSamples: 300, gapMs: 1, maxMs: seconds * 1000 });
    return `single-record produce, idle broker: p50 ${r.latencyUs.p50.toFixed(0)} µs, p99 ${r.latencyUs.p99.toFixed(0)} µs`;
  },
};

fs.mkdirSync(outDir, { recursive: true });
for (const load of values.load.split(',')) {
  if (!LOADS[load]) throw new Error(`unknown load ${load}; one of ${Object.keys(LOADS).join(', ')}`);
  for (const backend of values.backend.split(',')) {
    const profileDir = path.join(outDir, `${load}-${backend}`);
    fs.mkdirSync(profileDir, { recursive: true });
    const dataDir = fs.mkdtempSync(path.join(scratch, 'data-'));
    const spec = typeof LOADS[load] === 'function' ? { run: LOADS[load] } : LOADS[load];
    const prepared = spec.prepare ? await spec.prepare(dataDir, backend) : undefined;
    const broker = await startBroker({ backend, dataDir, profileDir });
    let figures;
    try {
      figures = await spec.run(broker, prepared);
    } finally {
      await broker.stop({ graceful: true });
      fs.rmSync(broker.dataDir, { recursive: true, force: true });
    }
    const file = fs.readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) {
      console.log(`${load} ${backend}: no .cpuprofile written (${figures})`);
      continue;
    }
    const summary = summarizeProfile(JSON.parse(fs.readFileSync(path.join(profileDir, file), 'utf8')), { top: Number(values.top) });
    fs.writeFileSync(path.join(profileDir, 'top.json'), JSON.stringify(summary, null, 1));
    console.log(`\n=== ${load}, ${backend}: ${figures}`);
    console.log(formatSummary(summary, path.relative(process.cwd(), path.join(profileDir, file)), { callers: Number(values.callers) }));
  }
}
