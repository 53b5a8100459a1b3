/**
 * What a test producer sent and what the broker acknowledged, and the check of a partition's whole log
 * against it: every acknowledged batch at its acknowledged offset, exactly once, whole; offsets
 * contiguous from the log start; nothing in the log that was never sent; no partial batch served.
 */
import { KafkaConnection } from '../../../src/client/kafka-connection.js';
import { ApiKey, encodeRequest } from '../../../src/protocol/index.js';
import { decodeRecordBatches, encodeRecordBatch, type DecodedBatch } from '../../../src/storage/record-codec.js';
import type { Rng } from './rng.js';

export interface SentBatch {
  id: string;
  partition: number;
  count: number;
  valueBytes: number;
  /** Offset the broker acknowledged, or undefined while unacknowledged (in flight or lost with the broker). */
  ackedBaseOffset?: number;
}

/** Key of record i of a batch; the value is the key repeated to `valueBytes`. */
function recordKey(batchId: string, i: number): string {
  return `${batchId}/${i}`;
}

function recordValue(key: string, valueBytes: number): Buffer {
  const out = Buffer.alloc(valueBytes);
  const k = Buffer.from(key + ';');
  for (let at = 0; at < valueBytes; at += k.length) k.copy(out, at, 0, Math.min(k.length, valueBytes - at));
  return out;
}

export class Ledger {
  readonly batches = new Map<string, SentBatch>();
  private seq = 0;
  /** Acknowledged records per partition (for reports). */
  ackedRecords = 0;
  /** Per partition: the offset after the highest acknowledged batch. */
  readonly ackedEnd = new Map<number, number>();

  constructor(readonly tag: string) {}

  /** A new batch of `count` records for `partition`; returns it with its encoded bytes. */
  newBatch(partition: number, count: number, valueBytes: number): { batch: SentBatch; bytes: Buffer } {
    const id = `${this.tag}.${partition}.${this.seq++}`;
    const batch: SentBatch = { id, partition, count, valueBytes };
    this.batches.set(id, batch);
    const now = Date.now();
    const records = Array.from({ length: count }, (_, i) => {
      const key = recordKey(id, i);
      return { key, value: recordValue(key, valueBytes), timestamp: now };
    });
    return { batch, bytes: encodeRecordBatch(records) };
  }

  ack(batch: SentBatch, baseOffset: number): void {
    batch.ackedBaseOffset = baseOffset;
    this.ackedRecords += batch.count;
    const end = baseOffset + batch.count;
    if (end > (this.ackedEnd.get(batch.partition) ?? 0)) this.ackedEnd.set(batch.partition, end);
  }
}

export function produceRequestFor(topic: string, partition: number, records: Buffer, acks: number) {
  return { transactionalId: null, acks, timeoutMs: 30_000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] };
}

export function fetchRequestFor(topic: string, partition: number, fetchOffset: number, maxBytes = 4 * 1024 * 1024) {
  return {
    clusterId: null,
    replicaId: -1,
    replicaState: { replicaId: -1, replicaEpoch: -1 },
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        topicId: Buffer.alloc(16),
        partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: maxBytes }],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  };
}

export interface ProducerOptions {
  topic: string;
  partitions: number;
  acks: 1 | -1;
  /** Requests in flight per partition. */
  inflight: number;
  rng: Rng;
  maxRecords?: number;
  maxValueBytes?: number;
  /** Stop sending new requests once this returns true. */
  stopped(): boolean;
}

/**
 * Produces pipelined, pre-encoded batches to every partition until stopped or the connection dies,
 * recording every acknowledgement in the ledger. Resolves when every worker has ended.
 * A produce error other than the connection dying fails the test (the caller checks `errors`).
 */
export async function produceUntilStopped(conn: KafkaConnection, ledger: Ledger, options: ProducerOptions): Promise<{ errors: string[] }> {
  const errors: string[] = [];
  const worker = async (partition: number, rng: Rng): Promise<void> => {
    const inflight = new Set<Promise<void>>();
    while (!options.stopped()) {
      const { batch, bytes } = ledger.newBatch(partition, rng.range(1, options.maxRecords ?? 40), rng.range(8, options.maxValueBytes ?? 600));
      const sent = conn
        .requestRaw(ApiKey.Produce, 7, (cid) => encodeRequest(ApiKey.Produce, 7, cid, 'reliability', produceRequestFor(options.topic, partition, bytes, options.acks)))
        .then(
          (res: any) => {
            const p = res.responses[0].partitionResponses[0];
            if (p.errorCode !== 0) errors.push(`batch ${batch.id}: error ${p.errorCode}`);
            else ledger.ack(batch, Number(p.baseOffset));
          },
          () => {
            /* the broker died: this batch stays unacknowledged */
          },
        );
      inflight.add(sent);
      void sent.finally(() => inflight.delete(sent));
      if (inflight.size >= options.inflight) await Promise.race(inflight);
      if (connDead(conn)) break;
    }
    await Promise.all(inflight);
  };
  await Promise.all(Array.from({ length: options.partitions }, (_, p) => worker(p, options.rng.fork())));
  return { errors };
}

function connDead(conn: KafkaConnection): boolean {
  return conn.socket.destroyed;
}

/** Every batch from `from` up to the high watermark, CRC-checked; fails on a partial batch before the HW. */
export async function readWholeLog(conn: KafkaConnection, topic: string, partition: number, from = 0): Promise<{ batches: DecodedBatch[]; highWatermark: number; logStartOffset: number }> {
  const batches: DecodedBatch[] = [];
  let offset = from;
  let highWatermark = -1;
  let logStartOffset = -1;
  for (let round = 0; round < 100_000; round++) {
    const res: any = await conn.request(ApiKey.Fetch, 11, fetchRequestFor(topic, partition, offset));
    const p = res.responses[0].partitions[0];
    if (p.errorCode !== 0) throw new Error(`fetch ${topic}-${partition} at ${offset} failed with error ${p.errorCode}`);
    highWatermark = Number(p.highWatermark);
    logStartOffset = Number(p.logStartOffset);
    if (offset >= highWatermark) break;
    const records: Buffer = p.records ?? Buffer.alloc(0);
    const decoded = decodeRecordBatches(records);
    if (decoded.length === 0) throw new Error(`fetch ${topic}-${partition} at ${offset} < HW ${highWatermark} returned ${records.length} bytes and no whole batch`);
    for (const b of decoded) {
      if (b.lastOffset < offset) continue;
      batches.push(b);
      offset = b.lastOffset + 1;
    }
  }
  return { batches, highWatermark, logStartOffset };
}

export interface PartitionCheck {
  batches: number;
  records: number;
  unackedPresent: number;
}

/**
 * Checks one partition's log against the ledger. Throws with a precise reason on the first violation.
 */
export function checkPartition(ledger: Ledger, partition: number, log: { batches: DecodedBatch[]; highWatermark: number; logStartOffset: number }): PartitionCheck {
  const seen = new Set<string>();
  let next = log.logStartOffset;
  let records = 0;
  let unackedPresent = 0;
  if (log.logStartOffset !== 0) throw new Error(`partition ${partition}: log start offset ${log.logStartOffset}, expected 0 (no retention)`);
  for (const b of log.batches) {
    if (b.baseOffset !== next) throw new Error(`partition ${partition}: batch at ${b.baseOffset} where ${next} was expected (offsets not contiguous)`);
    if (b.records.length !== b.lastOffset - b.baseOffset + 1) throw new Error(`partition ${partition}: batch at ${b.baseOffset} has ${b.records.length} records for offsets ${b.baseOffset}..${b.lastOffset}`);
    const firstKey = b.records[0]!.key?.toString() ?? '';
    const batchId = firstKey.slice(0, firstKey.lastIndexOf('/'));
    const sent = ledger.batches.get(batchId);
    if (!sent) throw new Error(`partition ${partition}: batch at ${b.baseOffset} (key ${firstKey}) was never sent`);
    if (sent.partition !== partition) throw new Error(`batch ${batchId} of partition ${sent.partition} found in partition ${partition}`);
    if (seen.has(batchId)) throw new Error(`partition ${partition}: batch ${batchId} appears twice (second at ${b.baseOffset})`);
    seen.add(batchId);
    if (b.records.length !== sent.count) throw new Error(`partition ${partition}: batch ${batchId} at ${b.baseOffset} holds ${b.records.length} of its ${sent.count} records`);
    b.records.forEach((r, i) => {
      const key = recordKey(batchId, i);
      if (r.offset !== b.baseOffset + i) throw new Error(`partition ${partition}: record ${key} at offset ${r.offset}, expected ${b.baseOffset + i}`);
      if (r.key?.toString() !== key) throw new Error(`partition ${partition}: record ${i} of batch at ${b.baseOffset} has key ${r.key?.toString()}, expected ${key}`);
      if (!r.value || !r.value.equals(recordValue(key, sent.valueBytes))) throw new Error(`partition ${partition}: record ${key} has a damaged value`);
    });
    if (sent.ackedBaseOffset !== undefined && sent.ackedBaseOffset !== b.baseOffset) {
      throw new Error(`partition ${partition}: batch ${batchId} acknowledged at ${sent.ackedBaseOffset} but stored at ${b.baseOffset}`);
    }
    if (sent.ackedBaseOffset === undefined) unackedPresent++;
    records += b.records.length;
    next = b.lastOffset + 1;
  }
  if (next !== log.highWatermark) throw new Error(`partition ${partition}: batches end at ${next}, high watermark is ${log.highWatermark}`);
  for (const sent of ledger.batches.values()) {
    if (sent.partition === partition && sent.ackedBaseOffset !== undefined && !seen.has(sent.id)) {
      throw new Error(`partition ${partition}: acknowledged batch ${sent.id} (offset ${sent.ackedBaseOffset}, ${sent.count} records) is missing`);
    }
  }
  return { batches: log.batches.length, records, unackedPresent };
}

/** Connects to a broker child with a bounded wait. */
export function connectTo(port: number, clientId = 'reliability'): Promise<KafkaConnection> {
  return KafkaConnection.connect('127.0.0.1', port, { clientId, timeoutMs: 10_000 });
}

/** Creates a topic through CreateTopics v4; throws on an error code. */
export async function createTopicOn(conn: KafkaConnection, name: string, partitions: number, configs: Record<string, string> = {}): Promise<void> {
  const res: any = await conn.request(ApiKey.CreateTopics, 4, {
    topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })) }],
    timeoutMs: 30_000,
    validateOnly: false,
  });
  const t = res.topics[0];
  if (t.errorCode !== 0) throw new Error(`CreateTopics ${name} failed with error ${t.errorCode}: ${t.errorMessage}`);
}

/** Adds the seed to an error's message so a failure can be replayed with PENSTOCK_SEED. */
export async function withSeed<T>(seed: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Error) err.message = `[PENSTOCK_SEED=${seed}] ${err.message}`;
    throw err;
  }
}
