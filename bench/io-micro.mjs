// Micro-benchmark of the two I/O backends: CRC32C, appendv, and sendParts to a loopback reader.
// Run after `npm run build:native && npm run build:ts`:  node bench/io-micro.mjs [--quick]
// Prints medians of a few runs; the machine's noise is large, so compare within one run.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createFallbackIo } from '../dist/io/fallback.js';
import { loadAddon, loadNativeIo, sendNative } from '../dist/io/native.js';
import { socketFd } from '../dist/io/socket.js';

const quick = process.argv.includes('--quick');
const RUNS = quick ? 3 : 5;
const MiB = 1 << 20;
const SEND_FILE_BYTES = (quick ? 64 : 256) * MiB;
const APPEND_BYTES = (quick ? 64 : 256) * MiB;

const backends = { native: loadNativeIo(), fallback: createFallbackIo() };
const { binding } = loadAddon();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'penstock-bench-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;
const fmt = (x, digits = 2) => x.toFixed(digits).padStart(7);

console.log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), crc32c=${binding.features.crc32c}`);

// --- CRC32C -------------------------------------------------------------------------------------
console.log('\nCRC32C GB/s (median of %d)', RUNS);
const crcData = Buffer.alloc(4 * MiB);
for (let i = 0; i < crcData.length; i++) crcData[i] = (i * 2654435761) >>> 24;
for (const size of [128, 16 * 1024, MiB]) {
  const row = [];
  for (const [name, io] of Object.entries(backends)) {
    const calls = Math.max(200, Math.floor((quick ? 64 : 256) * MiB / size));
    const rates = [];
    for (let r = 0; r < RUNS; r++) {
      let x = 0;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < calls; i++) {
        const start = (i * 64) % (crcData.length - size);
        x ^= io.crc32c(crcData, start, start + size);
      }
      rates.push((calls * size) / seconds(t0) / 1e9);
      if (x === 0.5) console.log(x);
    }
    row.push(`${name} ${fmt(median(rates))}`);
  }
  console.log(`  ${String(size).padStart(8)} B   ${row.join('   ')}`);
}
// The raw call, for the size threshold in src/io/native.ts.
{
  const calls = 2_000_000;
  let x = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) x ^= binding.crc32c(crcData, i & 7, (i & 7) + 1);
  console.log(`  native call overhead ~${fmt((seconds(t0) / calls) * 1e9, 0)} ns (1-byte input)${x === 0.5 ? '' : ''}`);
}

// --- appendv ------------------------------------------------------------------------------------
// Backends alternate within each run: new page cache is slow on first touch here, so whichever
// ran first in a block would pay more.
console.log('\nappendv of 1 MiB buffers, 16 per call, into a new file: MB/s (median of %d)', RUNS);
const chunks = Array.from({ length: 16 }, (_, i) => Buffer.alloc(MiB, i + 1));
const appendRates = { native: [], fallback: [] };
for (let r = 0; r < RUNS; r++) {
  const order = r % 2 === 0 ? ['native', 'fallback'] : ['fallback', 'native'];
  for (const name of order) {
    const io = backends[name];
    const file = path.join(dir, `append-${name}-${r}.log`);
    const fd = io.openAppend(file);
    const t0 = process.hrtime.bigint();
    for (let written = 0; written < APPEND_BYTES; ) written += io.appendv(fd, chunks);
    appendRates[name].push(APPEND_BYTES / seconds(t0) / 1e6);
    fs.closeSync(fd);
    fs.rmSync(file);
  }
}
for (const [name, rates] of Object.entries(appendRates)) console.log(`  ${name.padEnd(8)} ${fmt(median(rates), 0)} MB/s`);

// --- sendParts ----------------------------------------------------------------------------------
// The reader is a separate process, so its copy does not compete with the sender's event loop.
// `onread` reads into one reused 4 MiB buffer: Node's default reader (64 KiB chunks, a new Buffer
// each) tops out below 1 GB/s here and would measure itself instead of the sender.
const READER = `
const net = require('node:net');
const [port, total] = process.argv.slice(1).map(Number);
let n = 0;
const s = net.connect({ port, host: '127.0.0.1', onread: { buffer: Buffer.allocUnsafe(4 << 20), callback(k) { n += k; if (n >= total) s.end(); } } });
s.on('close', () => process.exit(n === total ? 0 : 1));
`;

const sendFile = path.join(dir, 'send.log');
{
  const fd = fs.openSync(sendFile, 'w');
  const piece = Buffer.alloc(8 * MiB, 0x6b);
  for (let off = 0; off < SEND_FILE_BYTES; off += piece.length) fs.writeSync(fd, piece, 0, piece.length, off);
  fs.closeSync(fd);
  fs.readFileSync(sendFile); // into the page cache
}
const sendFd = fs.openSync(sendFile, 'r');

async function oneTransfer(send) {
  const server = net.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise((r) => server.once('connection', r));
  const reader = spawn(process.execPath, ['-e', READER, String(server.address().port), String(SEND_FILE_BYTES)], { stdio: 'inherit' });
  const socket = await accepted;
  const readerDone = new Promise((r) => reader.once('exit', r));
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let zeroCopy = 0;
  if (send.wholeFile) zeroCopy = (await send(socket)).zeroCopyBytes;
  else for (let pos = 0; pos < SEND_FILE_BYTES; pos += MiB) zeroCopy += (await send(socket, pos)).zeroCopyBytes;
  const code = await readerDone;
  const elapsed = seconds(t0);
  const cpu = process.cpuUsage(cpu0);
  socket.destroy();
  server.close();
  if (code !== 0) throw new Error('reader saw the wrong byte count');
  const gb = SEND_FILE_BYTES / 1e9;
  return { gbps: gb / elapsed, cpuPerGb: (cpu.user + cpu.system) / 1e6 / gb, zeroCopy };
}

console.log(`\nsendParts of a page-cached ${SEND_FILE_BYTES / MiB} MiB file, one 1 MiB region per call (or all in one call), to a reader process (median of ${RUNS})`);
const senders = {
  native: (socket, pos) => backends.native.sendParts(socket, [{ fd: sendFd, position: pos, length: MiB }]),
  fallback: (socket, pos) => backends.fallback.sendParts(socket, [{ fd: sendFd, position: pos, length: MiB }]),
};
// One response carrying every region: the transfer itself, without the per-call costs.
const allRegions = Array.from({ length: SEND_FILE_BYTES / MiB }, (_, i) => ({ fd: sendFd, position: i * MiB, length: MiB }));
senders['native, 1 call'] = Object.assign((socket) => backends.native.sendParts(socket, allRegions), { wholeFile: true });
senders['fallback, 1 call'] = Object.assign((socket) => backends.fallback.sendParts(socket, allRegions), { wholeFile: true });
if (binding.features.splice) {
  senders['native splice'] = (socket, pos) =>
    sendNative(binding, socket, (done) => binding.spliceFileToSocket(socketFd(socket), sendFd, pos, MiB, done));
}
for (const [name, send] of Object.entries(senders)) {
  const results = [];
  for (let r = 0; r < RUNS; r++) results.push(await oneTransfer(send));
  const zc = results[0].zeroCopy === SEND_FILE_BYTES ? 'all zero-copy' : `${results[0].zeroCopy} B zero-copy`;
  console.log(
    `  ${name.padEnd(16)} ${fmt(median(results.map((x) => x.gbps)))} GB/s   sender CPU ${fmt(median(results.map((x) => x.cpuPerGb)))} s/GB   (${zc})`,
  );
}
fs.closeSync(sendFd);
