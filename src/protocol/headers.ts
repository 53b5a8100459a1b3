/**
 * Request and response headers (Kafka's RequestHeader.json / ResponseHeader.json), hand-written
 * because their version is not sent: it follows from the API key and version of the request.
 */
import { KAFKA_APIS } from './generated/index.js';
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  /** Absent (null) in header v0; an int16-length nullable string in v1 and v2 alike. */
  clientId: string | null;
}

export interface ResponseHeader {
  correlationId: number;
}

const API_KEY_API_VERSIONS = 18;
const API_KEY_CONTROLLED_SHUTDOWN = 7;

const firstFlexible = new Map<number, number | null>(KAFKA_APIS.map((api) => [api.key, api.firstFlexibleVersion]));

/** Whether `apiVersion` of `apiKey` is a flexible version in Kafka's schemas; unknown APIs count as not. */
export function isFlexibleVersion(apiKey: number, apiVersion: number): boolean {
  const first = firstFlexible.get(apiKey);
  return first !== undefined && first !== null && apiVersion >= first;
}

/** Kafka's rule: header v2 for flexible request versions, else v1 (v0 only for ControlledShutdown v0). */
export function requestHeaderVersion(apiKey: number, apiVersion: number): number {
  if (isFlexibleVersion(apiKey, apiVersion)) return 2;
  return apiKey === API_KEY_CONTROLLED_SHUTDOWN && apiVersion === 0 ? 0 : 1;
}

/**
 * Kafka's rule: header v1 for flexible response versions, else v0 — except ApiVersions, whose
 * response header is always v0 so a client can read it before it knows which versions the broker has.
 */
export function responseHeaderVersion(apiKey: number, apiVersion: number): number {
  if (apiKey === API_KEY_API_VERSIONS) return 0;
  return isFlexibleVersion(apiKey, apiVersion) ? 1 : 0;
}

export function decodeRequestHeader(r: Reader, headerVersion: number): RequestHeader {
  const apiKey = r.int16('RequestHeader.apiKey');
  const apiVersion = r.int16('RequestHeader.apiVersion');
  const correlationId = r.int32('RequestHeader.correlationId');
  // The client id keeps its int16 length even in the flexible header v2.
  const clientId = headerVersion >= 1 ? r.nullableString('RequestHeader.clientId') : null;
  if (headerVersion >= 2) r.skipTaggedFields('RequestHeader tagged fields');
  return { apiKey, apiVersion, correlationId, clientId };
}

/** Reads a request header whose version is chosen from the API key and version it starts with. */
export function readRequestHeader(r: Reader): RequestHeader {
  if (r.remaining < 4) throw r.error(`request header needs 4 bytes for its API key and version, ${r.remaining} remain`);
  const apiKey = r.buf.readInt16BE(r.offset);
  const apiVersion = r.buf.readInt16BE(r.offset + 2);
  return decodeRequestHeader(r, requestHeaderVersion(apiKey, apiVersion));
}

export function encodeRequestHeader(w: Writer, headerVersion: number, h: RequestHeader): void {
  w.int16(h.apiKey).int16(h.apiVersion).int32(h.correlationId);
  if (headerVersion >= 1) w.nullableString(h.clientId, 'RequestHeader.clientId');
  if (headerVersion >= 2) w.emptyTaggedFields();
}

export function decodeResponseHeader(r: Reader, headerVersion: number): ResponseHeader {
  const correlationId = r.int32('ResponseHeader.correlationId');
  if (headerVersion >= 1) r.skipTaggedFields('ResponseHeader tagged fields');
  return { correlationId };
}

export function encodeResponseHeader(w: Writer, headerVersion: number, correlationId: number): void {
  w.int32(correlationId);
  if (headerVersion >= 1) w.emptyTaggedFields();
}
