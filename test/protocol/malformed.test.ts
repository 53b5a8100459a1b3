import { describe, expect, it } from 'vitest';
import {
  API_VERSIONS,
  ApiKey,
  ProtocolError,
  Reader,
  decodeApiVersionsResponse,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponseFrame,
  readRequestHeader,
  type RequestBody,
  type ResponseBody,
} from '../../src/protocol/index.js';
import { MessageFixture, loadSchema } from './schema-fixtures.js';
import { concatParts, hex } from './util.js';

/** Runs `fn`; it must either succeed or throw a ProtocolError — never anything else. */
function onlyProtocolErrors(fn: () => unknown): 'ok' | 'error' {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw new Error(`expected ProtocolError, got ${String(err)}`, { cause: err });
    return 'error';
  }
}

function expectProtocolError(fn: () => unknown, message?: RegExp): void {
  expect(onlyProtocolErrors(fn)).toBe('error');
  if (message) expect(fn).toThrow(message);
}

// A deterministic PRNG so a failing fuzz case can be replayed.
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe.each(API_VERSIONS.map((api) => [api.name, api] as const))('%s', (name, api) => {
  const gen = { lo: api.min, hi: api.max };
  const request = new MessageFixture(loadSchema(`${name}Request`), gen);
  const response = new MessageFixture(loadSchema(`${name}Response`), gen);
  const versions = Array.from({ length: api.max - api.min + 1 }, (_, i) => api.min + i);

  it.each(versions)('v%i: every truncation of a request or response is a ProtocolError', (version) => {
    const decodedPrefixes: string[] = [];
    for (const nulls of [false, true]) {
      const req = encodeRequest(api.key, version, 1, 'c', request.build(version, nulls).input as unknown as RequestBody).subarray(4);
      for (let n = 0; n < req.length; n++) {
        if (onlyProtocolErrors(() => decodeRequest(req.subarray(0, n))) === 'ok') decodedPrefixes.push(`request[0, ${n})`);
      }
      expect(onlyProtocolErrors(() => decodeRequest(req))).toBe('ok');

      const res = concatParts(encodeResponseFrame(api.key, version, 1, response.build(version, nulls).input as unknown as ResponseBody)).subarray(4);
      for (let n = 0; n < res.length; n++) {
        if (onlyProtocolErrors(() => decodeResponse(api.key, version, res.subarray(0, n))) === 'ok') decodedPrefixes.push(`response[0, ${n})`);
      }
    }
    expect(decodedPrefixes).toEqual([]);
  });

  it.each(versions)('v%i: random corruption never escapes as another error', (version) => {
    const rand = prng(api.key * 100 + version);
    const req = encodeRequest(api.key, version, 1, 'c', request.build(version, false).input as unknown as RequestBody).subarray(4);
    const res = concatParts(encodeResponseFrame(api.key, version, 1, response.build(version, false).input as unknown as ResponseBody)).subarray(4);
    for (let i = 0; i < 300; i++) {
      for (const [bytes, decode] of [
        [req, (b: Buffer) => decodeRequest(b)],
        [res, (b: Buffer) => decodeResponse(api.key, version, b)],
      ] as const) {
        const b = Buffer.from(bytes);
        const flips = 1 + Math.floor(rand() * 4);
        for (let f = 0; f < flips; f++) {
          // Mostly 0xff / 0x7f / 0x80 — the bytes that turn lengths and counts negative or huge.
          const choices = [0xff, 0x7f, 0x80, 0x00, Math.floor(rand() * 256)];
          b[Math.floor(rand() * b.length)] = choices[Math.floor(rand() * choices.length)]!;
        }
        onlyProtocolErrors(() => decode(b));
      }
    }
  });

  it('accepts trailing bytes after a request body, as Kafka does', () => {
    const req = encodeRequest(api.key, api.max, 1, 'c', request.build(api.max, false).input as unknown as RequestBody).subarray(4);
    expect(onlyProtocolErrors(() => decodeRequest(Buffer.concat([req, hex('deadbeef')])))).toBe('ok');
  });
});

describe('hostile lengths and counts', () => {
  const header = (key: number, version: number) => {
    const h = Buffer.alloc(10);
    h.writeInt16BE(key, 0);
    h.writeInt16BE(version, 2);
    h.writeInt32BE(1, 4);
    h.writeInt16BE(-1, 8);
    return h;
  };

  it('a huge array count is rejected before anything is allocated', () => {
    const frame = Buffer.concat([header(ApiKey.Produce, 3), hex('ffff ffff 00007530 7fffffff')]);
    const started = process.hrtime.bigint();
    expectProtocolError(() => decodeRequest(frame), /Produce v3 request: ProduceRequest.topicData: array of 2147483647 elements but only 0 bytes remain/);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(1000);
    expectProtocolError(() => decodeRequest(Buffer.concat([header(ApiKey.Metadata, 1), hex('7ffffffe 0001 61')])));
    expectProtocolError(() => decodeApiVersionsResponse(new Reader(hex('0000 ffffffff0f 00000000 00')), 3));
    expectProtocolError(() => decodeRequest(Buffer.concat([header(ApiKey.DeleteTopics, 0), hex('0fffffff 00000000')])));
  });

  it('negative string and bytes lengths are rejected', () => {
    expectProtocolError(() => decodeRequest(Buffer.concat([header(ApiKey.Metadata, 0), hex('00000001 ffff')])), /non-nullable string has length -1/);
    expectProtocolError(() => decodeRequest(Buffer.concat([header(ApiKey.Produce, 3), hex('fffe')])), /string has length -2/);
    expectProtocolError(() => decodeRequest(Buffer.concat([header(ApiKey.Produce, 3), hex('ffff ffff 00000000 00000001 0001 74 00000001 00000000 fffffffb')])), /bytes have length -5/);
    expectProtocolError(() => decodeRequest(Buffer.concat([header(ApiKey.SaslAuthenticate, 0), hex('ffffffff')])));
    // A string longer than the frame.
    expectProtocolError(() => decodeRequest(Buffer.concat([header(ApiKey.FindCoordinator, 0), hex('7fff 6162')])), /needs 32767 byte/);
  });

  it('a client id longer than the frame, or a header shorter than 4 bytes, is a ProtocolError', () => {
    expectProtocolError(() => decodeRequest(hex('0003 0000 00000001 0100 61')));
    expectProtocolError(() => readRequestHeader(new Reader(hex('0003'))));
    expectProtocolError(() => decodeRequest(hex('')));
  });

  it('unknown API keys and unsupported versions are ProtocolErrors', () => {
    expectProtocolError(() => decodeRequest(Buffer.concat([header(21, 0), hex('00')])), /DeleteRecords v0 request is not supported/);
    expectProtocolError(() => decodeRequest(Buffer.concat([header(ApiKey.Produce, 2), hex('00')])), /Produce v2 request is not supported/);
    expectProtocolError(() => decodeRequest(Buffer.concat([header(999, 0), hex('00')])), /ApiKey\(999\)/);
  });

  it('a tagged field that overruns its declared size is rejected', () => {
    // ApiVersions v3 response: tag 1 (an int64) declared as 2 bytes.
    expectProtocolError(() => decodeApiVersionsResponse(new Reader(hex('0000 01 00000000 01 01 02 0000000000000005')), 3), /overran/);
    // A tagged field whose declared size runs past the end.
    expectProtocolError(() => decodeApiVersionsResponse(new Reader(hex('0000 01 00000000 01 07 09 00')), 3));
  });
});
