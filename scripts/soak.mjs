#!/usr/bin/env node
// Soak: mixed produce / consume / consumer-group load against a broker child for N minutes, sampling
// the broker's RSS (/proc/<pid>/status VmRSS) and open fds (/proc/<pid>/fd) every few seconds. Prints a
// table and says whether both levelled off (the median of the last third of the samples is no more than
// a small margin above the median of the middle third). Not part of the test suite.
//
//   npm run build:ts && node scripts/soak.mjs [--minutes 5] [--sample 5] [--partitions 8] [--io native]
//       [--producers 4] [--consumers 4] [--groups 2] [--fsync never] [--dir /tmp] [--retention-bytes N]
//       [--node-flags=--max-old-space-size=64]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    sample: { type: 'string', default: '5' },
    partitions: { type: 'string', default: '8' },
    producers: { type: 'string', default: '4' },
    consumers: { type: 'string', default: '4' },
    groups: { type: 'string', default: '2' },
    io: { type: 'string', default: process.env.PENSTOCK_IO ?? 'native' },
    fsync: { type: 'string', default: 'never' },
    dir: { type: 'string', default: os.tmpdir() },
    'retention-bytes': { type: 'string', default: String(64 * 1024 * 1024) },
    /** Extra node flags for the broker, e.g. --node-flags=--max-old-space-size=64 (a leak then ends in an OOM). */
    'node-flags': { type: 'string', default: '' },
  },
});
if (!fs.existsSync(path.join(dist, 'client/kafka-connection.js'))) {
  console.error('dist/ is missing: run npm run build:ts first');
  process.exit(2);
}
const { KafkaConnection } = await import(path.join(dist, 'client/kafka-connection.js'));
const { ApiKey, encodeRequest } = await import(path.join(dist, 'protocol/index.js'));
const { encodeRecordBatch, decodeRecordBatches } = await import(path.join(dist, 'storage/record-codec.js'));

const MINUTES = Number(values.minutes);
const PARTITIONS = Number(values.partitions);
const TOPIC = 'soak';
const dataDir = fs.mkdtempSync(path.join(values.dir, 'penstock-soak-'));
const deadline = Date.now() + MINUTES * 60_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- the broker ----
const broker = spawn(
  process.execPath,
  [
    ...values['node-flags'].split(' ').filter(Boolean),
    path.join(dist, 'cli/main.js'), 'broker', '--port', '0', '--data-dir', dataDir, '--log-level', 'info', '--fsync', values.fsync,
    // Small segments and a retention cap, so rolls, deletions and fd churn happen within minutes.
    '--override', 'log.segment.bytes=8388608', '--override', `log.retention.bytes=${values['retention-bytes']}`,
    '--override', 'log.retention.check.interval.ms=5000', '--override', 'file.delete.delay.ms=2000',
    '--override', 'group.initial.rebalance.delay.ms=0', '--override', 'log.flush.offset.checkpoint.interval.ms=10000',
  ],
  { env: { ...process.env, PENSTOCK_IO: values.io }, stdio: ['ignore', 'pipe', 'pipe'] },
);
let brokerOut = '';
let started = false;
broker.stdout.on('data', (d) => {
  // Keep the start line until the port is read, then only a tail for diagnostics.
  brokerOut = started ? (brokerOut + d).slice(-100_000) : brokerOut + d;
});
broker.stderr.on('data', (d) => (brokerOut = (brokerOut + d).slice(-100_000)));
const killBroker = () => {
  if (broker.exitCode === null && broker.signalCode === null) process.kill(broker.pid, 'SIGKILL');
};
process.on('exit', killBroker);
process.on('SIGINT', () => process.exit(130));

async function brokerPort() {
  for (let i = 0; i < 600; i++) {
    if (broker.exitCode !== null) throw new Error(`broker exited: ${brokerOut}`);
    const line = brokerOut.split('\n').find((l) => l.includes('"broker started"'));
    if (line) return JSON.parse(line).port;
    await sleep(50);
  }
  throw new Error('broker did not start');
}

function sample() {
  const status = fs.readFileSync(`/proc/${broker.pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
  let files = 0;
  let sockets = 0;
  const fds = fs.readdirSync(`/proc/${broker.pid}/fd`);
  for (const fd of fds) {
    try {
      const t = fs.readlinkSync(`/proc/${broker.pid}/fd/${fd}`);
      if (t.startsWith('socket:')) sockets++;
      else if (t.startsWith('/')) files++;
    } catch {
      /* closed meanwhile */
    }
  }
  return { rss, fds: fds.length, files, sockets };
}

const stats = { produced: 0, producedBytes: 0, consumed: 0, commits: 0, joins: 0, errors: 0, reconnects: 0 };
const errorSamples = [];
function noteError(what, err) {
  stats.errors++;
  if (errorSamples.length < 10) errorSamples.push(`${what}: ${err?.message ?? err}`);
}

const port = await brokerPort();
started = true;
const connect = (clientId) => KafkaConnection.connect('127.0.0.1', port, { clientId });
const admin = await connect('soak-admin');
const created = await admin.request(ApiKey.CreateTopics, 4, {
  topics: [{ name: TOPIC, numPartitions: PARTITIONS, replicationFactor: 1, assignments: [], configs: [] }],
  timeoutMs: 30_000,
  validateOnly: false,
});
if (created.topics[0].errorCode !== 0) throw new Error(`CreateTopics failed: ${created.topics[0].errorCode}`);

// ---- load ----
async function producer(n) {
  let conn = await connect(`producer-${n}`);
  const value = Buffer.alloc(200 + n * 100, 0x61 + n);
  for (let i = 0; Date.now() < deadline; i++) {
    const partition = (i + n) % PARTITIONS;
    const batch = encodeRecordBatch(Array.from({ length: 20 }, (_, k) => ({ key: `p${n}-${i}-${k}`, value })));
    const inflight = [];
    for (let w = 0; w < 4; w++) {
      inflight.push(
        conn.requestRaw(ApiKey.Produce, 7, (cid) =>
          encodeRequest(ApiKey.Produce, 7, cid, `producer-${n}`, { transactionalId: null, acks: n % 2 === 0 ? 1 : -1, timeoutMs: 30_000, topicData: [{ name: TOPIC, partitionData: [{ index: (partition + w) % PARTITIONS, records: Buffer.from(batch) }] }] }),
        ),
      );
    }
    try {
      for (const res of await Promise.all(inflight)) {
        const p = res.responses[0].partitionResponses[0];
        if (p.errorCode !== 0) noteError('produce', `error ${p.errorCode}`);
        else {
          stats.produced += 20;
          stats.producedBytes += batch.length;
        }
      }
    } catch (err) {
      noteError('produce', err);
      conn.close();
      stats.reconnects++;
      conn = await connect(`producer-${n}`);
    }
    if (i % 50 === 49) await sleep(5);
  }
  conn.close();
}

async function consumer(n) {
  let conn = await connect(`consumer-${n}`);
  const offsets = new Array(PARTITIONS).fill(0);
  while (Date.now() < deadline) {
    try {
      const res = await conn.request(ApiKey.Fetch, 11, {
        replicaId: -1, maxWaitMs: 200, minBytes: 1, maxBytes: 4 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
        topics: [{ topic: TOPIC, partitions: offsets.map((fetchOffset, partition) => ({ partition, currentLeaderEpoch: -1, fetchOffset, logStartOffset: -1, partitionMaxBytes: 512 * 1024 })) }],
        forgottenTopicsData: [], rackId: '',
      });
      for (const p of res.responses[0].partitions) {
        if (p.errorCode === 1) {
          offsets[p.partitionIndex] = Number(p.logStartOffset); // retention moved past us
          continue;
        }
        if (p.errorCode !== 0) {
          noteError('fetch', `error ${p.errorCode}`);
          continue;
        }
        for (const b of decodeRecordBatches(p.records)) {
          if (b.lastOffset < offsets[p.partitionIndex]) continue;
          stats.consumed += b.records.length;
          offsets[p.partitionIndex] = b.lastOffset + 1;
        }
      }
    } catch (err) {
      noteError('fetch', err);
      conn.close();
      stats.reconnects++;
      conn = await connect(`consumer-${n}`);
    }
  }
  conn.close();
}

// Group members: join, sync, heartbeat and commit for a while, leave, and start over (churn).
async function groupMember(g, n) {
  const groupId = `soak-group-${g}`;
  while (Date.now() < deadline) {
    const conn = await connect(`member-${g}-${n}`);
    try {
      let joined = await conn.request(ApiKey.JoinGroup, 5, { groupId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 5_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] });
      if (joined.errorCode === 79) joined = await conn.request(ApiKey.JoinGroup, 5, { groupId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 5_000, memberId: joined.memberId, groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] });
      if (joined.errorCode !== 0) {
        if (joined.errorCode !== 27) noteError('join', `error ${joined.errorCode}`);
        continue;
      }
      stats.joins++;
      const { memberId, generationId } = joined;
      const assignments = joined.leader === memberId ? joined.members.map((m) => ({ memberId: m.memberId, assignment: Buffer.alloc(0) })) : [];
      const synced = await conn.request(ApiKey.SyncGroup, 3, { groupId, generationId, memberId, groupInstanceId: null, assignments });
      if (synced.errorCode !== 0 && synced.errorCode !== 27) noteError('sync', `error ${synced.errorCode}`);
      const until = Math.min(deadline, Date.now() + 5_000 + n * 1_000);
      for (let i = 0; Date.now() < until; i++) {
        const hb = await conn.request(ApiKey.Heartbeat, 3, { groupId, generationId, memberId, groupInstanceId: null });
        if (hb.errorCode === 27 || hb.errorCode === 22 || hb.errorCode === 25) break; // rebalance: rejoin
        const committed = await conn.request(ApiKey.OffsetCommit, 7, {
          groupId, generationIdOrMemberEpoch: generationId, memberId, groupInstanceId: null, retentionTimeMs: -1,
          topics: [{ name: TOPIC, partitions: [{ partitionIndex: (n + i) % PARTITIONS, committedOffset: i, committedLeaderEpoch: -1, committedMetadata: null }] }],
        });
        const code = committed.topics[0].partitions[0].errorCode;
        if (code === 0) stats.commits++;
        else if (code !== 27 && code !== 22 && code !== 25) noteError('commit', `error ${code}`);
        await sleep(200);
      }
      await conn.request(ApiKey.LeaveGroup, 3, { groupId, members: [{ memberId, groupInstanceId: null }] });
    } catch (err) {
      noteError('group', err);
    } finally {
      conn.close();
    }
  }
}

const samples = [];
const startedAt = Date.now();
const sampler = (async () => {
  while (Date.now() < deadline) {
    const s = { t: (Date.now() - startedAt) / 1000, ...sample(), ...stats };
    samples.push(s);
    console.log(
      `${s.t.toFixed(0).padStart(5)} s  RSS ${s.rss.toFixed(0).padStart(5)} MiB  fds ${String(s.fds).padStart(4)} (files ${String(s.files).padStart(3)}, sockets ${String(s.sockets).padStart(3)})  ` +
        `produced ${stats.produced}  consumed ${stats.consumed}  commits ${stats.commits}  joins ${stats.joins}  errors ${stats.errors}`,
    );
    await sleep(Number(values.sample) * 1000);
  }
})();

const workers = [
  ...Array.from({ length: Number(values.producers) }, (_, n) => producer(n)),
  ...Array.from({ length: Number(values.consumers) }, (_, n) => consumer(n)),
  ...Array.from({ length: Number(values.groups) }, (_, g) => [groupMember(g, 0), groupMember(g, 1), groupMember(g, 2)]).flat(),
];
await Promise.all([...workers.map((w) => w.catch((err) => noteError('worker', err))), sampler]);
samples.push({ t: (Date.now() - startedAt) / 1000, ...sample(), ...stats });
admin.close();

// ---- verdict ----
const third = Math.floor(samples.length / 3);
const middle = samples.slice(third, 2 * third);
const last = samples.slice(2 * third);
const median = (xs, k) => {
  const v = xs.map((x) => x[k]).sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)];
};
const max = (xs, k) => Math.max(...xs.map((x) => x[k]));
// Medians, so one sample caught mid-roll or mid-retention does not decide it; the maxima are shown too.
const verdict = (k, margin) => {
  if (middle.length === 0) return 'too short to tell';
  const grew = median(last, k) - median(middle, k);
  const figures = `median ${median(middle, k).toFixed(0)} → ${median(last, k).toFixed(0)}, max ${max(middle, k).toFixed(0)} → ${max(last, k).toFixed(0)}`;
  return grew <= margin(median(middle, k)) ? `levelled off (${figures})` : `still growing (${figures})`;
};
const mib = stats.producedBytes / 1024 ** 2;
console.log(`\n${MINUTES} min, ${values.io}, --fsync ${values.fsync}: produced ${stats.produced} records (${mib.toFixed(0)} MiB, ${(mib / (MINUTES * 60)).toFixed(1)} MiB/s), consumed ${stats.consumed}, ${stats.commits} commits, ${stats.joins} joins, ${stats.errors} errors, ${stats.reconnects} reconnects`);
console.log(`RSS: ${verdict('rss', (m) => Math.max(16, m * 0.1))}`);
console.log(`fds: ${verdict('fds', () => 8)}`);
if (errorSamples.length) console.log(`first errors:\n  ${errorSamples.join('\n  ')}`);
if (broker.exitCode !== null || broker.signalCode !== null) console.log(`broker died: ${broker.exitCode ?? broker.signalCode}\n${brokerOut.slice(-4000)}`);
killBroker();
fs.rmSync(dataDir, { recursive: true, force: true });
process.exit(stats.errors > 0 || broker.exitCode !== null ? 1 : 0);
