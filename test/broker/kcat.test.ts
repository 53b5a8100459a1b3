import { describe, expect, it } from 'vitest';
import { run } from '../helpers/process.js';
import { useBroker } from '../helpers/broker.js';

const KCAT = '/usr/bin/kcat';

describe('kcat (librdkafka) against the broker', () => {
  const broker = useBroker({ config: { 'num.partitions': 1 } });
  const kcat = (args: string[], input?: string) => run(KCAT, ['-b', broker().bootstrap, ...args], { input, timeoutMs: 30_000 });

  it('lists metadata with -L', async () => {
    const result = await kcat(['-L', '-J']);
    expect(result.code).toBe(0);
    const metadata = JSON.parse(result.stdout.toString());
    expect(metadata.brokers).toEqual([{ id: 0, name: `127.0.0.1:${broker().port}` }]);
    expect(metadata.controllerid).toBe(0);
  });

  for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
    it(`round-trips keyed records produced with -P -z ${codec} and consumed with -C -e, byte for byte`, async () => {
      const topic = `kcat-${codec}`;
      const lines = Array.from({ length: 500 }, (_, i) => `key-${i}\tvalue ${i} ${'é✓'.repeat(i % 7)} ${'x'.repeat(i % 50)}`);
      const produced = await kcat(['-P', '-t', topic, '-K', '\t', '-z', codec, '-X', 'topic.request.required.acks=1'], lines.join('\n') + '\n');
      expect(produced.code, produced.stderr).toBe(0);

      const consumed = await kcat(['-C', '-t', topic, '-o', 'beginning', '-e', '-f', '%p|%o|%k\t%s\n']);
      expect(consumed.code, consumed.stderr).toBe(0);
      const rows = consumed.stdout.toString().trimEnd().split('\n');
      expect(rows).toHaveLength(lines.length);
      rows.forEach((row, i) => expect(row).toBe(`0|${i}|${lines[i]}`));
    });
  }
});
