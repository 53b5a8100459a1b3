import type { RequestContext } from '../request-context.js';
import type { DescribeGroupsRequest, DescribeGroupsResponse } from '../../protocol/index.js';

/** DescribeGroups: an unknown group is described as Dead with no error, as Kafka does before v6. */
export function handleDescribeGroups(ctx: RequestContext, request: DescribeGroupsRequest): DescribeGroupsResponse {
  return {
    throttleTimeMs: 0,
    groups: request.groups.map((groupId) => {
      const d = ctx.broker.groups.describeGroup(groupId);
      return {
        errorCode: d.errorCode,
        groupId: d.groupId,
        groupState: d.state,
        protocolType: d.protocolType,
        protocolData: d.protocolName,
        members: d.members.map((m) => ({ memberId: m.memberId, clientId: m.clientId, clientHost: m.clientHost, memberMetadata: m.metadata, memberAssignment: m.assignment })),
      };
    }),
  };
}
