import type { RequestContext } from '../request-context.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import type { FindCoordinatorRequest, FindCoordinatorResponse } from '../../protocol/index.js';

const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;

/**
 * FindCoordinator: one broker coordinates every group. There is no transaction coordinator, so
 * KeyType 1 answers COORDINATOR_NOT_AVAILABLE (what Kafka says while one is not ready).
 */
export function handleFindCoordinator(ctx: RequestContext, request: FindCoordinatorRequest): FindCoordinatorResponse {
  const { broker } = ctx;
  const keyType = ctx.apiVersion >= 1 ? request.keyType : KEY_TYPE_GROUP;
  const failure = (errorCode: number, errorMessage: string): FindCoordinatorResponse => ({ throttleTimeMs: 0, errorCode, errorMessage, nodeId: -1, host: '', port: -1 });
  if (keyType === KEY_TYPE_TRANSACTION) return failure(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'penstock has no transaction coordinator');
  if (keyType !== KEY_TYPE_GROUP) return failure(ErrorCode.INVALID_REQUEST, `unknown coordinator key type ${keyType}`);
  if (!broker.groups.isActive) return failure(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'the group coordinator is not running');
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, nodeId: broker.nodeId, host: broker.advertisedHost, port: broker.advertisedPort };
}
