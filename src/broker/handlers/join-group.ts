import type { RequestContext } from '../request-context.js';
import type { JoinGroupRequest, JoinGroupResponse } from '../../protocol/index.js';

/** Kafka's clientHost: the peer address as Java's InetAddress.toString() prints it. */
export function clientHost(ctx: RequestContext): string {
  return `/${ctx.connection.socket.remoteAddress ?? ''}`;
}

/**
 * JoinGroup: parked by the coordinator until the rebalance completes. v0 has no rebalance timeout
 * (the session timeout serves); from v4 an empty member id first gets MEMBER_ID_REQUIRED.
 */
export async function handleJoinGroup(ctx: RequestContext, request: JoinGroupRequest): Promise<JoinGroupResponse> {
  const groupInstanceId = ctx.apiVersion >= 5 ? request.groupInstanceId : null;
  const result = await ctx.broker.groups.joinGroup({
    groupId: request.groupId,
    memberId: request.memberId,
    groupInstanceId,
    requireKnownMemberId: ctx.apiVersion >= 4 && groupInstanceId === null,
    clientId: ctx.clientId ?? '',
    clientHost: clientHost(ctx),
    rebalanceTimeoutMs: ctx.apiVersion >= 1 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs,
    sessionTimeoutMs: request.sessionTimeoutMs,
    protocolType: request.protocolType,
    protocols: request.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
  });
  return {
    throttleTimeMs: 0,
    errorCode: result.errorCode,
    generationId: result.generationId,
    protocolName: result.protocolName ?? '',
    leader: result.leaderId,
    memberId: result.memberId,
    members: result.members,
  };
}
