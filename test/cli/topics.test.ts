import { describe, expect, it } from 'vitest';
import { ApiKey } from '../../src/protocol/index.js';
import { connect, useBroker } from '../helpers/broker.js';
import { bootstrap, deadAddress, parseTable, penstock } from './cli.js';

describe('penstock topics', () => {
  const broker = useBroker();

  it('creates a topic with partitions and settings, and describe shows them', async () => {
    const created = await penstock(['topics', 'create', 'orders', '--partitions', '3', '--config', 'retention.ms=86400000', '--config', 'cleanup.policy=compact', ...bootstrap(broker())]);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.out).toBe('Created topic orders with 3 partitions.\n');

    // The broker holds what was asked for.
    const topic = broker().broker.logs.getTopic('orders')!;
    expect(topic.partitions).toHaveLength(3);
    expect(topic.config['retention.ms']).toBe(86_400_000);
    expect(topic.config['cleanup.policy']).toBe('compact');

    const described = await penstock(['topics', 'describe', 'orders', ...bootstrap(broker())]);
    expect(described.code).toBe(0);
    expect(described.out).toContain('Topic: orders   Partitions: 3   Internal: no');
    expect(described.out).toContain('Configs: cleanup.policy=compact, retention.ms=86400000');
    const partitions = parseTable(described.out.slice(described.out.indexOf('PARTITION')));
    expect(partitions.map((p) => p.PARTITION)).toEqual(['0', '1', '2']);
    expect(partitions.every((p) => p['LOG-START-OFFSET'] === '0' && p['HIGH-WATERMARK'] === '0')).toBe(true);
  });

  it('describe --json gives every setting with its source, and offsets per partition', async () => {
    await penstock(['topics', 'create', 'described', '--partitions', '2', '--config', 'segment.bytes=1048576', ...bootstrap(broker())]);
    await penstock(['produce', 'described', '--partition', '1', ...bootstrap(broker())], { input: 'a\nb\nc\n' });
    const result = await penstock(['topics', 'describe', '--topic', 'described', '--json', ...bootstrap(broker())]);
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.out);
    expect(doc.topics).toHaveLength(1);
    const t = doc.topics[0];
    expect(t).toMatchObject({ name: 'described', internal: false });
    expect(t.partitions).toEqual([
      { partition: 0, leader: 0, logStartOffset: 0, highWatermark: 0 },
      { partition: 1, leader: 0, logStartOffset: 0, highWatermark: 3 },
    ]);
    const configs = new Map(t.configs.map((c: any) => [c.name, c]));
    expect(configs.get('segment.bytes')).toMatchObject({ value: '1048576', source: 'DYNAMIC_TOPIC_CONFIG', isDefault: false });
    expect(configs.get('retention.ms')).toMatchObject({ value: '604800000', source: 'DEFAULT_CONFIG', isDefault: true });

    const all = await penstock(['topics', 'describe', 'described', '--all-configs', ...bootstrap(broker())]);
    const rows = parseTable(all.out.slice(all.out.indexOf('CONFIG')));
    expect(rows.find((r) => r.CONFIG === 'segment.bytes')).toEqual({ CONFIG: 'segment.bytes', VALUE: '1048576', SOURCE: 'DYNAMIC_TOPIC_CONFIG' });
    expect(rows.find((r) => r.CONFIG === 'cleanup.policy')?.SOURCE).toBe('DEFAULT_CONFIG');
  });

  it('lists topics as a table and as JSON', async () => {
    // The first coordinator lookup creates __consumer_offsets, as in Kafka.
    const c = await connect(broker());
    await c.request(ApiKey.FindCoordinator, 2, { key: 'any-group', keyType: 0 });
    await penstock(['topics', 'create', 'listed-a', ...bootstrap(broker())]);
    await penstock(['topics', 'create', 'listed-b', '--partitions', '4', ...bootstrap(broker())]);

    const table = await penstock(['topics', 'list', ...bootstrap(broker())]);
    expect(table.code).toBe(0);
    const rows = parseTable(table.out);
    expect(rows.find((r) => r.TOPIC === 'listed-b')).toEqual({ TOPIC: 'listed-b', PARTITIONS: '4', INTERNAL: 'no' });
    expect(rows.find((r) => r.TOPIC === '__consumer_offsets')?.INTERNAL).toBe('yes');

    const json = await penstock(['topics', 'list', '--json', '--exclude-internal', ...bootstrap(broker())]);
    const doc = JSON.parse(json.out);
    expect(doc.topics).toContainEqual({ name: 'listed-a', partitions: 1, internal: false });
    expect(doc.topics.some((t: any) => t.internal)).toBe(false);
  });

  it('deletes topics; deleting one that does not exist fails unless --if-exists', async () => {
    await penstock(['topics', 'create', 'doomed', ...bootstrap(broker())]);
    const deleted = await penstock(['topics', 'delete', 'doomed', ...bootstrap(broker())]);
    expect(deleted.code).toBe(0);
    expect(deleted.out).toBe('Deleted topic doomed.\n');
    expect(broker().broker.logs.getTopic('doomed')).toBeUndefined();

    const again = await penstock(['topics', 'delete', 'doomed', ...bootstrap(broker())]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('deleting topic "doomed": UNKNOWN_TOPIC_OR_PARTITION');

    const tolerant = await penstock(['topics', 'delete', 'doomed', '--if-exists', '--json', ...bootstrap(broker())]);
    expect(tolerant.code).toBe(0);
    expect(JSON.parse(tolerant.out)).toEqual({ topics: [{ name: 'doomed', deleted: false, error: null }] });
  });

  it('creating an existing topic fails with the broker error, or succeeds with --if-not-exists', async () => {
    await penstock(['topics', 'create', 'twice', ...bootstrap(broker())]);
    const again = await penstock(['topics', 'create', 'twice', ...bootstrap(broker())]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/creating topic "twice": TOPIC_ALREADY_EXISTS/);

    const tolerant = await penstock(['topics', 'create', 'twice', '--if-not-exists', '--json', ...bootstrap(broker())]);
    expect(tolerant.code).toBe(0);
    expect(JSON.parse(tolerant.out)).toEqual({ topic: 'twice', created: false, partitions: 1 });
  });

  it('an unknown topic setting is refused by the broker: exit 1 naming the key', async () => {
    const result = await penstock(['topics', 'create', 'badconfig', '--config', 'retention.mss=1', ...bootstrap(broker())]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('INVALID_CONFIG');
    expect(result.stderr).toContain('retention.mss');
    expect(broker().broker.logs.getTopic('badconfig')).toBeUndefined();
  });

  it('describing an unknown topic exits 1 and does not create it', async () => {
    const result = await penstock(['topics', 'describe', 'no-such-topic', ...bootstrap(broker())]);
    expect(result.code).toBe(1);
    expect(result.out).toBe('');
    expect(result.stderr).toBe('penstock topics: topic "no-such-topic": UNKNOWN_TOPIC_OR_PARTITION (no such topic or partition)\n');
    expect(broker().broker.logs.getTopic('no-such-topic')).toBeUndefined();
  });

  it('usage errors exit 2 with a pointer to --help', async () => {
    const cases = [
      ['topics', 'list', '--no-such-flag'],
      ['topics', 'create', 'x', '--partitions', 'many'],
      ['topics', 'create', 'x', '--partitions', '0'],
      ['topics', 'create', 'x', '--config', 'retention.ms'],
      ['topics', 'create'],
      ['topics', 'frobnicate'],
      ['topics'],
      ['topics', 'list', '--partitions', '3'],
      ['topics', 'list', '--bootstrap-server', 'localhost'],
    ];
    for (const args of cases) {
      const result = await penstock([...args, ...(args.includes('--bootstrap-server') ? [] : bootstrap(broker()))]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(/^penstock topics: .+\nRun 'penstock topics --help' for usage\.\n$/);
    }
  });

  it('an unreachable broker exits 1 with a clear message', async () => {
    const address = await deadAddress();
    const result = await penstock(['topics', 'list', '--bootstrap-server', address]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`penstock topics: cannot reach a broker at ${address} (ECONNREFUSED); is penstock running there? (--bootstrap-server)\n`);
  });

  it('--help documents the commands and the exit codes', async () => {
    const result = await penstock(['topics', '--help']);
    expect(result.code).toBe(0);
    for (const word of ['list', 'create', 'describe', 'delete', '--partitions', '--config', '--bootstrap-server', 'exit codes', '2  usage error']) {
      expect(result.out).toContain(word);
    }
  });
});
