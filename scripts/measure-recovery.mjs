#!/usr/bin/env node
// Recovery time after an unclean stop with a large active segment.
//
//   npm run build:ts && node scripts/measure-recovery.mjs [--gib 1] [--dir /tmp] [--runs 3] [--io native,fallback]
//
// 1. A child process appends --gib GiB of 1 MiB batches (1000 records of ~1 KiB) to one partition through
//    the storage layer (segment.bytes above that, so it is all one active segment) and SIGKILLs itself:
//    no clean-shutdown marker, no recovery-point checkpoint, so the next start scans every byte.
// 2. For each backend and run: a child opens the LogManager (storage only: CRC of every batch, index
//    rebuild) and SIGKILLs itself after printing the time, so every run recovers from scratch; then a
//    broker child is started through the CLI and timed until it logs 'broker started'.
// The page cache is warm (the file was just written) unless --wait-seconds lets it go cold; dropping it
// by hand would disturb everything else on the machine.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const { values } = parseArgs({
  options: {
    gib: { type: 'string', default: '1' },
    dir: { type: 'string', default: os.tmpdir() },
    runs: { type: 'string', default: '3' },
    io: { type: 'string', default: 'native,fallback' },
    keep: { type: 'boolean', default: false },
    // This machine evicts page cache unused for about a minute: waiting longer measures a colder start.
    'wait-seconds': { type: 'string', default: '0' },
  },
});
if (!fs.existsSync(path.join(dist, 'storage/log-manager.js'))) {
  console.error('dist/ is missing: run npm run build:ts first');
  process.exit(2);
}
const bytes = Math.round(Number(values.gib) * 1024 ** 3);
const dataDir = fs.mkdtempSync(path.join(values.dir, 'penstock-recovery-'));
const TOPIC_CONFIG = { 'segment.bytes': String(Math.min(2 ** 31 - 1, bytes + 64 * 1024 ** 2)) };

const WRITER = `
  const [dist, dataDir, total, topicConfig] = process.argv.slice(1);
  const { brokerConfig } = await import(dist + '/config.js');
  const { LogManager } = await import(dist + '/storage/log-manager.js');
  const { encodeRecordBatch } = await import(dist + '/storage/record-codec.js');
  const logs = await LogManager.open({ dataDir, config: brokerConfig({ 'log.dirs': dataDir }) });
  await logs.createTopic('recovery', 1, JSON.parse(topicConfig));
  const log = logs.partition('recovery', 0);
  const value = Buffer.alloc(1000, 0x61);
  const template = encodeRecordBatch(Array.from({ length: 1000 }, (_, i) => ({ key: 'k' + i, value })));
  const started = performance.now();
  let written = 0;
  while (written < Number(total)) {
    const wave = [];
    for (let i = 0; i < 16 && written < Number(total); i++, written += template.length) wave.push(log.append(Buffer.from(template)));
    await Promise.all(wave);
  }
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(JSON.stringify({ written, records: log.logEndOffset, seconds }) + '\\n', () => process.kill(process.pid, 'SIGKILL'));
`;

const OPENER = `
  const [dist, dataDir] = process.argv.slice(1);
  const { brokerConfig } = await import(dist + '/config.js');
  const { LogManager } = await import(dist + '/storage/log-manager.js');
  const started = performance.now();
  const logs = await LogManager.open({ dataDir, config: brokerConfig({ 'log.dirs': dataDir }) });
  const ms = performance.now() - started;
  const log = logs.partition('recovery', 0);
  process.stdout.write(JSON.stringify({ ms, logEndOffset: log.logEndOffset, recovered: log.loadStats }) + '\\n', () => process.kill(process.pid, 'SIGKILL'));
`;

function runNode(script, args, env) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, ...args], { env: { ...process.env, ...env, PENSTOCK_LOG_LEVEL: 'silent' }, encoding: 'utf8', maxBuffer: 1 << 20 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`child failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(line);
}

function timeBrokerStart(io) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [path.join(dist, 'cli/main.js'), 'broker', '--port', '0', '--data-dir', dataDir, '--log-level', 'info'], {
      env: { ...process.env, PENSTOCK_IO: io },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      process.kill(child.pid, 'SIGKILL');
      reject(new Error('broker did not start within 10 minutes'));
    }, 600_000);
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      out += d;
      if (!out.includes('"broker started"')) return;
      clearTimeout(timer);
      const ms = performance.now() - started;
      const recovered = out.split('\n').filter((l) => l.includes('recovered partition log')).map((l) => JSON.parse(l));
      process.kill(child.pid, 'SIGKILL');
      child.once('exit', () => resolve({ ms, recovered }));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!out.includes('"broker started"')) reject(new Error(`broker exited with ${code}: ${err}`));
    });
  });
}

try {
  console.log(`writing ${(bytes / 1024 ** 3).toFixed(2)} GiB to one active segment in ${dataDir} ...`);
  const wrote = runNode(WRITER, [dist, dataDir, String(bytes), JSON.stringify(TOPIC_CONFIG)], { PENSTOCK_IO: 'native' });
  const segment = fs.readdirSync(path.join(dataDir, 'recovery-0')).find((n) => n.endsWith('.log'));
  const size = fs.statSync(path.join(dataDir, 'recovery-0', segment)).size;
  console.log(`wrote ${wrote.records} records, segment ${segment} of ${(size / 1024 ** 2).toFixed(0)} MiB, in ${wrote.seconds.toFixed(1)} s; killed without a clean shutdown`);
  if (Number(values['wait-seconds']) > 0) {
    console.log(`waiting ${values['wait-seconds']} s so the page cache can go cold ...`);
    await new Promise((r) => setTimeout(r, Number(values['wait-seconds']) * 1000));
  }
  const rows = [];
  for (const io of values.io.split(',')) {
    for (let run = 0; run < Number(values.runs); run++) {
      const opened = runNode(OPENER, [dist, dataDir], { PENSTOCK_IO: io });
      if (opened.recovered.recoveredSegments !== 1 || opened.recovered.truncatedBytes !== 0) throw new Error(`unexpected recovery: ${JSON.stringify(opened)}`);
      const broker = await timeBrokerStart(io);
      rows.push({ io, run: run + 1, storageMs: opened.ms, brokerMs: broker.ms, mibPerS: size / 1024 ** 2 / (opened.ms / 1000) });
      console.log(`${io} run ${run + 1}: LogManager.open ${opened.ms.toFixed(0)} ms (${(size / 1024 ** 2 / (opened.ms / 1000)).toFixed(0)} MiB/s), broker start to 'broker started' ${broker.ms.toFixed(0)} ms`);
    }
  }
  console.log('\nio        storage open (median)   broker start (median)');
  for (const io of values.io.split(',')) {
    const mine = rows.filter((r) => r.io === io);
    const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(`${io.padEnd(9)} ${median(mine.map((r) => r.storageMs)).toFixed(0).padStart(8)} ms            ${median(mine.map((r) => r.brokerMs)).toFixed(0).padStart(8)} ms`);
  }
} finally {
  if (!values.keep) fs.rmSync(dataDir, { recursive: true, force: true });
  else console.log(`kept ${dataDir}`);
}
