/**
 * The records of `__consumer_offsets`, byte for byte as Kafka writes them (GroupMetadataManager,
 * OffsetCommitKey/Value, GroupMetadataKey/Value; KAFKA-NOTES §6.6): a key and a value, each an int16
 * schema version followed by the fields of that version. A null value is a tombstone.
 *
 *   offset commit key   v0/v1: group string, topic string, partition int32
 *   offset commit value v0:    offset int64, metadata string, commitTimestamp int64
 *                       v1:    offset int64, metadata string, commitTimestamp int64, expireTimestamp int64
 *                       v2:    offset int64, metadata string, commitTimestamp int64
 *                       v3:    offset int64, leaderEpoch int32, metadata string, commitTimestamp int64
 *   group metadata key  v2:    group string
 *   group metadata value v0-3: protocolType string, generation int32, protocol string?, leader string?,
 *                              currentStateTimestamp int64 (v2+), members [memberId string,
 *                              groupInstanceId string? (v3+), clientId string, clientHost string,
 *                              rebalanceTimeout int32 (v1+), sessionTimeout int32, subscription bytes,
 *                              assignment bytes]
 *
 * Strings are int16-length-prefixed UTF-8 (-1 = null), bytes int32-length-prefixed. Flexible versions
 * (offset commit value v4, group metadata value v4) are not written by Kafka 3.8 and are not read here.
 */

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

export const OFFSETS_TOPIC = '__consumer_offsets';

/** Key versions: 0 and 1 are offset commits, 2 is group metadata (Kafka's GroupMetadataManager). */
const OFFSET_COMMIT_KEY_VERSION = 1;
const GROUP_METADATA_KEY_VERSION = 2;
/** What Kafka 3.8 writes: v3 without an expire timestamp, v1 with one. */
const OFFSET_COMMIT_VALUE_VERSION = 3;
const OFFSET_COMMIT_VALUE_VERSION_WITH_EXPIRY = 1;
const GROUP_METADATA_VALUE_VERSION = 3;

export interface OffsetCommitKey {
  type: 'offset';
  group: string;
  topic: string;
  partition: number;
}

export interface GroupMetadataKey {
  type: 'group';
  group: string;
}

export interface OffsetCommitValue {
  offset: number;
  /** -1 when unknown (value versions before 3 have none). */
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
  /** Only value v1 carries one (a commit with an explicit retention time); null otherwise. */
  expireTimestamp: number | null;
}

export interface GroupMemberValue {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  /** The member's metadata for the group's selected protocol. */
  subscription: Buffer;
  assignment: Buffer;
}

export interface GroupMetadataValue {
  protocolType: string;
  generationId: number;
  protocolName: string | null;
  leaderId: string | null;
  /** -1 when unknown (value versions before 2). */
  currentStateTimestamp: number;
  members: GroupMemberValue[];
}

/** Thrown for a key or value that does not parse; replay skips the record and logs it. */
export class OffsetsRecordError extends Error {
  override readonly name = 'OffsetsRecordError';
}

/** Java's String.hashCode over UTF-16 code units, with int32 overflow. */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** Kafka's partitionFor: `Utils.abs(groupId.hashCode) % numPartitions`, where abs(MIN_VALUE) is 0. */
export function partitionForGroup(groupId: string, numPartitions: number): number {
  const h = javaStringHashCode(groupId);
  return (h === -2147483648 ? 0 : Math.abs(h)) % numPartitions;
}

// ---- encoding ----

class RecordWriter {
  private buf = Buffer.allocUnsafe(128);
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  int16(v: number): this {
    this.ensure(2);
    this.pos = this.buf.writeInt16BE(v, this.pos);
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.pos = this.buf.writeInt32BE(v, this.pos);
    return this;
  }

  /** A JS number as int64, saturating at Long.MIN/MAX_VALUE (2^63 itself rounds up from Long.MAX_VALUE). */
  int64(v: number): this {
    this.ensure(8);
    const big = BigInt(Math.trunc(v));
    const clamped = big > INT64_MAX ? INT64_MAX : big < INT64_MIN ? INT64_MIN : big;
    this.pos = this.buf.writeBigInt64BE(clamped, this.pos);
    return this;
  }

  string(s: string | null): this {
    if (s === null) return this.int16(-1);
    const n = Buffer.byteLength(s, 'utf8');
    if (n > 32767) throw new RangeError(`string of ${n} bytes does not fit an int16 length`);
    this.int16(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
    return this;
  }

  bytes(b: Buffer): this {
    this.int32(b.length);
    this.ensure(b.length);
    this.pos += b.copy(this.buf, this.pos);
    return this;
  }

  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

export function encodeOffsetCommitKey(group: string, topic: string, partition: number): Buffer {
  return new RecordWriter().int16(OFFSET_COMMIT_KEY_VERSION).string(group).string(topic).int32(partition).finish();
}

export function encodeOffsetCommitValue(v: OffsetCommitValue): Buffer {
  if (v.expireTimestamp !== null) {
    return new RecordWriter()
      .int16(OFFSET_COMMIT_VALUE_VERSION_WITH_EXPIRY)
      .int64(v.offset)
      .string(v.metadata)
      .int64(v.commitTimestamp)
      .int64(v.expireTimestamp)
      .finish();
  }
  return new RecordWriter().int16(OFFSET_COMMIT_VALUE_VERSION).int64(v.offset).int32(v.leaderEpoch).string(v.metadata).int64(v.commitTimestamp).finish();
}

export function encodeGroupMetadataKey(group: string): Buffer {
  return new RecordWriter().int16(GROUP_METADATA_KEY_VERSION).string(group).finish();
}

export function encodeGroupMetadataValue(v: GroupMetadataValue): Buffer {
  const w = new RecordWriter()
    .int16(GROUP_METADATA_VALUE_VERSION)
    .string(v.protocolType)
    .int32(v.generationId)
    .string(v.protocolName)
    .string(v.leaderId)
    .int64(v.currentStateTimestamp)
    .int32(v.members.length);
  for (const m of v.members) {
    w.string(m.memberId)
      .string(m.groupInstanceId)
      .string(m.clientId)
      .string(m.clientHost)
      .int32(m.rebalanceTimeoutMs)
      .int32(m.sessionTimeoutMs)
      .bytes(m.subscription)
      .bytes(m.assignment);
  }
  return w.finish();
}

// ---- decoding ----

class RecordReader {
  private pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new OffsetsRecordError(`${this.what} ends after ${this.buf.length} bytes, inside a field`);
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  int64(): number {
    this.need(8);
    const v = Number(this.buf.readBigInt64BE(this.pos));
    this.pos += 8;
    return v;
  }

  nullableString(): string | null {
    const n = this.int16();
    if (n < 0) return null;
    this.need(n);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  string(): string {
    const s = this.nullableString();
    if (s === null) throw new OffsetsRecordError(`${this.what} has a null where a string is required`);
    return s;
  }

  bytes(): Buffer {
    const n = this.int32();
    if (n < 0) return Buffer.alloc(0);
    this.need(n);
    // Copied: the source is a read buffer that replay reuses.
    const b = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return b;
  }
}

/** Parses a key; null for key versions this broker does not know (e.g. KIP-848 record types), which replay skips. */
export function decodeKey(buf: Buffer): OffsetCommitKey | GroupMetadataKey | null {
  const r = new RecordReader(buf, '__consumer_offsets key');
  const version = r.int16();
  if (version === 0 || version === 1) return { type: 'offset', group: r.string(), topic: r.string(), partition: r.int32() };
  if (version === 2) return { type: 'group', group: r.string() };
  return null;
}

export function decodeOffsetCommitValue(buf: Buffer): OffsetCommitValue {
  const r = new RecordReader(buf, 'offset commit value');
  const version = r.int16();
  if (version < 0 || version > 3) throw new OffsetsRecordError(`offset commit value version ${version} is not supported`);
  const offset = r.int64();
  const leaderEpoch = version >= 3 ? r.int32() : -1;
  const metadata = r.string();
  const commitTimestamp = r.int64();
  const expireTimestamp = version === 1 ? r.int64() : null;
  return { offset, leaderEpoch, metadata, commitTimestamp, expireTimestamp };
}

export function decodeGroupMetadataValue(buf: Buffer): GroupMetadataValue {
  const r = new RecordReader(buf, 'group metadata value');
  const version = r.int16();
  if (version < 0 || version > 3) throw new OffsetsRecordError(`group metadata value version ${version} is not supported`);
  const protocolType = r.string();
  const generationId = r.int32();
  const protocolName = r.nullableString();
  const leaderId = r.nullableString();
  const currentStateTimestamp = version >= 2 ? r.int64() : -1;
  const count = r.int32();
  const members: GroupMemberValue[] = [];
  for (let i = 0; i < count; i++) {
    const memberId = r.string();
    const groupInstanceId = version >= 3 ? r.nullableString() : null;
    const clientId = r.string();
    const clientHost = r.string();
    const rebalanceTimeoutMs = version >= 1 ? r.int32() : -1;
    const sessionTimeoutMs = r.int32();
    const subscription = r.bytes();
    const assignment = r.bytes();
    members.push({
      memberId,
      groupInstanceId,
      clientId,
      clientHost,
      // v0 has no rebalance timeout: Kafka uses the session timeout then.
      rebalanceTimeoutMs: rebalanceTimeoutMs < 0 ? sessionTimeoutMs : rebalanceTimeoutMs,
      sessionTimeoutMs,
      subscription,
      assignment,
    });
  }
  return { protocolType, generationId, protocolName, leaderId, currentStateTimestamp, members };
}
