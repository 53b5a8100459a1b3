/**
 * Power loss, simulated: a broker acknowledging only after fdatasync (`--fsync always`, acks=-1) is
 * SIGKILLed under load; then every segment file is cut at a random byte past the point it had reached
 * when the last acknowledgement was sent, and garbage is appended (random bytes, zeros as after a size
 * update without its blocks, an old batch whose CRC is valid but whose offsets go backwards, a header
 * promising more than follows). Index files of every segment recovery will scan are cut and get garbage
 * too. After a restart no acknowledged record may be missing, the garbage must be gone from the files,
 * and the log must go on taking appends with contiguous offsets.
 *
 * PENSTOCK_POWER_CYCLES (default 4) sets the cycles; PENSTOCK_SEED replays a run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readOffsetCheckpoint } from '../../src/storage/checkpoint.js';
import { killAllChildren, prepareBrokerChildren, startBrokerChild, type BrokerChild } from './helpers/child-broker.js';
import { checkCommits, commitUntilStopped, type CommitState } from './helpers/commits.js';
import { Ledger, checkPartition, connectTo, createTopicOn, produceUntilStopped, readWholeLog, withSeed } from './helpers/ledger.js';
import { Rng, runSeed } from './helpers/rng.js';
import { listSegments, readOffsetIndex, scanSegment, type SegmentFiles } from './helpers/segment-files.js';

const CYCLES = Number(process.env.PENSTOCK_POWER_CYCLES ?? 4);
const TOPIC = 'power';
const PARTITIONS = 2;
const GROUP = 'power-group';
const OVERRIDES = {
  'offsets.topic.num.partitions': 1,
  // The recovery point moves during the test, so recovery starts past the first segment.
  'log.flush.offset.checkpoint.interval.ms': 100,
};
const TOPIC_CONFIGS = { 'segment.bytes': String(96 * 1024), 'index.interval.bytes': '512' };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Garbage = 'none' | 'random' | 'zeros' | 'old batch' | 'long header';

function garbage(kind: Garbage, rng: Rng, file: Buffer): Buffer {
  switch (kind) {
    case 'none':
      return Buffer.alloc(0);
    case 'random':
      return rng.bytes(rng.range(1, 4096));
    case 'zeros':
      return Buffer.alloc(rng.range(1, 8192));
    case 'old batch': {
      // A batch that is whole and CRC-valid, but whose offsets go backwards: only the offset check catches it.
      const scanned = scanBuffer(file);
      if (scanned.length === 0) return rng.bytes(100);
      const b = rng.pick(scanned);
      return Buffer.from(file.subarray(b.position, b.position + b.size));
    }
    case 'long header': {
      const h = rng.bytes(61 + rng.int(200));
      h.writeInt32BE(rng.range(1000, 1 << 20), 8);
      h.writeInt8(2, 16);
      return h;
    }
  }
}

function scanBuffer(data: Buffer): { position: number; size: number }[] {
  const out: { position: number; size: number }[] = [];
  for (let pos = 0; data.length - pos >= 61; ) {
    const size = 12 + data.readInt32BE(pos + 8);
    if (size < 61 || pos + size > data.length) break;
    out.push({ position: pos, size });
    pos += size;
  }
  return out;
}

interface Damage {
  file: string;
  cutAt: number;
  kind: Garbage;
}

/**
 * Cuts the partition's segment files beyond the acknowledged bytes and appends garbage. Returns what
 * was done to each log file, to check the files after recovery.
 */
function damagePartition(dir: string, ackedEnd: number, recoveryPoint: number | undefined, rng: Rng): Damage[] {
  const segments = listSegments(dir);
  const damages: Damage[] = [];
  // The segment holding the last acknowledged offset, and every one after it, may lose unacknowledged bytes.
  let firstCut = 0;
  for (let i = 0; i < segments.length; i++) if (segments[i]!.baseOffset <= Math.max(0, ackedEnd - 1)) firstCut = i;
  for (let i = firstCut; i < segments.length; i++) {
    const seg = segments[i]!;
    const data = fs.readFileSync(seg.log);
    let safeFrom = 0;
    if (i === firstCut && ackedEnd > seg.baseOffset) {
      const end = scanSegment(seg.log).batches.find((b) => b.lastOffset + 1 === ackedEnd);
      if (!end) throw new Error(`no batch ending at acknowledged offset ${ackedEnd} in ${seg.log}`);
      safeFrom = end.position + end.size;
    }
    const cutAt = rng.range(safeFrom, data.length);
    const kind = rng.pick<Garbage>(['none', 'random', 'zeros', 'old batch', 'long header']);
    const tail = garbage(kind, rng, data.subarray(0, cutAt));
    fs.writeFileSync(seg.log, Buffer.concat([data.subarray(0, cutAt), tail]));
    damages.push({ file: seg.log, cutAt, kind });
  }
  // Indexes are fsync'd only when their segment is sealed: those recovery will rebuild may hold anything.
  let recoverFrom = 0;
  if (recoveryPoint !== undefined) segments.forEach((s, i) => s.baseOffset <= recoveryPoint && (recoverFrom = i));
  for (const seg of segments.slice(recoverFrom)) damageIndex(seg, rng);
  return damages;
}

function damageIndex(seg: SegmentFiles, rng: Rng): void {
  for (const file of [seg.index, seg.timeindex]) {
    if (!fs.existsSync(file) || rng.chance(0.2)) continue;
    const data = fs.readFileSync(file);
    const cut = rng.range(0, data.length);
    fs.writeFileSync(file, Buffer.concat([data.subarray(0, cut), rng.chance(0.7) ? rng.bytes(rng.range(1, 64)) : Buffer.alloc(0)]));
  }
}

/** After recovery every log file is whole batches, no longer than where it was cut, and every index entry points at a batch. */
function checkRecoveredFiles(dir: string, damages: Damage[]): void {
  for (const seg of listSegments(dir)) {
    const scanned = scanSegment(seg.log);
    if (scanned.validBytes !== scanned.fileSize) throw new Error(`${seg.log}: ${scanned.fileSize - scanned.validBytes} bytes of garbage left after recovery`);
    const damage = damages.find((d) => d.file === seg.log);
    if (damage && scanned.fileSize > damage.cutAt) throw new Error(`${seg.log}: ${scanned.fileSize} bytes after recovery, but it was cut at ${damage.cutAt} (${damage.kind} appended)`);
    const starts = new Map(scanned.batches.map((b) => [b.position, b]));
    let last = -1;
    for (const entry of readOffsetIndex(seg.index)) {
      const batch = starts.get(entry.position);
      if (!batch || entry.offset < batch.baseOffset || entry.offset <= last) throw new Error(`${seg.index}: entry (${entry.offset}, ${entry.position}) does not point at its batch`);
      last = entry.offset;
    }
  }
}

describe('power loss: files cut past the last acknowledged fdatasync, garbage appended', () => {
  const dirs: string[] = [];
  beforeAll(async () => {
    await prepareBrokerChildren();
  }, 180_000);
  afterEach(async () => {
    await killAllChildren();
  });
  afterAll(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`keeps every record acknowledged under --fsync always through ${CYCLES} simulated power cuts`, async () => {
    const seed = runSeed();
    await withSeed(seed, async () => {
      const rng = new Rng(seed);
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'penstock-power-'));
      dirs.push(dataDir);
      const start = () => startBrokerChild({ dataDir, fsync: 'always', overrides: OVERRIDES });
      const ledger = new Ledger('pw');
      const commits: CommitState = { group: GROUP, topic: TOPIC, partitions: PARTITIONS, acked: null, inflight: null };
      let broker: BrokerChild = await start();
      const admin = await connectTo(broker.port);
      await createTopicOn(admin, TOPIC, PARTITIONS, TOPIC_CONFIGS);
      admin.close();

      const kinds = new Map<string, number>();
      let cuts = 0;
      for (let cycle = 0; cycle < CYCLES; cycle++) {
        const producer = await connectTo(broker.port, 'producer');
        const committer = await connectTo(broker.port, 'committer');
        let stop = false;
        const producing = produceUntilStopped(producer, ledger, { topic: TOPIC, partitions: PARTITIONS, acks: -1, inflight: 3, rng: rng.fork(), maxRecords: 25, maxValueBytes: 200, stopped: () => stop });
        const committing = commitUntilStopped(committer, ledger, commits, () => stop);
        await sleep(rng.range(150, 450));
        await broker.kill('SIGKILL');
        stop = true;
        const [{ errors }, commitErrors] = await Promise.all([producing, committing]);
        producer.close();
        committer.close();
        expect(errors).toEqual([]);
        expect(commitErrors).toEqual([]);

        const checkpoint = readOffsetCheckpoint(path.join(dataDir, 'recovery-point-offset-checkpoint')) ?? [];
        const damages: Damage[] = [];
        for (let p = 0; p < PARTITIONS; p++) {
          const recoveryPoint = checkpoint.find((e) => e.topic === TOPIC && e.partition === p)?.offset;
          damages.push(...damagePartition(path.join(dataDir, `${TOPIC}-${p}`), ledger.ackedEnd.get(p) ?? 0, recoveryPoint, rng));
        }
        // The offsets topic gets garbage after its last (acknowledged) commit.
        for (const seg of listSegments(path.join(dataDir, '__consumer_offsets-0')).slice(-1)) fs.appendFileSync(seg.log, rng.bytes(rng.range(1, 300)));
        for (const d of damages) kinds.set(d.kind, (kinds.get(d.kind) ?? 0) + 1);
        cuts += damages.length;

        broker = await start();
        const conn = await connectTo(broker.port, 'verifier');
        for (let p = 0; p < PARTITIONS; p++) {
          checkPartition(ledger, p, await readWholeLog(conn, TOPIC, p));
          checkRecoveredFiles(path.join(dataDir, `${TOPIC}-${p}`), damages);
        }
        await checkCommits(conn, commits);
        conn.close();
      }
      console.log(
        `[power-loss] (${process.env.PENSTOCK_IO}) ${CYCLES} cuts of ${cuts} segment files (${[...kinds].map(([k, n]) => `${k}: ${n}`).join(', ')}), ` +
          `${ledger.ackedRecords} acknowledged records all kept, seed ${seed}`,
      );
    });
  }, 60_000 + CYCLES * 10_000);
});
