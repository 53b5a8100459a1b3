/**
 * Long runs: segments deleted by retention must not stay reachable from their partition once their
 * files are gone (found by scripts/soak.mjs: RSS grew ~9 MiB a minute with every deleted segment's
 * index buffers kept until the partition closed).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { brokerConfig, resolveTopicConfig } from '../../src/config.js';
import { defaultIo } from '../../src/io/select.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { encodeRecordBatch } from '../../src/storage/record-codec.js';

describe('segments deleted by retention', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'penstock-retmem-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('are let go once file.delete.delay.ms has passed and their files are unlinked', async () => {
    const config = resolveTopicConfig(brokerConfig({ 'log.dirs': dir }), {
      'segment.bytes': '4096',
      'retention.bytes': '8192',
      'file.delete.delay.ms': '20',
      'index.interval.bytes': '100',
    });
    const log = PartitionLog.open({ topic: 't', partition: 0, dir: path.join(dir, 't-0'), config, io: defaultIo() });
    try {
      for (let i = 0; i < 200; i++) await log.append(encodeRecordBatch([{ key: `k${i}`, value: Buffer.alloc(900, i) }]));
      const deleted = log.deleteOldSegments();
      expect(deleted).toBeGreaterThan(30);
      // What the partition still holds on to for deleted segments (private: no public view of it).
      const pending = (log as unknown as { deletedSegments: Set<unknown> }).deletedSegments;
      for (let i = 0; i < 200 && (pending.size > 0 || fs.readdirSync(log.dir).some((n) => n.endsWith('.deleted'))); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(fs.readdirSync(log.dir).filter((n) => n.endsWith('.deleted'))).toEqual([]);
      expect(pending.size).toBe(0);
    } finally {
      await log.close();
    }
  });
});
