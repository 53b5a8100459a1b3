import type { RequestContext } from '../request-context.js';
import type { ListGroupsRequest, ListGroupsResponse } from '../../protocol/index.js';

/** ListGroups: every group this broker coordinates (all of them), Empty ones included. */
export function handleListGroups(ctx: RequestContext, _request: ListGroupsRequest): ListGroupsResponse {
  const result = ctx.broker.groups.listGroups();
  return { throttleTimeMs: 0, errorCode: result.errorCode, groups: result.groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType })) };
}
