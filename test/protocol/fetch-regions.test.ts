import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFileRegion, type FileRegion, type SendPart } from '../../src/io/types.js';
import { ApiKey, decodeResponse, encodeResponseFrame, sendPartsLength, type FetchResponse } from '../../src/protocol/index.js';

let dir: string;
let fd: number;
const segment = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 7 + 3) & 0xff));

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'penstock-fetch-'));
  fs.writeFileSync(path.join(dir, '00000000000000000000.log'), segment);
  fd = fs.openSync(path.join(dir, '00000000000000000000.log'), 'r');
});

afterAll(() => {
  fs.closeSync(fd);
  fs.rmSync(dir, { recursive: true, force: true });
});

// What the socket writer would send: file regions read back from the file.
function materialize(parts: readonly SendPart[]): Buffer {
  return Buffer.concat(
    parts.map((p) => {
      if (!isFileRegion(p)) return p;
      const b = Buffer.alloc(p.length);
      expect(fs.readSync(p.fd, b, 0, p.length, p.position)).toBe(p.length);
      return b;
    }),
  );
}

function partition(index: number, records: FetchResponse['responses'][0]['partitions'][0]['records']) {
  return {
    partitionIndex: index,
    errorCode: 0,
    highWatermark: 1000 + index,
    lastStableOffset: 1000 + index,
    logStartOffset: 0,
    abortedTransactions: [],
    preferredReadReplica: -1,
    records,
  };
}

describe.each([4, 7, 11])('Fetch v%i response with file regions', (version) => {
  it('keeps regions as parts, sizes the frame with their bytes, and decodes back to the file bytes', () => {
    const r1: FileRegion = { fd, position: 0, length: 16_384 };
    const r2: FileRegion = { fd, position: 20_000, length: 30_000 };
    const r3: FileRegion = { fd, position: 50_000, length: 100 };
    const inMemory = Buffer.from('in-memory batch bytes, small');
    const body: FetchResponse = {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [
        { topic: 'orders', partitions: [partition(0, r1), partition(1, null), partition(2, [r2, inMemory])] },
        { topic: 'événements', partitions: [partition(0, r3), partition(1, Buffer.alloc(0))] },
      ],
    };
    const parts = encodeResponseFrame(ApiKey.Fetch, version, 1234, body);

    const regions = parts.filter(isFileRegion);
    expect(regions).toEqual([r1, r2, r3]);
    expect(regions[0]).toBe(r1); // the very objects: nothing read, nothing copied
    expect(parts.every((p) => p.length > 0)).toBe(true);

    const first = parts[0] as Buffer;
    expect(Buffer.isBuffer(first)).toBe(true);
    expect(first.readInt32BE(0) + 4).toBe(sendPartsLength(parts));

    const frame = materialize(parts);
    const decoded = decodeResponse(ApiKey.Fetch, version, frame.subarray(4));
    expect(decoded.correlationId).toBe(1234);
    const [orders, events] = decoded.body.responses;
    expect(orders!.partitions[0]!.records).toEqual(segment.subarray(0, 16_384));
    expect(orders!.partitions[1]!.records).toBeNull();
    expect(orders!.partitions[2]!.records).toEqual(Buffer.concat([segment.subarray(20_000, 50_000), inMemory]));
    expect(events!.topic).toBe('événements');
    expect(events!.partitions[0]!.records).toEqual(segment.subarray(50_000, 50_100));
    expect(events!.partitions[1]!.records).toEqual(Buffer.alloc(0));
    expect(decoded.body.responses[0]!.partitions[0]!.highWatermark).toBe(1000);
  });
});
