import { ApiKey } from '../../protocol/index.js';
import type { Handler } from '../request-context.js';
import { handleApiVersions } from './api-versions.js';
import { handleCreatePartitions } from './create-partitions.js';
import { handleCreateTopics } from './create-topics.js';
import { handleDeleteTopics } from './delete-topics.js';
import { handleDescribeConfigs } from './describe-configs.js';
import { handleFetch } from './fetch.js';
import { handleListOffsets } from './list-offsets.js';
import { handleMetadata } from './metadata.js';
import { handleProduce } from './produce.js';

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
};
