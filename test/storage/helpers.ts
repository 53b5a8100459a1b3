/**
 * Test helpers for the storage layer: temp dirs, a seeded PRNG, and a minimal RecordBatch v2 builder
 * of its own (so storage tests do not depend on the record codec they would be checking).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { brokerConfig, resolveTopicConfig, type TopicConfig } from '../../src/config.js';
import { defaultIo } from '../../src/io/select.js';
import type { Io } from '../../src/io/types.js';
import { readInt64, writeInt64 } from '../../src/storage/record-batch.js';

export const io: Io = defaultIo();

export function makeTempDir(prefix = 'penstock-storage-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** mulberry32: small, fast, good enough to make test data reproducible from a seed. */
export function prng(seed: number): { next(): number; int(max: number): number } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (max: number) => Math.floor(next() * max) };
}

export function topicConfig(overrides: Record<string, string | number> = {}, broker: Record<string, string | number> = {}): TopicConfig {
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries(overrides)) values[k] = String(v);
  return resolveTopicConfig(brokerConfig(broker), values);
}

export interface TestRecord {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  timestamp?: number;
  headers?: [string, Buffer | string | null][];
}

export interface BatchOptions {
  baseOffset?: number;
  attributes?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  /** Overrides the computed recordsCount / lastOffsetDelta to build inconsistent batches. */
  recordsCount?: number;
  lastOffsetDelta?: number;
  /** Replaces each record's offsetDelta (to build batches with wrong deltas). */
  offsetDeltas?: number[];
  /** Raw bytes used as the records section instead of encoding `records` (compressed-batch stand-in). */
  rawRecords?: Buffer;
}

function zigzagBytes(value: number): number[] {
  let zz = value >= 0 ? value * 2 : -value * 2 - 1;
  const out: number[] = [];
  while (zz >= 0x80) {
    out.push((zz % 128) | 0x80);
    zz = Math.floor(zz / 128);
  }
  out.push(zz);
  return out;
}

function bytesField(data: Buffer | string | null | undefined): number[] {
  if (data === null || data === undefined) return zigzagBytes(-1);
  const b = typeof data === 'string' ? Buffer.from(data) : data;
  return [...zigzagBytes(b.length), ...b];
}

/** Encodes an uncompressed RecordBatch v2 with a valid CRC (unless told otherwise). */
export function buildBatch(records: TestRecord[], options: BatchOptions = {}): Buffer {
  const now = Date.now();
  const timestamps = records.map((r) => r.timestamp ?? now);
  const baseTimestamp = timestamps.length > 0 ? timestamps[0]! : now;
  const maxTimestamp = timestamps.length > 0 ? Math.max(...timestamps) : -1;
  let body: Buffer;
  if (options.rawRecords) body = options.rawRecords;
  else {
    const parts: number[] = [];
    records.forEach((r, i) => {
      const fields = [
        0,
        ...zigzagBytes(timestamps[i]! - baseTimestamp),
        ...zigzagBytes(options.offsetDeltas?.[i] ?? i),
        ...bytesField(r.key),
        ...bytesField(r.value),
        ...zigzagBytes(r.headers?.length ?? 0),
      ];
      for (const [k, v] of r.headers ?? []) fields.push(...bytesField(k), ...bytesField(v));
      parts.push(...zigzagBytes(fields.length), ...fields);
    });
    body = Buffer.from(parts);
  }
  const buf = Buffer.alloc(61 + body.length);
  writeInt64(buf, options.baseOffset ?? 0, 0);
  buf.writeInt32BE(buf.length - 12, 8);
  buf.writeInt32BE(-1, 12);
  buf.writeInt8(2, 16);
  buf.writeInt16BE(options.attributes ?? 0, 21);
  buf.writeInt32BE(options.lastOffsetDelta ?? records.length - 1, 23);
  writeInt64(buf, baseTimestamp, 27);
  writeInt64(buf, maxTimestamp, 35);
  writeInt64(buf, options.producerId ?? -1, 43);
  buf.writeInt16BE(options.producerEpoch ?? -1, 51);
  buf.writeInt32BE(options.baseSequence ?? -1, 53);
  buf.writeInt32BE(options.recordsCount ?? records.length, 57);
  body.copy(buf, 61);
  fixCrc(buf, 0);
  return buf;
}

/** Recomputes the CRC of the batch at `pos` (after a test edits covered bytes on purpose). */
export function fixCrc(buf: Buffer, pos: number): void {
  const size = 12 + buf.readInt32BE(pos + 8);
  buf.writeUInt32BE(io.crc32c(buf, pos + 21, pos + size), pos + 17);
}

/** `n` random uncompressed batches of 1..`records` records, timestamps mostly rising. */
export function randomBatches(rand: ReturnType<typeof prng>, n: number, options: { maxValue?: number; records?: number; startTs?: number } = {}): Buffer[] {
  const out: Buffer[] = [];
  let ts = options.startTs ?? 1_700_000_000_000;
  for (let i = 0; i < n; i++) {
    const count = 1 + rand.int(options.records ?? 3);
    const records: TestRecord[] = [];
    for (let j = 0; j < count; j++) {
      ts += rand.int(50);
      const value = Buffer.alloc(rand.int(options.maxValue ?? 300));
      for (let k = 0; k < value.length; k++) value[k] = rand.int(256);
      records.push({ key: `k${i}-${j}`, value, timestamp: ts - rand.int(20) });
    }
    out.push(buildBatch(records));
  }
  return out;
}

export interface ParsedBatch {
  position: number;
  size: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
}

/** Whole batches in `buf` (stops at a partial one). */
export function parseBatches(buf: Buffer): ParsedBatch[] {
  const out: ParsedBatch[] = [];
  let pos = 0;
  while (pos + 61 <= buf.length) {
    const size = 12 + buf.readInt32BE(pos + 8);
    if (pos + size > buf.length) break;
    const baseOffset = readInt64(buf, pos);
    out.push({ position: pos, size, baseOffset, lastOffset: baseOffset + buf.readInt32BE(pos + 23), maxTimestamp: readInt64(buf, pos + 35) });
    pos += size;
  }
  return out;
}

/** Bytes of a file region, read with pread. */
export function readRegion(region: { fd: number; position: number; length: number }): Buffer {
  const buf = Buffer.alloc(region.length);
  const n = io.pread(region.fd, buf, 0, region.length, region.position);
  return buf.subarray(0, n);
}

/** Batch bytes with offsets zeroed, for comparing what was appended with what is read back. */
export function withoutAssignedFields(batch: Buffer): Buffer {
  const copy = Buffer.from(batch);
  writeInt64(copy, 0, 0);
  copy.writeInt32BE(-1, 12);
  return copy;
}
