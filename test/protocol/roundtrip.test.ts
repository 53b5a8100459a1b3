import { describe, expect, it } from 'vitest';
import {
  API_VERSIONS,
  Reader,
  Writer,
  decodeConsumerProtocolAssignment,
  decodeConsumerProtocolSubscription,
  decodeRequest,
  decodeRequestBody,
  decodeResponse,
  decodeResponseBody,
  encodeConsumerProtocolAssignment,
  encodeConsumerProtocolSubscription,
  encodeRequest,
  encodeRequestBody,
  encodeResponseBody,
  encodeResponseFrame,
  type RequestBody,
  type ResponseBody,
} from '../../src/protocol/index.js';
import { MessageFixture, loadSchema } from './schema-fixtures.js';
import { concatParts } from './util.js';

// For every API and version penstock implements: a populated message (2-element arrays, non-ASCII
// strings, negative int64s, records as Buffers; then again with every nullable field null) survives
// encode → decode, with fields absent in that version decoding to their defaults.
describe.each(API_VERSIONS.map((api) => [api.name, api] as const))('%s', (name, api) => {
  const versions = Array.from({ length: api.max - api.min + 1 }, (_, i) => api.min + i);
  const gen = { lo: api.min, hi: api.max };
  const request = new MessageFixture(loadSchema(`${name}Request`), gen);
  const response = new MessageFixture(loadSchema(`${name}Response`), gen);

  describe.each(versions)('v%i', (version) => {
    it.each([false, true])('request round-trips (nulls: %s)', (nulls) => {
      const { input, expected } = request.build(version, nulls);
      const w = new Writer(16);
      encodeRequestBody(api.key, version, w, input as unknown as RequestBody);
      const bytes = w.toBuffer();
      const r = new Reader(bytes);
      expect(decodeRequestBody(api.key, version, r)).toEqual(expected);
      expect(r.offset).toBe(bytes.length);

      // Re-encoding what was decoded gives the same bytes.
      const again = new Writer();
      encodeRequestBody(api.key, version, again, expected as unknown as RequestBody);
      expect(again.toBuffer().equals(bytes)).toBe(true);

      // And through a whole frame: size, header, body.
      const frame = encodeRequest(api.key, version, 42, 'cliënt', input as unknown as RequestBody);
      expect(frame.readInt32BE(0)).toBe(frame.length - 4);
      const decoded = decodeRequest(frame.subarray(4));
      expect(decoded.header).toEqual({ apiKey: api.key, apiVersion: version, correlationId: 42, clientId: 'cliënt' });
      expect(decoded.body).toEqual(expected);
    });

    it.each([false, true])('response round-trips (nulls: %s)', (nulls) => {
      const { input, expected } = response.build(version, nulls);
      const w = new Writer(16);
      encodeResponseBody(api.key, version, w, input as unknown as ResponseBody);
      const bytes = concatParts(w.finish());
      const r = new Reader(bytes);
      expect(decodeResponseBody(api.key, version, r)).toEqual(expected);
      expect(r.offset).toBe(bytes.length);

      const again = new Writer();
      encodeResponseBody(api.key, version, again, expected as unknown as ResponseBody);
      expect(concatParts(again.finish()).equals(bytes)).toBe(true);

      const frame = concatParts(encodeResponseFrame(api.key, version, 7, input as unknown as ResponseBody));
      expect(frame.readInt32BE(0)).toBe(frame.length - 4);
      const decoded = decodeResponse(api.key, version, frame.subarray(4));
      expect(decoded.correlationId).toBe(7);
      expect(decoded.body).toEqual(expected);
      // The frame ends with exactly the bytes encodeResponseBody wrote.
      expect(frame.subarray(frame.length - bytes.length).equals(bytes)).toBe(true);
    });
  });
});

describe.each([
  ['ConsumerProtocolSubscription', decodeConsumerProtocolSubscription, encodeConsumerProtocolSubscription],
  ['ConsumerProtocolAssignment', decodeConsumerProtocolAssignment, encodeConsumerProtocolAssignment],
] as const)('%s', (name, decode, encode) => {
  const fixture = new MessageFixture(loadSchema(name), { lo: 0, hi: 3 });
  it.each([0, 1, 2, 3].flatMap((v) => [[v, false] as const, [v, true] as const]))('v%i round-trips (nulls: %s)', (version, nulls) => {
    const { input, expected } = fixture.build(version, nulls);
    const w = new Writer();
    encode(w, version, input as never);
    const bytes = w.toBuffer();
    const r = new Reader(bytes);
    expect(decode(r, version)).toEqual(expected);
    expect(r.remaining).toBe(0);
  });
});
