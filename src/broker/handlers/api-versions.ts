import type { RequestContext } from '../request-context.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import type { ApiVersionsRequest, ApiVersionsResponse } from '../../protocol/index.js';

/** ApiVersions: exactly the APIs and versions this broker implements. */
export function handleApiVersions(ctx: RequestContext, _request: ApiVersionsRequest): ApiVersionsResponse {
  return {
    errorCode: ErrorCode.NONE,
    apiKeys: ctx.broker.advertisedApis(),
    throttleTimeMs: 0,
    supportedFeatures: [],
    finalizedFeaturesEpoch: -1,
    finalizedFeatures: [],
    zkMigrationReady: false,
  };
}
