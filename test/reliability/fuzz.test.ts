/**
 * Protocol fuzzing against a live broker child: every advertised API and version, mutated (see
 * fuzz/engine.ts). Zero crashes, zero hangs; a well-formed client keeps working throughout.
 *
 * Bounded for CI by PENSTOCK_FUZZ_CASES (default 3000) and PENSTOCK_FUZZ_SECONDS (default 20);
 * `npm run fuzz -- --cases 200000 --minutes 5` runs far more. PENSTOCK_SEED replays a run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killAllChildren, prepareBrokerChildren, startBrokerChild } from './helpers/child-broker.js';
import { connectTo, createTopicOn } from './helpers/ledger.js';
import { runSeed } from './helpers/rng.js';
import { runFuzz } from './fuzz/engine.js';
import { FUZZ_GROW_TOPIC, FUZZ_TOPIC } from './fuzz/seeds.js';

const CASES = Number(process.env.PENSTOCK_FUZZ_CASES ?? 3000);
const SECONDS = Number(process.env.PENSTOCK_FUZZ_SECONDS ?? 20);
const HEALTH_TOPIC = 'health-check-zz';

/** Reasons the broker gave for closing connections that point at its own bugs rather than at the input. */
const INTERNAL_FAILURES = /internal error|request handler failed|could not encode a response/;


describe('protocol fuzzing', () => {
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

  it(`answers or closes on ${CASES} mutated requests (≤ ${SECONDS} s) without crashing, hanging, or failing other clients`, async () => {
    const seed = runSeed();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'penstock-fuzz-'));
    dirs.push(dataDir);
    const broker = await startBrokerChild({
      dataDir,
      overrides: {
        'offsets.topic.num.partitions': 2,
        'group.initial.rebalance.delay.ms': 0,
        'group.min.session.timeout.ms': 10,
        'group.max.session.timeout.ms': 1000,
        'socket.request.max.bytes': 8 * 1024 * 1024,
      },
    });
    const admin = await connectTo(broker.port);
    await createTopicOn(admin, FUZZ_TOPIC, 2);
    await createTopicOn(admin, FUZZ_GROW_TOPIC, 1);
    await createTopicOn(admin, HEALTH_TOPIC, 1);
    admin.close();

    const report = await runFuzz({
      host: '127.0.0.1',
      port: broker.port,
      seed,
      maxCases: CASES,
      deadline: Date.now() + SECONDS * 1000,
      healthEvery: 100,
      caseTimeoutMs: 3000,
      brokerAlive: () => broker.alive,
      healthTopic: HEALTH_TOPIC,
    });
    const internal = broker.warnings().filter((l) => INTERNAL_FAILURES.test(l.msg));
    const summary =
      `[fuzz] (${process.env.PENSTOCK_IO}) seed ${seed}: ${report.cases} cases over ${Object.keys(report.perApi).length} API versions; ` +
      `${report.answered} answered, ${report.closed} closed, ${report.unanswered} acks=0, ${report.parked} parked, ${report.incomplete} incomplete frames; ` +
      `${report.connections} connections, ${report.healthChecks} health checks; mutations ${JSON.stringify(report.mutations)}`;
    console.log(summary);
    for (const l of internal.slice(0, 3)) console.log(`[fuzz] broker-side failure: ${l.msg} (API ${String(l.apiKey)} v${String(l.apiVersion)})\n${String(l.err)}`);
    expect(report.failures, `[PENSTOCK_SEED=${seed}] ${summary}`).toEqual([]);
    expect(broker.alive, broker.describe()).toBe(true);
    expect(
      internal.map((l) => `${l.msg}: ${String(l.err).split('\n').slice(0, 3).join(' | ')}`),
      `[PENSTOCK_SEED=${seed}] the broker hit its own bugs`,
    ).toEqual([]);
    expect(report.cases).toBeGreaterThan(Math.min(CASES, 200));
  }, 120_000 + SECONDS * 1000);
});
