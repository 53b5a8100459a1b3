import { ApiKey } from '../../protocol/index.js';
import type { Handler } from '../request-context.js';
import { handleApiVersions } from './api-versions.js';
import { handleCreatePartitions } from './create-partitions.js';
import { handleCreateTopics } from './create-topics.js';
import { handleDeleteGroups } from './delete-groups.js';
import { handleDeleteTopics } from './delete-topics.js';
import { handleDescribeConfigs } from './describe-configs.js';
import { handleDescribeGroups } from './describe-groups.js';
import { handleFetch } from './fetch.js';
import { handleFindCoordinator } from './find-coordinator.js';
import { handleHeartbeat } from './heartbeat.js';
import { handleJoinGroup } from './join-group.js';
import { handleLeaveGroup } from './leave-group.js';
import { handleListGroups } from './list-groups.js';
import { handleListOffsets } from './list-offsets.js';
import { handleMetadata } from './metadata.js';
import { handleOffsetCommit } from './offset-commit.js';
import { handleOffsetFetch } from './offset-fetch.js';
import { handleProduce } from './produce.js';
import { handleSyncGroup } from './sync-group.js';

/**
 * Group APIs start the coordinator on first use: like Kafka, `__consumer_offsets` is created by the
 * first request that needs it, not at startup. If that fails, the handler answers COORDINATOR_NOT_AVAILABLE.
 */
function withCoordinator(handler: Handler): Handler {
  return (ctx, request) => {
    const { groups } = ctx.broker;
    if (groups.isActive) return handler(ctx, request);
    return groups.activate().then(
      () => handler(ctx, request),
      (err: unknown) => {
        ctx.broker.log.error({ err: (err as Error).message }, 'could not start the group coordinator');
        return handler(ctx, request);
      },
    );
  };
}

/** One handler per API key. The broker advertises exactly these, at the versions the codecs cover. */
export const HANDLERS: Partial<Record<number, Handler>> = {
  [ApiKey.ApiVersions]: handleApiVersions,
  [ApiKey.Metadata]: handleMetadata,
  [ApiKey.Produce]: handleProduce,
  [ApiKey.Fetch]: handleFetch,
  [ApiKey.ListOffsets]: handleListOffsets,
  [ApiKey.CreateTopics]: handleCreateTopics,
  [ApiKey.DeleteTopics]: handleDeleteTopics,
  [ApiKey.DescribeConfigs]: handleDescribeConfigs,
  [ApiKey.CreatePartitions]: handleCreatePartitions,
  [ApiKey.FindCoordinator]: withCoordinator(handleFindCoordinator),
  [ApiKey.JoinGroup]: withCoordinator(handleJoinGroup),
  [ApiKey.SyncGroup]: withCoordinator(handleSyncGroup),
  [ApiKey.Heartbeat]: withCoordinator(handleHeartbeat),
  [ApiKey.LeaveGroup]: withCoordinator(handleLeaveGroup),
  [ApiKey.OffsetCommit]: withCoordinator(handleOffsetCommit),
  [ApiKey.OffsetFetch]: withCoordinator(handleOffsetFetch),
  [ApiKey.ListGroups]: withCoordinator(handleListGroups),
  [ApiKey.DescribeGroups]: withCoordinator(handleDescribeGroups),
  [ApiKey.DeleteGroups]: withCoordinator(handleDeleteGroups),
};
