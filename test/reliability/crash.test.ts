/**
 * Crash safety: a broker child under steady produce load is SIGKILLed at random moments (sometimes again
 * while it recovers) and restarted on the same data directory, many times. After every restart each
 * acknowledged record must be there exactly once, in order, at its acknowledged offset; offsets must be
 * contiguous from the log start; unacknowledged batches must be whole or gone; the last acknowledged
 * offset commit must be there.
 *
 * PENSTOCK_CRASH_CYCLES (default 6) sets the cycles per configuration; PENSTOCK_SEED replays a run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killAllChildren, prepareBrokerChildren, spawnBrokerChild, startBrokerChild, type BrokerChild } from './helpers/child-broker.js';
import { checkCommits, commitUntilStopped, type CommitState } from './helpers/commits.js';
import { Ledger, checkPartition, connectTo, createTopicOn, produceUntilStopped, readWholeLog, withSeed } from './helpers/ledger.js';
import { Rng, runSeed } from './helpers/rng.js';

const CYCLES = Number(process.env.PENSTOCK_CRASH_CYCLES ?? 6);
const TOPIC = 'crash';
const PARTITIONS = 3;
const GROUP = 'crash-group';

interface Config {
  name: string;
  acks: 1 | -1;
  fsync: 'always' | 'never';
}

const CONFIGS: Config[] = [
  { name: 'acks=1, page cache', acks: 1, fsync: 'never' },
  { name: 'acks=-1, --fsync always', acks: -1, fsync: 'always' },
  { name: 'acks=-1, page cache', acks: -1, fsync: 'never' },
  { name: 'acks=1, --fsync always', acks: 1, fsync: 'always' },
];

const OVERRIDES = { 'offsets.topic.num.partitions': 2, 'group.initial.rebalance.delay.ms': 0 };
/** Small segments and index intervals, so kills land in rolls, seals and index writes too. */
const TOPIC_CONFIGS = { 'segment.bytes': String(192 * 1024), 'index.interval.bytes': '1024' };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function verify(broker: BrokerChild, ledger: Ledger, commits: CommitState): Promise<{ records: number; unackedPresent: number }> {
  const conn = await connectTo(broker.port, 'verifier');
  try {
    let records = 0;
    let unackedPresent = 0;
    for (let p = 0; p < PARTITIONS; p++) {
      const check = checkPartition(ledger, p, await readWholeLog(conn, TOPIC, p));
      records += check.records;
      unackedPresent += check.unackedPresent;
    }
    await checkCommits(conn, commits);
    return { records, unackedPresent };
  } finally {
    conn.close();
  }
}

describe('crash safety: SIGKILL under produce load, restart, verify', () => {
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

  for (const [index, config] of CONFIGS.entries()) {
    it(`${config.name}: ${CYCLES} kill -9 cycles keep every acknowledged record and commit`, async () => {
      const seed = runSeed();
      await withSeed(seed, async () => {
        const rng = new Rng(seed);
        const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'penstock-crash-'));
        dirs.push(dataDir);
        const start = () => startBrokerChild({ dataDir, fsync: config.fsync, overrides: OVERRIDES });
        const ledger = new Ledger(`k${index}`);
        const commits: CommitState = { group: GROUP, topic: TOPIC, partitions: PARTITIONS, acked: null, inflight: null };
        let broker = await start();
        const admin = await connectTo(broker.port);
        await createTopicOn(admin, TOPIC, PARTITIONS, TOPIC_CONFIGS);
        admin.close();

        let killsDuringRecovery = 0;
        let lastVerified = { records: 0, unackedPresent: 0 };
        for (let cycle = 0; cycle < CYCLES; cycle++) {
          const producer = await connectTo(broker.port, 'producer');
          const committer = await connectTo(broker.port, 'committer');
          let stop = false;
          const producing = produceUntilStopped(producer, ledger, { topic: TOPIC, partitions: PARTITIONS, acks: config.acks, inflight: 3, rng: rng.fork(), maxRecords: 25, maxValueBytes: 200, stopped: () => stop });
          const committing = commitUntilStopped(committer, ledger, commits, () => stop);
          await sleep(rng.range(80, 400));
          await broker.kill('SIGKILL');
          stop = true;
          const [{ errors }, commitErrors] = await Promise.all([producing, committing]);
          producer.close();
          committer.close();
          expect(errors).toEqual([]);
          expect(commitErrors).toEqual([]);
          expect(fs.existsSync(path.join(dataDir, '.kafka_cleanshutdown'))).toBe(false);

          if (rng.chance(0.3)) {
            // Killed again while loading: recovery itself must be crash-safe.
            const recovering = spawnBrokerChild({ dataDir, fsync: config.fsync, overrides: OVERRIDES });
            await sleep(rng.range(30, 400));
            await recovering.kill('SIGKILL');
            killsDuringRecovery++;
          }
          broker = await start();
          lastVerified = await verify(broker, ledger, commits);
          expect(lastVerified.records).toBeGreaterThanOrEqual(ledger.ackedRecords);
        }
        // A clean stop after all that, and a start without recovery, serve the same log.
        await broker.kill('SIGTERM');
        expect(fs.existsSync(path.join(dataDir, '.kafka_cleanshutdown'))).toBe(true);
        broker = await start();
        const afterClean = await verify(broker, ledger, commits);
        expect(afterClean.records).toBe(lastVerified.records);
        console.log(
          `[crash] ${config.name} (${process.env.PENSTOCK_IO}): ${CYCLES} cycles, ${killsDuringRecovery} kills during recovery, ` +
            `${ledger.ackedRecords} acknowledged records verified (${afterClean.records} in the log, ${afterClean.unackedPresent} unacknowledged batches kept whole), seed ${seed}`,
        );
      });
    }, 60_000 + CYCLES * 8_000);
  }
});
