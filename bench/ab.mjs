#!/usr/bin/env node
// A/B of two builds of the broker (before and after a change), interleaved A B A B so the machine's
// drift cancels in the paired ratios. Each side is a checkout with its own dist/ (npm run build:ts);
// the load generator is this one.
//   node bench/ab.mjs --a /path/to/before --b /path/to/after [--backend native] [--load produce-16k,...] [--rounds 4]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { installCleanup, runWorker, startBroker } from './lib/procs.mjs';
import { median } from './lib/stats.mjs';

const KiB = 1024;
const MiB = 1024 * 1024;
const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    backend: { type: 'string', default: 'native' },
    load: { type: 'string', default: 'produce-16k,produce-1m,fetch,idle' },
    rounds: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '2' },
  },
});
if (!values.a || !values.b) {
  console.error('usage: node bench/ab.mjs --a DIR --b DIR [--backend native|fallback] [--load produce-16k,produce-1m,produce-1k-16k,fetch,idle,idle-b2b] [--rounds N] [--seconds S]');
  process.exit(2);
}
const sides = { A: path.resolve(values.a), B: path.resolve(values.b) };
for (const dir of Object.values(sides)) {
  if (!fs.existsSync(path.join(dir, 'dist/cli/main.js'))) throw new Error(`${dir}/dist/cli/main.js is missing; build it first`);
}
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'penstock-ab-'));
installCleanup(() => fs.rmSync(scratch, { recursive: true, force: true }));
const ms = Number(values.seconds) * 1000;

const cpuPerGb = (r) => (r.brokerCpu ? ((r.brokerCpu.user + r.brokerCpu.system) / r.bytes) * 1e9 : null);
const produce = (recordBytes, batchBytes, depth) => async (b) => {
  const r = await runWorker('produce', { port: b.port, brokerPid: b.pid, topic: 'ab', partitions: 2, connections: 2, depth, acks: 1, recordBytes, batchBytes, warmupMs: 400, durationMs: ms, maxBytes: 768 * MiB });
  return { recordsPerSec: r.recordsPerSec, mbPerSec: r.mbPerSec, brokerCpuPerGb: cpuPerGb(r), p99Us: r.latencyUs.p99 };
};
const LOADS = {
  'produce-16k': produce(100, 16 * KiB, 16),
  'produce-1m': produce(100, MiB, 4),
  'produce-1k-16k': produce(1024, 16 * KiB, 16),
  fetch: async (b) => {
    const p = await runWorker('produce', { port: b.port, brokerPid: b.pid, topic: 'f', partitions: 2, connections: 2, depth: 16, acks: 1, recordBytes: 1024, batchBytes: 16 * KiB, warmupMs: 200, durationMs: 1500, maxBytes: 384 * MiB });
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
      durationMs: ms,
      maxBytes: 64e9,
      maxPasses: 1000,
    });
    return { mbPerSec: r.mbPerSec, brokerCpuPerGb: cpuPerGb(r) };
  },
  idle: async (b) => {
    const r = await runWorker('idle', { port: b.port, brokerPid: b.pid, topic: 'i', acks: 1, recordBytes: 100, samples: 2000, warmupSamples: 200, gapMs: 1, maxMs: ms * 3 });
    return { p50Us: r.latencyUs.p50, p99Us: r.latencyUs.p99 };
  },
  'idle-b2b': async (b) => {
    const r = await runWorker('idle', { port: b.port, brokerPid: b.pid, topic: 'i', acks: 1, recordBytes: 100, samples: 5000, warmupSamples: 500, gapMs: 0, maxMs: ms * 3 });
    return { p50Us: r.latencyUs.p50, p99Us: r.latencyUs.p99, brokerCpuPerRequestUs: ((r.brokerCpu.user + r.brokerCpu.system) / r.latencyUs.count) * 1e6 };
  },
};

for (const load of values.load.split(',')) {
  const run = LOADS[load];
  if (!run) throw new Error(`unknown load ${load}`);
  const results = { A: [], B: [] };
  for (let round = 0; round < Number(values.rounds); round++) {
    // Alternate which side goes first, so a trend within a round does not favour one.
    const order = round % 2 === 0 ? ['A', 'B'] : ['B', 'A'];
    for (const side of order) {
      const broker = await startBroker({ backend: values.backend, dataDir: fs.mkdtempSync(path.join(scratch, 'data-')), cli: path.join(sides[side], 'dist/cli/main.js') });
      try {
        results[side].push(await run(broker));
      } finally {
        await broker.stop();
        fs.rmSync(broker.dataDir, { recursive: true, force: true });
      }
      process.stderr.write('.');
    }
  }
  process.stderr.write('\n');
  console.log(`\n${load} (${values.backend}), ${values.rounds} rounds; A = ${sides.A}, B = ${sides.B}`);
  for (const metric of Object.keys(results.A[0])) {
    const a = results.A.map((r) => r[metric]);
    const b = results.B.map((r) => r[metric]);
    const ratio = median(a.map((x, i) => b[i] / x));
    const f = (v) => (v >= 1000 ? v.toFixed(0) : v.toPrecision(3));
    console.log(`  ${metric.padEnd(22)} A ${f(median(a)).padStart(10)}   B ${f(median(b)).padStart(10)}   B/A ${ratio.toFixed(3)}   (A ${a.map(f).join(' ')} | B ${b.map(f).join(' ')})`);
  }
}
