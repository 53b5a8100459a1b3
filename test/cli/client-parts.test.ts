import { describe, expect, it } from 'vitest';
import { parseBootstrapServers } from '../../src/cli/cluster-client.js';
import { UsageError, formatTable } from '../../src/cli/command.js';
import { decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription, rangeAssign } from '../../src/cli/consumer-protocol.js';
import { murmur2, partitionForKey } from '../../src/cli/partitioner.js';
import { Writer, encodeConsumerProtocolSubscription } from '../../src/protocol/index.js';

describe('the CLI partitioner', () => {
  it("matches Kafka's Utils.murmur2", () => {
    // Values from Apache Kafka's Java implementation.
    const expected: [string, number][] = [
      ['0', 971027396],
      ['1', -1993445489],
      ['12', 126087238],
      ['123', -267702483],
      ['1234', -1614185708],
      ['12345', -1188365604],
      ['128', -326012175],
      ['2187', -1508407203],
      ['16384', -325739742],
    ];
    for (const [key, hash] of expected) expect(murmur2(Buffer.from(key)), key).toBe(hash);
  });

  it('maps a key to toPositive(murmur2) % partitions', () => {
    expect(partitionForKey(Buffer.from('1'), 3)).toBe((-1993445489 & 0x7fffffff) % 3);
    for (let i = 0; i < 100; i++) {
      const p = partitionForKey(Buffer.from(`key-${i}`), 7);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(7);
    }
  });
});

describe('the consumer protocol', () => {
  it('round-trips subscriptions and assignments', () => {
    expect(decodeSubscription(encodeSubscription(['a', 'b']))).toEqual({ topics: ['a', 'b'] });
    const assignment = new Map([
      ['a', [0, 2]],
      ['b', [1]],
    ]);
    expect(decodeAssignment(encodeAssignment(assignment))).toEqual(assignment);
    expect(decodeAssignment(Buffer.alloc(0))).toEqual(new Map());
  });

  it('reads newer subscription versions than it writes (v1 with owned partitions, as kafkajs and Java send)', () => {
    const w = new Writer().int16(1);
    encodeConsumerProtocolSubscription(w, 1, { topics: ['t'], userData: null, ownedPartitions: [{ topic: 't', partitions: [0] }], generationId: -1, rackId: null });
    expect(decodeSubscription(w.toBuffer())).toEqual({ topics: ['t'] });
  });

  it("assigns ranges like Kafka's RangeAssignor", () => {
    const subscriptions = new Map([
      ['m2', { topics: ['t', 'u'] }],
      ['m1', { topics: ['t'] }],
      ['m3', { topics: ['t', 'u'] }],
    ]);
    const result = rangeAssign(subscriptions, new Map([
      ['t', 7],
      ['u', 2],
    ]));
    // t: 7 partitions over m1, m2, m3 (member id order): 3, 2, 2. u: 2 over m2, m3.
    expect(result.get('m1')).toEqual(new Map([['t', [0, 1, 2]]]));
    expect(result.get('m2')).toEqual(new Map([['t', [3, 4]], ['u', [0]]]));
    expect(result.get('m3')).toEqual(new Map([['t', [5, 6]], ['u', [1]]]));
    // More members than partitions: the last get nothing.
    const many = rangeAssign(new Map([['a', { topics: ['x'] }], ['b', { topics: ['x'] }]]), new Map([['x', 1]]));
    expect(many.get('a')).toEqual(new Map([['x', [0]]]));
    expect(many.get('b')).toEqual(new Map());
  });
});

describe('CLI plumbing', () => {
  it('parses --bootstrap-server lists; a malformed one is a usage error', () => {
    expect(parseBootstrapServers('127.0.0.1:9092')).toEqual([{ host: '127.0.0.1', port: 9092 }]);
    expect(parseBootstrapServers('a:1, [::1]:9093')).toEqual([
      { host: 'a', port: 1 },
      { host: '::1', port: 9093 },
    ]);
    for (const bad of ['', 'localhost', 'host:port', 'h:99999']) expect(() => parseBootstrapServers(bad), bad).toThrow(UsageError);
  });

  it('aligns table columns, leaving the last one unpadded', () => {
    expect(formatTable(['A', 'LONGER'], [['xyz', 1], ['', 'v']])).toBe('A    LONGER\nxyz  1\n     v');
  });
});
