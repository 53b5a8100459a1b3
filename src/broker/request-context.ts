import type { Broker } from './broker.js';
import type { Connection } from './connection.js';

/** Returned by a handler when Kafka sends no response (Produce with acks=0). */
export const NO_RESPONSE: unique symbol = Symbol('no response');

/** What a handler knows about the request it serves. */
export interface RequestContext {
  readonly broker: Broker;
  readonly connection: Connection;
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
  /** Aborted when the connection closes. */
  readonly signal: AbortSignal;
  /** Runs `fn` once the response has left the socket (or the connection died): releases file regions. */
  afterSend(fn: () => void): void;
}

/** A handler answers one decoded request body with a response body (or NO_RESPONSE). */
export type Handler<Req = any, Res = any> = (ctx: RequestContext, request: Req) => Res | typeof NO_RESPONSE | Promise<Res | typeof NO_RESPONSE>;
