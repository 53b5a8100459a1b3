import { describe, expect, it } from 'vitest';
import {
  decodeGroupMetadataValue,
  decodeKey,
  decodeOffsetCommitValue,
  encodeGroupMetadataKey,
  encodeGroupMetadataValue,
  encodeOffsetCommitKey,
  encodeOffsetCommitValue,
  javaStringHashCode,
  partitionForGroup,
} from '../../src/broker/groups/records.js';
import { CoordinatorTimer } from '../../src/broker/groups/timer.js';

describe('__consumer_offsets records (Kafka key/value format)', () => {
  it('hashes group ids like Java String.hashCode and places them like Kafka partitionFor', () => {
    expect(javaStringHashCode('')).toBe(0);
    expect(javaStringHashCode('hello')).toBe(99162322);
    expect(javaStringHashCode('Aa')).toBe(javaStringHashCode('BB'));
    // The one string whose hash is Integer.MIN_VALUE: Kafka's Utils.abs maps it to 0.
    expect(javaStringHashCode('polygenelubricants')).toBe(-2147483648);
    expect(partitionForGroup('polygenelubricants', 50)).toBe(0);
    expect(partitionForGroup('hello', 50)).toBe(99162322 % 50);
    // Negative hashes use the absolute value; UTF-16 code units, as Java sees them.
    const negative = 'a-group-with-a-negative-hash-code!';
    expect(javaStringHashCode(negative)).toBeLessThan(0);
    expect(partitionForGroup(negative, 50)).toBe(Math.abs(javaStringHashCode(negative)) % 50);
    expect(javaStringHashCode('é🙂')).toBe(((0xe9 * 31 + 0xd83d) * 31 + 0xde42) | 0);
  });

  it('writes offset commit key v1 and value v3 byte for byte', () => {
    expect(encodeOffsetCommitKey('g', 'tp', 7).toString('hex')).toBe('0001' + '0001' + '67' + '0002' + '7470' + '00000007');
    const value = encodeOffsetCommitValue({ offset: 42, leaderEpoch: 3, metadata: 'm', commitTimestamp: 1_700_000_000_000, expireTimestamp: null });
    expect(value.toString('hex')).toBe('0003' + '000000000000002a' + '00000003' + '0001' + '6d' + (1_700_000_000_000).toString(16).padStart(16, '0'));
    expect(decodeKey(encodeOffsetCommitKey('g', 'tp', 7))).toEqual({ type: 'offset', group: 'g', topic: 'tp', partition: 7 });
    expect(decodeOffsetCommitValue(value)).toEqual({ offset: 42, leaderEpoch: 3, metadata: 'm', commitTimestamp: 1_700_000_000_000, expireTimestamp: null });
  });

  it('writes value v1 when a commit has an expire timestamp, and reads v0 and v2', () => {
    const v1 = encodeOffsetCommitValue({ offset: 1, leaderEpoch: -1, metadata: '', commitTimestamp: 10, expireTimestamp: 20 });
    expect(v1.readInt16BE(0)).toBe(1);
    expect(decodeOffsetCommitValue(v1)).toEqual({ offset: 1, leaderEpoch: -1, metadata: '', commitTimestamp: 10, expireTimestamp: 20 });
    const v0 = Buffer.from('0000' + '0000000000000005' + '0000' + '000000000000000b', 'hex');
    expect(decodeOffsetCommitValue(v0)).toEqual({ offset: 5, leaderEpoch: -1, metadata: '', commitTimestamp: 11, expireTimestamp: null });
    const v2 = Buffer.from('0002' + '0000000000000005' + '0000' + '000000000000000b', 'hex');
    expect(decodeOffsetCommitValue(v2).offset).toBe(5);
  });

  it('writes group metadata key v2 and value v3, and reads it back', () => {
    expect(encodeGroupMetadataKey('grp').toString('hex')).toBe('0002' + '0003' + Buffer.from('grp').toString('hex'));
    expect(decodeKey(encodeGroupMetadataKey('grp'))).toEqual({ type: 'group', group: 'grp' });
    const value = {
      protocolType: 'consumer',
      generationId: 4,
      protocolName: 'range',
      leaderId: 'm-1',
      currentStateTimestamp: 123,
      members: [
        { memberId: 'm-1', groupInstanceId: null, clientId: 'c', clientHost: '/127.0.0.1', rebalanceTimeoutMs: 60_000, sessionTimeoutMs: 10_000, subscription: Buffer.from([1, 2]), assignment: Buffer.from([3]) },
        { memberId: 'm-2', groupInstanceId: 'i-2', clientId: 'c', clientHost: '/127.0.0.1', rebalanceTimeoutMs: 60_000, sessionTimeoutMs: 10_000, subscription: Buffer.alloc(0), assignment: Buffer.alloc(0) },
      ],
    };
    const encoded = encodeGroupMetadataValue(value);
    expect(encoded.readInt16BE(0)).toBe(3);
    expect(decodeGroupMetadataValue(encoded)).toEqual(value);
    // An empty group: null protocol and leader.
    const empty = { ...value, protocolName: null, leaderId: null, members: [] };
    expect(decodeGroupMetadataValue(encodeGroupMetadataValue(empty))).toEqual(empty);
  });

  it('skips key versions it does not know', () => {
    expect(decodeKey(Buffer.from('0003000167', 'hex'))).toBeNull();
  });
});

describe('coordinator timer', () => {
  it('runs tasks in deadline order on one unref’d Node timer, drops cancelled ones, and holds nothing once closed', async () => {
    const timer = new CoordinatorTimer();
    const ran: string[] = [];
    const c = timer.schedule(30, () => ran.push('c'));
    timer.schedule(20, () => ran.push('b'));
    timer.schedule(5, () => ran.push('a'));
    const cancelled = timer.schedule(10, () => ran.push('never'));
    timer.cancel(cancelled);
    expect(timer.size).toBe(3);
    expect(timer.armed).toBe(true);
    await new Promise((r) => setTimeout(r, 60));
    expect(ran).toEqual(['a', 'b', 'c']);
    expect(c.active).toBe(false);
    expect(timer.armed).toBe(false);
    // Churn: many cancellations never grow the heap without bound.
    for (let i = 0; i < 10_000; i++) timer.cancel(timer.schedule(60_000 + i, () => {}));
    expect(timer.size).toBe(0);
    timer.schedule(60_000, () => {});
    timer.close();
    expect(timer.size).toBe(0);
    expect(timer.armed).toBe(false);
    expect(timer.schedule(1, () => ran.push('after close')).active).toBe(false);
  });
});
