import type { RequestContext } from '../request-context.js';
import type { HeartbeatRequest, HeartbeatResponse } from '../../protocol/index.js';

/** Heartbeat: keeps the member's session; REBALANCE_IN_PROGRESS tells it to rejoin. */
export function handleHeartbeat(ctx: RequestContext, request: HeartbeatRequest): HeartbeatResponse {
  const groupInstanceId = ctx.apiVersion >= 3 ? request.groupInstanceId : null;
  const errorCode = ctx.broker.groups.heartbeat(request.groupId, request.memberId, groupInstanceId, request.generationId);
  return { throttleTimeMs: 0, errorCode };
}
