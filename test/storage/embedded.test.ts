import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openLog, type EmbeddedLog } from '../../src/embedded.js';
import { ErrorCode, KafkaError } from '../../src/protocol/error-codes.js';
import { io, makeTempDir, removeDir } from './helpers.js';

let dir: string;
const opened: EmbeddedLog[] = [];
beforeEach(() => {
  dir = makeTempDir();
});
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((l) => l.close()));
  removeDir(dir);
});

async function open(config: Record<string, string | number> = {}): Promise<EmbeddedLog> {
  const log = await openLog(dir, { config, io });
  opened.push(log);
  return log;
}

describe('embedded log', () => {
  it('appends and reads records back, across compression, segments and a restart', async () => {
    const log = await open({ 'log.segment.bytes': 2048 });
    await log.createTopic('events', { partitions: 2, config: { 'retention.ms': 86_400_000 } });
    expect(log.topics()).toEqual(['events']);

    const written: { key: string; value: string; timestamp: number }[] = [];
    for (const compression of ['none', 'gzip', 'none'] as const) {
      for (let i = 0; i < 20; i++) {
        const batch = Array.from({ length: 3 }, (_, j) => ({ key: `k-${written.length + j}`, value: `value ${written.length + j} ${'x'.repeat(40)}`, timestamp: 1_700_000_000_000 + written.length + j }));
        const r = await log.append('events', 1, batch.map((b) => ({ ...b, headers: { trace: Buffer.from('t'), empty: null } })), { compression });
        expect(r.baseOffset).toBe(written.length);
        expect(r.lastOffset).toBe(written.length + 2);
        written.push(...batch);
      }
    }

    const readEverything = async (l: EmbeddedLog): Promise<string[]> => {
      const values: string[] = [];
      let offset = 0;
      for (;;) {
        const r = await l.read('events', 1, offset, { maxBytes: 700 });
        expect(r.highWatermark).toBe(written.length);
        if (r.records.length === 0) break;
        for (const rec of r.records) {
          expect(rec.offset).toBe(values.length);
          expect(rec.key!.toString()).toBe(written[rec.offset]!.key);
          expect(rec.timestamp).toBe(written[rec.offset]!.timestamp);
          expect(rec.headers.map((h) => [h.key, h.value?.toString() ?? null])).toEqual([
            ['trace', 't'],
            ['empty', null],
          ]);
          values.push(rec.value!.toString());
        }
        offset = values.length;
      }
      return values;
    };
    expect(await readEverything(log)).toEqual(written.map((w) => w.value));
    // A read from the middle of a batch starts at the requested offset.
    const mid = await log.read('events', 1, 4);
    expect(mid.records[0]!.offset).toBe(4);
    expect((await log.read('events', 0, 0)).records).toEqual([]);

    await log.close();
    opened.length = 0;
    const again = await open({ 'log.segment.bytes': 2048 });
    expect(again.topics()).toEqual(['events']);
    expect(await readEverything(again)).toEqual(written.map((w) => w.value));
  });

  it('accepts strings and Buffers, null keys and values', async () => {
    const log = await open();
    await log.createTopic('t');
    await log.append('t', 0, [{ value: 'plain' }, { key: Buffer.from([1, 2]), value: null }, { key: null, value: Buffer.from('b') }]);
    const { records } = await log.read('t', 0, 0);
    expect(records.map((r) => [r.key, r.value?.toString() ?? null])).toEqual([
      [null, 'plain'],
      [Buffer.from([1, 2]), null],
      [null, 'b'],
    ]);
  });

  it('names unknown partitions with Kafka’s error', async () => {
    const log = await open();
    await expect(log.append('missing', 0, [{ value: 'x' }])).rejects.toBeInstanceOf(KafkaError);
    await expect(log.read('missing', 0, 0)).rejects.toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
  });
});
