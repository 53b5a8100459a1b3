import { describe, expect, it } from 'vitest';
import { partitionForKey } from '../../src/cli/partitioner.js';
import { ApiKey } from '../../src/protocol/index.js';
import { decodeRecordBatches } from '../../src/storage/record-codec.js';
import { connect, fetchRequest, useBroker } from '../helpers/broker.js';
import { bootstrap, deadAddress, penstock } from './cli.js';

function jsonLines(text: string): any[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
}

describe('penstock produce and consume', () => {
  const broker = useBroker();

  it('produces lines and consumes them back in order from the beginning', async () => {
    await penstock(['topics', 'create', 'lines', ...bootstrap(broker())]);
    const lines = Array.from({ length: 50 }, (_, i) => `line ${i}`);
    const produced = await penstock(['produce', 'lines', ...bootstrap(broker())], { input: `${lines.join('\n')}\n` });
    expect(produced.code).toBe(0);
    expect(produced.stderr).toBe('Produced 50 records to lines.\n');
    expect(produced.out).toBe('');

    const consumed = await penstock(['consume', 'lines', '--from-beginning', '--max', '50', ...bootstrap(broker())]);
    expect(consumed.code).toBe(0);
    expect(consumed.out).toBe(`${lines.join('\n')}\n`);
    expect(consumed.stderr).toBe('Processed a total of 50 messages\n');

    // --max stops exactly there.
    const some = await penstock(['consume', 'lines', '--from-beginning', '--max', '7', ...bootstrap(broker())]);
    expect(some.out.split('\n').filter(Boolean)).toEqual(lines.slice(0, 7));
  });

  it('the records on the broker are what a Kafka client would read: values, null keys, offsets in order', async () => {
    await penstock(['produce', 'raw-check', '--partition', '0', ...bootstrap(broker())], { input: 'a\r\nb\n\nlast-without-newline' });
    const c = await connect(broker());
    const res = await c.request(ApiKey.Fetch, 11, fetchRequest('raw-check', 0, 0));
    const records = decodeRecordBatches(res.responses[0].partitions[0].records).flatMap((b) => b.records);
    // CRLF loses its CR and an empty line is an empty value, as with Kafka's console producer.
    expect(records.map((r) => [r.offset, r.key, r.value?.toString()])).toEqual([
      [0, null, 'a'],
      [1, null, 'b'],
      [2, null, ''],
      [3, null, 'last-without-newline'],
    ]);
  });

  it('--key-separator splits key from value; keyed records land where Kafka puts them', async () => {
    await penstock(['topics', 'create', 'keyed', '--partitions', '3', ...bootstrap(broker())]);
    const input = ['user-1:login', 'user-2:login', 'user-1:click', 'user-3:login', 'user-2:logout', 'user-1:value:with:colons'].join('\n');
    const produced = await penstock(['produce', 'keyed', '--key-separator', ':', '--json', ...bootstrap(broker())], { input });
    expect(produced.code).toBe(0);
    const summary = JSON.parse(produced.out);
    expect(summary).toMatchObject({ topic: 'keyed', records: 6, acks: -1 });

    const consumed = await penstock(['consume', 'keyed', '--from-beginning', '--max', '6', '--json', ...bootstrap(broker())]);
    expect(consumed.code).toBe(0);
    const records = jsonLines(consumed.out);
    expect(records).toHaveLength(6);
    for (const r of records) {
      expect(r.topic).toBe('keyed');
      expect(r.partition).toBe(partitionForKey(Buffer.from(r.key), 3));
      expect(typeof r.timestamp).toBe('number');
      expect(r.headers).toEqual([]);
    }
    // Order is kept within a key (one partition each).
    expect(records.filter((r) => r.key === 'user-1').map((r) => r.value)).toEqual(['login', 'click', 'value:with:colons']);

    const printed = await penstock(['consume', 'keyed', '--from-beginning', '--max', '6', '--print-key', '--key-separator', '=', ...bootstrap(broker())]);
    expect(printed.out.split('\n').filter(Boolean).sort()).toEqual(
      ['user-1=login', 'user-2=login', 'user-1=click', 'user-3=login', 'user-2=logout', 'user-1=value:with:colons'].sort(),
    );
  });

  it('a line without the key separator fails with its line number; the lines before it are produced', async () => {
    await penstock(['topics', 'create', 'strict-keys', ...bootstrap(broker())]);
    const result = await penstock(['produce', 'strict-keys', '--key-separator', '\t', ...bootstrap(broker())], { input: 'k1\tv1\nk2\tv2\nno separator\nk3\tv3\n' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('line 3 has no key separator');
    expect(result.stderr).toContain('the 2 records before it were produced');
    expect(broker().broker.logs.partition('strict-keys', 0)!.highWatermark).toBe(2);
  });

  it('--partition sends to one partition and consume --partition reads only it', async () => {
    await penstock(['topics', 'create', 'parted', '--partitions', '2', ...bootstrap(broker())]);
    await penstock(['produce', 'parted', '--partition', '1', ...bootstrap(broker())], { input: 'p1-a\np1-b\n' });
    await penstock(['produce', 'parted', '--partition', '0', ...bootstrap(broker())], { input: 'p0-a\n' });
    expect(broker().broker.logs.partition('parted', 0)!.highWatermark).toBe(1);
    expect(broker().broker.logs.partition('parted', 1)!.highWatermark).toBe(2);

    const one = await penstock(['consume', 'parted', '--partition', '1', '--from-beginning', '--max', '2', ...bootstrap(broker())]);
    expect(one.out).toBe('p1-a\np1-b\n');
    const fromOffset = await penstock(['consume', 'parted', '--partition', '1', '--offset', '1', '--max', '1', '--json', ...bootstrap(broker())]);
    expect(jsonLines(fromOffset.out)).toMatchObject([{ partition: 1, offset: 1, value: 'p1-b' }]);

    const missing = await penstock(['produce', 'parted', '--partition', '5', ...bootstrap(broker())], { input: 'x\n' });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('partition parted-5: UNKNOWN_TOPIC_OR_PARTITION');
  });

  it('a large input goes out in batches and comes back complete', async () => {
    await penstock(['topics', 'create', 'bulk', '--partitions', '4', ...bootstrap(broker())]);
    const count = 20_000;
    const input = Array.from({ length: count }, (_, i) => `k${i % 100}:${'v'.repeat(40)}-${i}`).join('\n');
    const produced = await penstock(['produce', 'bulk', '--key-separator', ':', '--batch-bytes', '65536', '--json', ...bootstrap(broker())], { input, timeoutMs: 60_000 });
    expect(produced.code).toBe(0);
    const summary = JSON.parse(produced.out);
    expect(summary.records).toBe(count);
    expect(summary.partitions.reduce((n: number, p: any) => n + p.records, 0)).toBe(count);
    const hw = [0, 1, 2, 3].map((p) => broker().broker.logs.partition('bulk', p)!.highWatermark);
    expect(hw.reduce((a, b) => a + b, 0)).toBe(count);
    for (const p of summary.partitions) expect(p.lastOffset - p.firstOffset + 1).toBe(p.records);
    // Batched: far fewer batches than records on the broker.
    const c = await connect(broker());
    const res = await c.request(ApiKey.Fetch, 11, fetchRequest('bulk', 0, 0, { partitionMaxBytes: 50 * 1024 * 1024 }));
    const batches = decodeRecordBatches(res.responses[0].partitions[0].records);
    expect(batches.reduce((n, b) => n + b.records.length, 0)).toBe(hw[0]);
    expect(batches.length).toBeLessThan(hw[0]! / 50);

    const consumed = await penstock(['consume', 'bulk', '--from-beginning', '--max', String(count), ...bootstrap(broker())], { timeoutMs: 60_000 });
    expect(consumed.code).toBe(0);
    const values = consumed.out.split('\n').filter(Boolean);
    expect(values).toHaveLength(count);
    expect(new Set(values).size).toBe(count);
  });

  it('--compression and --acks 0 still deliver every record', async () => {
    await penstock(['topics', 'create', 'squeezed', ...bootstrap(broker())]);
    const gz = await penstock(['produce', 'squeezed', '--compression', 'gzip', ...bootstrap(broker())], { input: 'one\ntwo\n' });
    expect(gz.code).toBe(0);
    const fire = await penstock(['produce', 'squeezed', '--acks', '0', ...bootstrap(broker())], { input: 'three\n' });
    expect(fire.code).toBe(0);
    expect(fire.stderr).toBe('Sent 1 record to squeezed.\n');
    const consumed = await penstock(['consume', 'squeezed', '--from-beginning', '--max', '3', ...bootstrap(broker())]);
    expect(consumed.out).toBe('one\ntwo\nthree\n');
  });

  it('--timeout-ms ends a consume that gets no records, with exit 0', async () => {
    await penstock(['topics', 'create', 'quiet', ...bootstrap(broker())]);
    const result = await penstock(['consume', 'quiet', '--from-beginning', '--timeout-ms', '300', ...bootstrap(broker())]);
    expect(result.code).toBe(0);
    expect(result.out).toBe('');
    expect(result.stderr).toBe('Processed a total of 0 messages\n');
  });

  it('without --from-beginning a consumer sees only records produced after it started', async () => {
    await penstock(['topics', 'create', 'tail', ...bootstrap(broker())]);
    await penstock(['produce', 'tail', ...bootstrap(broker())], { input: 'old\n' });
    const consuming = penstock(['consume', 'tail', '--max', '1', '--timeout-ms', '15000', ...bootstrap(broker())]);
    // Produce until the consumer, which started at the end, has printed something (bounded).
    let result: Awaited<typeof consuming> | undefined;
    void consuming.then((r) => (result = r));
    for (let i = 0; i < 100 && result === undefined; i++) {
      await penstock(['produce', 'tail', ...bootstrap(broker())], { input: 'new\n' });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const done = await consuming;
    expect(done.code).toBe(0);
    expect(done.out).toBe('new\n');
  });

  it('consuming an unknown topic exits 1 and does not create it', async () => {
    const result = await penstock(['consume', 'never-made', '--max', '1', ...bootstrap(broker())]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('topic "never-made": UNKNOWN_TOPIC_OR_PARTITION');
    expect(broker().broker.logs.getTopic('never-made')).toBeUndefined();
  });

  it('usage errors exit 2; an unreachable broker exits 1', async () => {
    for (const args of [
      ['produce'],
      ['produce', 'a', 'b'],
      ['produce', 't', '--acks', '2'],
      ['produce', 't', '--compression', 'brotli'],
      ['produce', 't', '--key-separator', ''],
      ['consume', 't', '--max', '0'],
      ['consume', 't', '--offset', '3'],
      ['consume', 't', '--timeout-ms', 'soon'],
      ['consume', 't', '--whatever'],
    ]) {
      const result = await penstock([...args, ...bootstrap(broker())], { input: 'x\n' });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(/^penstock (produce|consume): .+\nRun 'penstock (produce|consume) --help' for usage\.\n$/);
    }
    const address = await deadAddress();
    for (const command of ['produce', 'consume']) {
      const result = await penstock([command, 't', '--bootstrap-server', address], { input: 'x\n' });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`cannot reach a broker at ${address} (ECONNREFUSED)`);
    }
  });

  it('--help of both commands documents their flags and exit codes', async () => {
    const produce = await penstock(['produce', '--help']);
    expect(produce.code).toBe(0);
    for (const word of ['--key-separator', '--partition', '--acks', 'exit codes']) expect(produce.out).toContain(word);
    const consume = await penstock(['consume', '--help']);
    expect(consume.code).toBe(0);
    for (const word of ['--from-beginning', '--group', '--max', '--timeout-ms', 'generation -1', 'exit codes']) expect(consume.out).toContain(word);
  });
});
