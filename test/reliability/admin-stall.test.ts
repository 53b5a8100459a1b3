/**
 * A CreateTopics (or CreatePartitions) for hundreds of partitions creates files for seconds on a real
 * disk; the broker must go on answering other clients meanwhile instead of stopping its event loop.
 * Checked by progress, not time: some answers to another client must arrive while the partitions are
 * still being created.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ApiKey } from '../../src/protocol/index.js';
import { connect, useBroker } from '../helpers/broker.js';
import { createTopicOn } from './helpers/ledger.js';

const PARTITIONS = 300;

describe('creating many partitions', () => {
  const broker = useBroker();

  it('answers other clients while the partitions are being created', async () => {
    const running = broker();
    const admin = await connect(running, 'admin');
    const other = await connect(running, 'other');
    const created = (): number => fs.readdirSync(running.dataDir).filter((n) => n.startsWith('stall-')).length;
    const seen: number[] = [];
    let done = false;
    const pinging = (async () => {
      for (let i = 0; i < 100_000 && !done; i++) {
        await other.request(ApiKey.Metadata, 1, { topics: [] });
        seen.push(created());
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    await createTopicOn(admin, 'stall', PARTITIONS);
    done = true;
    await pinging;
    expect(created()).toBe(PARTITIONS);
    const during = seen.filter((n) => n > 0 && n < PARTITIONS).length;
    expect(during, `answers by partitions on disk: ${JSON.stringify(seen.slice(0, 50))}`).toBeGreaterThan(0);
  });
});
