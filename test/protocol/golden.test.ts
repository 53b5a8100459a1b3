import { describe, expect, it } from 'vitest';
import {
  ApiKey,
  Reader,
  Writer,
  decodeApiVersionsResponse,
  decodeConsumerProtocolSubscription,
  decodeRequest,
  decodeResponse,
  encodeApiVersionsResponse,
  encodeConsumerProtocolSubscription,
  encodeRequest,
  encodeResponseFrame,
  readRequestHeader,
  requestHeaderVersion,
  responseHeaderVersion,
  type ApiVersionsResponse,
} from '../../src/protocol/index.js';
import { concatParts, hex } from './util.js';

// Bytes captured from the real clients on this machine (KAFKA-NOTES.md §3.6).
describe('golden ApiVersions requests from real clients', () => {
  it('kcat 1.7.1 / librdkafka 2.0.2: ApiVersions v3, flexible body, header v2', () => {
    const frame = hex('00000024 0012 0003 00000001 0007 72646b61666b61 00 0b 6c696272646b61666b61 06 322e302e32 00');
    expect(frame.readInt32BE(0)).toBe(frame.length - 4);
    const { header, body } = decodeRequest(frame.subarray(4));
    expect(header).toEqual({ apiKey: ApiKey.ApiVersions, apiVersion: 3, correlationId: 1, clientId: 'rdkafka' });
    expect(body).toEqual({ clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' });
    expect(encodeRequest(ApiKey.ApiVersions, 3, 1, 'rdkafka', body as never).equals(frame)).toBe(true);
  });

  it('kafkajs 2.2.4: ApiVersions v2, empty body', () => {
    const frame = hex('0000000c 0012 0002 00000000 0002 6b6a');
    const { header, body } = decodeRequest(frame.subarray(4));
    expect(header).toEqual({ apiKey: 18, apiVersion: 2, correlationId: 0, clientId: 'kj' });
    expect(body).toEqual({ clientSoftwareName: '', clientSoftwareVersion: '' });
    expect(encodeRequest(ApiKey.ApiVersions, 2, 0, 'kj', { clientSoftwareName: '', clientSoftwareVersion: '' }).equals(frame)).toBe(true);
  });

  it('kafka-python 2.0.2: ApiVersions v0, empty body', () => {
    const frame = hex('0000000c 0012 0000 00000001 0002 6b70');
    const { header, body } = decodeRequest(frame.subarray(4));
    expect(header).toEqual({ apiKey: 18, apiVersion: 0, correlationId: 1, clientId: 'kp' });
    expect(encodeRequest(ApiKey.ApiVersions, 0, 1, 'kp', body as never).equals(frame)).toBe(true);
  });
});

describe('header versions', () => {
  it('follow flexibility, except ApiVersions responses which always use header v0', () => {
    expect(requestHeaderVersion(ApiKey.ApiVersions, 2)).toBe(1);
    expect(requestHeaderVersion(ApiKey.ApiVersions, 3)).toBe(2);
    expect(responseHeaderVersion(ApiKey.ApiVersions, 3)).toBe(0);
    expect(requestHeaderVersion(ApiKey.Produce, 7)).toBe(1);
    expect(requestHeaderVersion(ApiKey.Produce, 9)).toBe(2);
    expect(responseHeaderVersion(ApiKey.Produce, 9)).toBe(1);
    expect(responseHeaderVersion(ApiKey.Fetch, 11)).toBe(0);
    expect(requestHeaderVersion(7, 0)).toBe(0); // ControlledShutdown v0
    expect(requestHeaderVersion(9999, 5)).toBe(1); // unknown API: not flexible
  });

  it('reads an ApiVersions header even at a version penstock does not implement', () => {
    // ApiVersions v4 is flexible, so its header is v2 (tagged fields after the client id).
    const r = new Reader(hex('0012 0004 0000002a 0001 78 00   0a 6b61666b612d6a617661 05 342e302e30 00'));
    expect(readRequestHeader(r)).toEqual({ apiKey: 18, apiVersion: 4, correlationId: 42, clientId: 'x' });
    expect(r.offset).toBe(12);
  });
});

// Byte vectors assembled by hand from the protocol guide and the schemas, independent of the generator.
describe('hand-assembled vectors', () => {
  it('Metadata v0 request', () => {
    const frame = hex(`
      0000001a              # size 26
      0003 0000 00000007    # Metadata v0, correlation 7
      0002 6b70             # client id "kp"
      00000002              # 2 topics
      0003 666f6f           # "foo"
      0003 626172           # "bar"
    `);
    expect(encodeRequest(ApiKey.Metadata, 0, 7, 'kp', { topics: [{ name: 'foo' }, { name: 'bar' }], allowAutoTopicCreation: true }).equals(frame)).toBe(true);
    const { header, body } = decodeRequest(frame.subarray(4));
    expect(header.apiVersion).toBe(0);
    expect(body).toEqual({ topics: [{ name: 'foo' }, { name: 'bar' }], allowAutoTopicCreation: true });
  });

  it('Produce v3 request carrying a records blob', () => {
    const records = hex('0102030405');
    const frame = hex(`
      0000002a              # size 42
      0000 0003 00000001    # Produce v3, correlation 1
      ffff                  # client id null
      ffff                  # transactional id null
      ffff                  # acks -1
      00007530              # timeout 30000 ms
      00000001 0001 74      # 1 topic: "t"
      00000001              # 1 partition
      00000000              # index 0
      00000005 0102030405   # records: 5 bytes
    `);
    const body = { transactionalId: null, acks: -1, timeoutMs: 30000, topicData: [{ name: 't', partitionData: [{ index: 0, records }] }] };
    expect(encodeRequest(ApiKey.Produce, 3, 1, null, body).equals(frame)).toBe(true);
    const decoded = decodeRequest(frame.subarray(4));
    expect(decoded.body).toEqual(body);
    // The records come back as a view of the frame, not a copy.
    const got = (decoded.body as typeof body).topicData[0]!.partitionData[0]!.records;
    expect(got.buffer).toBe(frame.buffer);
    expect(got.byteOffset).toBe(frame.byteOffset + frame.length - 5);
  });

  it('Fetch v4 response', () => {
    const frame = hex(`
      00000034              # size 52
      00000009              # correlation 9 (response header v0)
      00000000              # throttle 0
      00000001 0001 74      # 1 topic: "t"
      00000001              # 1 partition
      00000000 0000         # partition 0, no error
      000000000000000a      # high watermark 10
      000000000000000a      # last stable offset 10
      ffffffff              # aborted transactions: null
      00000003 aabbcc       # records: 3 bytes
    `);
    const body = {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [
        {
          topic: 't',
          partitions: [
            {
              partitionIndex: 0,
              errorCode: 0,
              highWatermark: 10,
              lastStableOffset: 10,
              logStartOffset: -1,
              abortedTransactions: null,
              preferredReadReplica: -1,
              records: hex('aabbcc'),
            },
          ],
        },
      ],
    };
    expect(concatParts(encodeResponseFrame(ApiKey.Fetch, 4, 9, body)).equals(frame)).toBe(true);
    expect(decodeResponse(ApiKey.Fetch, 4, frame.subarray(4))).toEqual({ correlationId: 9, body });
  });

  it('ApiVersions v0 response (the answer to an unsupported ApiVersions version)', () => {
    const frame = hex(`
      00000010              # size 16
      00000005              # correlation 5
      0023                  # UNSUPPORTED_VERSION (35)
      00000001              # 1 API
      0012 0000 0003        # ApiVersions 0..3
    `);
    const body: ApiVersionsResponse = {
      errorCode: 35,
      apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 3 }],
      throttleTimeMs: 0,
      supportedFeatures: [],
      finalizedFeaturesEpoch: -1,
      finalizedFeatures: [],
      zkMigrationReady: false,
    };
    expect(concatParts(encodeResponseFrame(ApiKey.ApiVersions, 0, 5, body)).equals(frame)).toBe(true);
    const w = new Writer();
    encodeApiVersionsResponse(w, 0, body);
    expect(w.toBuffer().equals(frame.subarray(8))).toBe(true);
    expect(decodeResponse(ApiKey.ApiVersions, 0, frame.subarray(4)).body).toEqual(body);
  });

  it('ApiVersions v3 response: compact array, per-struct tags, a known tagged field, header v0', () => {
    const frame = hex(`
      0000001d              # size 29
      00000001              # correlation 1 — no header tags: ApiVersions keeps header v0
      0000                  # no error
      02                    # compact array: 1 API
      0012 0000 0003 00     # ApiVersions 0..3, no tags
      00000000              # throttle 0
      01                    # 1 tagged field
      01 08 0000000000000005  # tag 1 (FinalizedFeaturesEpoch), 8 bytes: 5
    `);
    const body: ApiVersionsResponse = {
      errorCode: 0,
      apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 3 }],
      throttleTimeMs: 0,
      supportedFeatures: [],
      finalizedFeaturesEpoch: 5,
      finalizedFeatures: [],
      zkMigrationReady: false,
    };
    expect(concatParts(encodeResponseFrame(ApiKey.ApiVersions, 3, 1, body)).equals(frame)).toBe(true);
    expect(decodeResponse(ApiKey.ApiVersions, 3, frame.subarray(4)).body).toEqual(body);
  });

  it('ApiVersions v3 response: unknown tags are skipped, known tagged structs decoded', () => {
    const bytes = hex(`
      0000 01 00000000      # no error, no APIs, throttle 0
      03                    # 3 tagged fields
      00 0b 02 05 66656174 0001 0002 00   # tag 0 SupportedFeatures: [{"feat", 1..2}]
      03 01 01              # tag 3 ZkMigrationReady: true
      07 02 abcd            # tag 7: unknown, skipped
    `);
    const r = new Reader(bytes);
    expect(decodeApiVersionsResponse(r, 3)).toEqual({
      errorCode: 0,
      apiKeys: [],
      throttleTimeMs: 0,
      supportedFeatures: [{ name: 'feat', minVersion: 1, maxVersion: 2 }],
      finalizedFeaturesEpoch: -1,
      finalizedFeatures: [],
      zkMigrationReady: true,
    });
    expect(r.remaining).toBe(0);
  });

  it('ConsumerProtocolSubscription v0 (version read by the caller)', () => {
    const bytes = hex('0000 00000002 0001 61 0002 6263 ffffffff');
    const r = new Reader(bytes);
    const version = r.int16();
    const m = decodeConsumerProtocolSubscription(r, version);
    expect(m).toEqual({ topics: ['a', 'bc'], userData: null, ownedPartitions: [], generationId: -1, rackId: null });
    const w = new Writer().int16(0);
    encodeConsumerProtocolSubscription(w, 0, m);
    expect(w.toBuffer().equals(bytes)).toBe(true);
  });
});
