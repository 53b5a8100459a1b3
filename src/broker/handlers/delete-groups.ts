import type { RequestContext } from '../request-context.js';
import type { DeleteGroupsRequest, DeleteGroupsResponse } from '../../protocol/index.js';

/** DeleteGroups: Empty groups go with their offsets; NON_EMPTY_GROUP while one has members. */
export async function handleDeleteGroups(ctx: RequestContext, request: DeleteGroupsRequest): Promise<DeleteGroupsResponse> {
  const results = await ctx.broker.groups.deleteGroups(request.groupsNames);
  return { throttleTimeMs: 0, results };
}
