/**
 * The protocol layer's entry point: primitives, headers, generated codecs, and dispatch by API key for
 * the broker (decode requests, encode responses) and for penstock's own client (the reverse).
 */
import type { SendPart } from '../io/types.js';
import {
  API_VERSIONS,
  KAFKA_APIS,
  REQUEST_CODECS,
  RESPONSE_CODECS,
  type ApiKeyValue,
  type ApiVersionRange,
  type RequestBodies,
  type RequestBody,
  type ResponseBodies,
  type ResponseBody,
} from './generated/index.js';
import {
  decodeResponseHeader,
  encodeRequestHeader,
  encodeResponseHeader,
  readRequestHeader,
  requestHeaderVersion,
  responseHeaderVersion,
  type RequestHeader,
} from './headers.js';
import { ProtocolError, Reader } from './reader.js';
import { Writer } from './writer.js';

export * from './error-codes.js';
export * from './generated/index.js';
export * from './headers.js';
export * from './reader.js';
export * from './writer.js';

const supported: (ApiVersionRange | undefined)[] = [];
for (const api of API_VERSIONS) supported[api.key] = api;

const names = new Map(KAFKA_APIS.map((api) => [api.key, api.name]));

/** Kafka's name for an API key (e.g. "Produce"), or "ApiKey(n)" for keys Kafka does not define. */
export function apiName(apiKey: number): string {
  return names.get(apiKey) ?? `ApiKey(${apiKey})`;
}

/** Whether penstock implements `version` of `apiKey`; narrows the key to a supported one. */
export function isSupported(apiKey: number, version: number): apiKey is ApiKeyValue {
  const api = supported[apiKey];
  return api !== undefined && version >= api.min && version <= api.max;
}

function unsupported(apiKey: number, version: number, what: string, offset: number): ProtocolError {
  return new ProtocolError(`${apiName(apiKey)} v${version} ${what} is not supported`, offset);
}

// Adds the API and version to a decode error, so a log line says which request was malformed.
function withContext(err: unknown, apiKey: number, version: number, what: string): unknown {
  if (!(err instanceof ProtocolError)) return err;
  const wrapped = new ProtocolError(`${apiName(apiKey)} v${version} ${what}: ${err.message}`, err.offset);
  wrapped.stack = err.stack;
  return wrapped;
}

/** Decodes a request body (the reader positioned after the request header). Throws ProtocolError. */
export function decodeRequestBody<K extends ApiKeyValue>(apiKey: K, version: number, r: Reader): RequestBodies[K];
export function decodeRequestBody(apiKey: number, version: number, r: Reader): RequestBody;
export function decodeRequestBody(apiKey: number, version: number, r: Reader): RequestBody {
  if (!isSupported(apiKey, version)) throw unsupported(apiKey, version, 'request', r.offset);
  try {
    return REQUEST_CODECS[apiKey].decode(r, version);
  } catch (err) {
    throw withContext(err, apiKey, version, 'request');
  }
}

/** A request read from a frame (after its size prefix): header, then body. */
export interface DecodedRequest {
  header: RequestHeader;
  body: RequestBody;
}

/**
 * Decodes a whole request frame (after the size prefix). Throws ProtocolError for a malformed frame or
 * an unsupported API/version — check `isSupported` on the header first to answer ApiVersions specially.
 */
export function decodeRequest(frameBody: Buffer): DecodedRequest {
  const r = new Reader(frameBody);
  const header = readRequestHeader(r);
  return { header, body: decodeRequestBody(header.apiKey, header.apiVersion, r) };
}

/** Encodes a response body (no header, no size). */
export function encodeResponseBody<K extends ApiKeyValue>(apiKey: K, version: number, w: Writer, body: ResponseBodies[K]): void;
export function encodeResponseBody(apiKey: number, version: number, w: Writer, body: ResponseBody): void;
export function encodeResponseBody(apiKey: number, version: number, w: Writer, body: ResponseBody): void {
  if (!isSupported(apiKey, version)) throw unsupported(apiKey, version, 'response', -1);
  (RESPONSE_CODECS[apiKey] as { encode(w: Writer, v: number, m: ResponseBody): void }).encode(w, version, body);
}

/**
 * A complete response: int32 size (counting file-region bytes too), response header, body. File
 * regions in `records` fields stay regions, so the parts can go to the socket with sendfile.
 * For an ApiVersions request at an unsupported version, pass version 0 and a v0 body (KIP-511).
 */
export function encodeResponseFrame<K extends ApiKeyValue>(apiKey: K, version: number, correlationId: number, body: ResponseBodies[K]): SendPart[];
export function encodeResponseFrame(apiKey: number, version: number, correlationId: number, body: ResponseBody): SendPart[];
export function encodeResponseFrame(apiKey: number, version: number, correlationId: number, body: ResponseBody): SendPart[] {
  const w = new Writer();
  const mark = w.beginFrame();
  encodeResponseHeader(w, responseHeaderVersion(apiKey, version), correlationId);
  encodeResponseBody(apiKey, version, w, body);
  w.endFrame(mark);
  return w.finish();
}

/** Encodes a request body (no header, no size). */
export function encodeRequestBody<K extends ApiKeyValue>(apiKey: K, version: number, w: Writer, body: RequestBodies[K]): void;
export function encodeRequestBody(apiKey: number, version: number, w: Writer, body: RequestBody): void;
export function encodeRequestBody(apiKey: number, version: number, w: Writer, body: RequestBody): void {
  if (!isSupported(apiKey, version)) throw unsupported(apiKey, version, 'request', -1);
  (REQUEST_CODECS[apiKey] as { encode(w: Writer, v: number, m: RequestBody): void }).encode(w, version, body);
}

function writeRequest(apiKey: number, version: number, correlationId: number, clientId: string | null, body: RequestBody): Writer {
  const w = new Writer();
  const mark = w.beginFrame();
  encodeRequestHeader(w, requestHeaderVersion(apiKey, version), { apiKey, apiVersion: version, correlationId, clientId });
  encodeRequestBody(apiKey, version, w, body);
  return w.endFrame(mark);
}

/** A complete request frame — int32 size, request header, body — as one Buffer. */
export function encodeRequest<K extends ApiKeyValue>(apiKey: K, version: number, correlationId: number, clientId: string | null, body: RequestBodies[K]): Buffer;
export function encodeRequest(apiKey: number, version: number, correlationId: number, clientId: string | null, body: RequestBody): Buffer;
export function encodeRequest(apiKey: number, version: number, correlationId: number, clientId: string | null, body: RequestBody): Buffer {
  return writeRequest(apiKey, version, correlationId, clientId, body).toBuffer();
}

/** Like `encodeRequest`, but as send parts, so a produce request can carry records as file regions. */
export function encodeRequestFrame<K extends ApiKeyValue>(apiKey: K, version: number, correlationId: number, clientId: string | null, body: RequestBodies[K]): SendPart[];
export function encodeRequestFrame(apiKey: number, version: number, correlationId: number, clientId: string | null, body: RequestBody): SendPart[];
export function encodeRequestFrame(apiKey: number, version: number, correlationId: number, clientId: string | null, body: RequestBody): SendPart[] {
  return writeRequest(apiKey, version, correlationId, clientId, body).finish();
}

/** Decodes a response body (the reader positioned after the response header). Throws ProtocolError. */
export function decodeResponseBody<K extends ApiKeyValue>(apiKey: K, version: number, r: Reader): ResponseBodies[K];
export function decodeResponseBody(apiKey: number, version: number, r: Reader): ResponseBody;
export function decodeResponseBody(apiKey: number, version: number, r: Reader): ResponseBody {
  if (!isSupported(apiKey, version)) throw unsupported(apiKey, version, 'response', r.offset);
  try {
    return RESPONSE_CODECS[apiKey].decode(r, version);
  } catch (err) {
    throw withContext(err, apiKey, version, 'response');
  }
}

/** A response read from a frame. */
export interface DecodedResponse<T> {
  correlationId: number;
  body: T;
}

/** Decodes a response frame (after the size prefix): header, then body. Throws ProtocolError. */
export function decodeResponse<K extends ApiKeyValue>(apiKey: K, version: number, frameBody: Buffer): DecodedResponse<ResponseBodies[K]>;
export function decodeResponse(apiKey: number, version: number, frameBody: Buffer): DecodedResponse<ResponseBody>;
export function decodeResponse(apiKey: number, version: number, frameBody: Buffer): DecodedResponse<ResponseBody> {
  const r = new Reader(frameBody);
  if (!isSupported(apiKey, version)) throw unsupported(apiKey, version, 'response', 0);
  let correlationId: number;
  try {
    correlationId = decodeResponseHeader(r, responseHeaderVersion(apiKey, version)).correlationId;
  } catch (err) {
    throw withContext(err, apiKey, version, 'response header');
  }
  return { correlationId, body: decodeResponseBody(apiKey, version, r) };
}
