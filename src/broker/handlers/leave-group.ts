import type { RequestContext } from '../request-context.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import type { LeaveGroupRequest, LeaveGroupResponse } from '../../protocol/index.js';

/** LeaveGroup: one member (v0-2) or a batch (v3+); before v3 the member's error is the response's. */
export function handleLeaveGroup(ctx: RequestContext, request: LeaveGroupRequest): LeaveGroupResponse {
  const batch = ctx.apiVersion >= 3;
  const leaving = batch ? request.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId })) : [{ memberId: request.memberId, groupInstanceId: null }];
  const result = ctx.broker.groups.leaveGroup(request.groupId, leaving);
  if (batch) return { throttleTimeMs: 0, errorCode: result.errorCode, members: result.members };
  const memberError = result.members.find((m) => m.errorCode !== ErrorCode.NONE)?.errorCode ?? ErrorCode.NONE;
  return { throttleTimeMs: 0, errorCode: result.errorCode !== ErrorCode.NONE ? result.errorCode : memberError, members: [] };
}
