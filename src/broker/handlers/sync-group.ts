import type { RequestContext } from '../request-context.js';
import type { SyncGroupRequest, SyncGroupResponse } from '../../protocol/index.js';

/** SyncGroup: followers wait for the leader's assignment; in a Stable group it is answered at once. */
export async function handleSyncGroup(ctx: RequestContext, request: SyncGroupRequest): Promise<SyncGroupResponse> {
  const result = await ctx.broker.groups.syncGroup({
    groupId: request.groupId,
    generationId: request.generationId,
    memberId: request.memberId,
    groupInstanceId: ctx.apiVersion >= 3 ? request.groupInstanceId : null,
    protocolType: null,
    protocolName: null,
    assignments: request.assignments.map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
  });
  return { throttleTimeMs: 0, errorCode: result.errorCode, assignment: result.assignment };
}
