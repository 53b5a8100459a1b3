/**
 * Reads records of one topic's partitions by Fetch, from positions the caller sets: the fetch half of
 * a consumer, without opinions on where to start or when to commit.
 */
import { ApiKey, ErrorCode } from '../protocol/index.js';
import { decodeRecordBatches, type DecodedRecord } from '../storage/record-codec.js';
import { BrokerError, EARLIEST_OFFSET, LATEST_OFFSET, tpKey, type ClusterClient } from './cluster-client.js';

/** Kafka's consumer defaults: fetch.max.bytes and max.partition.fetch.bytes. */
const FETCH_MAX_BYTES = 52_428_800;
const PARTITION_FETCH_BYTES = 1_048_576;
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/** Where to go when there is no position, or it fell outside the log (Kafka's auto.offset.reset). */
export type OffsetReset = 'earliest' | 'latest';

export interface PartitionRecords {
  partition: number;
  /** Data records at or after the position, in offset order (control records left out). */
  records: DecodedRecord[];
  /** The offset after the last whole batch fetched: the position once every record above is used. */
  nextOffset: number;
}

export class TopicReader {
  /** Partition → the offset of the next record to read. */
  readonly positions = new Map<number, number>();
  private readonly maxBytes = new Map<number, number>();

  constructor(
    private readonly client: ClusterClient,
    readonly topic: string,
    /** Partition → leader node id. */
    private readonly leaders: ReadonlyMap<number, number>,
    private readonly reset: OffsetReset,
  ) {}

  /**
   * Reads `partitions` from now on: from `starts` where given (an offset, or 'earliest'/'latest'),
   * else from the reset policy. Partitions not listed are dropped.
   */
  async assign(partitions: readonly number[], starts: ReadonlyMap<number, number | OffsetReset> = new Map()): Promise<void> {
    this.positions.clear();
    const byPolicy = new Map<OffsetReset, number[]>();
    for (const partition of partitions) {
      const start = starts.get(partition) ?? this.reset;
      if (typeof start === 'number') this.positions.set(partition, start);
      else byPolicy.set(start, [...(byPolicy.get(start) ?? []), partition]);
    }
    for (const [policy, list] of byPolicy) await this.seekTo(list, policy);
  }

  private async seekTo(partitions: readonly number[], policy: OffsetReset): Promise<void> {
    if (partitions.length === 0) return;
    const offsets = await this.client.listOffsets(
      partitions.map((partition) => ({ topic: this.topic, partition, leader: this.leaders.get(partition)! })),
      policy === 'earliest' ? EARLIEST_OFFSET : LATEST_OFFSET,
    );
    for (const partition of partitions) this.positions.set(partition, offsets.get(tpKey(this.topic, partition))!);
  }

  /**
   * One Fetch per leader for every assigned partition, waiting up to `maxWaitMs` for a first byte.
   * Positions are not moved: the caller advances them as it uses records.
   */
  async poll(maxWaitMs: number): Promise<PartitionRecords[]> {
    const byLeader = new Map<number, number[]>();
    for (const partition of this.positions.keys()) {
      const leader = this.leaders.get(partition)!;
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), partition]);
    }
    const results = await Promise.all([...byLeader].map(([leader, partitions]) => this.fetchFrom(leader, partitions, maxWaitMs)));
    return results.flat();
  }

  private async fetchFrom(leader: number, partitions: number[], maxWaitMs: number): Promise<PartitionRecords[]> {
    const connection = await this.client.connectionTo(leader);
    const response = await this.client.call(
      connection,
      ApiKey.Fetch,
      {
        replicaId: -1,
        maxWaitMs,
        minBytes: 1,
        maxBytes: FETCH_MAX_BYTES,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [
          {
            topic: this.topic,
            partitions: partitions.map((partition) => ({
              partition,
              currentLeaderEpoch: -1,
              fetchOffset: this.positions.get(partition)!,
              logStartOffset: -1,
              partitionMaxBytes: this.maxBytes.get(partition) ?? PARTITION_FETCH_BYTES,
            })),
          },
        ],
        forgottenTopicsData: [],
        rackId: '',
      },
      maxWaitMs + this.client.requestTimeoutMs,
    );
    if (response.errorCode !== ErrorCode.NONE) throw new BrokerError(response.errorCode, `fetching from ${this.topic}`);
    const out: PartitionRecords[] = [];
    const outOfRange: number[] = [];
    for (const data of response.responses.flatMap((t) => t.partitions)) {
      const partition = data.partitionIndex;
      if (data.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
        outOfRange.push(partition);
        continue;
      }
      if (data.errorCode !== ErrorCode.NONE) throw new BrokerError(data.errorCode, `fetching ${this.topic}-${partition}`);
      const bytes = (data.records as Buffer | null) ?? Buffer.alloc(0);
      if (bytes.length === 0) continue;
      const position = this.positions.get(partition)!;
      const batches = decodeRecordBatches(bytes);
      if (batches.length === 0) {
        // Only part of a batch fitted: ask for more next time (Kafka's consumer of old did the same).
        this.maxBytes.set(partition, Math.min(2 * (this.maxBytes.get(partition) ?? PARTITION_FETCH_BYTES), FETCH_MAX_BYTES));
        continue;
      }
      const records: DecodedRecord[] = [];
      for (const batch of batches) {
        if (batch.isControl) continue;
        for (const record of batch.records) if (record.offset >= position) records.push(record);
      }
      out.push({ partition, records, nextOffset: Math.max(position, batches[batches.length - 1]!.lastOffset + 1) });
    }
    // Retention deleted what we were about to read, or the position is past the end: reset.
    await this.seekTo(outOfRange, this.reset);
    return out;
  }
}
