import type { RequestContext } from '../request-context.js';
import { BROKER_CONFIG_DEFS, TOPIC_CONFIG_DEFAULTS, type TopicConfigKey } from '../../config.js';
import { ErrorCode, KafkaError, errorCodeOf } from '../../protocol/error-codes.js';
import type { DescribeConfigsRequest, DescribeConfigsResponse } from '../../protocol/index.js';

/** Kafka's resource types and config sources (DescribeConfigsResponse). */
const RESOURCE_TOPIC = 2;
const RESOURCE_BROKER = 4;
const SOURCE_TOPIC_CONFIG = 1;
const SOURCE_STATIC_BROKER_CONFIG = 4;
const SOURCE_DEFAULT_CONFIG = 5;

interface ConfigEntry {
  name: string;
  value: string | null;
  source: number;
}

/** DescribeConfigs: a topic's effective settings (its overrides, else the broker's), or the broker's own. */
export function handleDescribeConfigs(ctx: RequestContext, request: DescribeConfigsRequest): DescribeConfigsResponse {
  const results = request.resources.map((resource) => {
    const base = { resourceType: resource.resourceType, resourceName: resource.resourceName };
    try {
      const entries = describe(ctx, resource.resourceType, resource.resourceName);
      const wanted = resource.configurationKeys;
      const selected = wanted === null || wanted.length === 0 ? entries : entries.filter((e) => wanted.includes(e.name));
      return {
        ...base,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        configs: selected.map((e) => ({
          name: e.name,
          value: e.value,
          readOnly: resource.resourceType === RESOURCE_BROKER,
          isDefault: e.source === SOURCE_DEFAULT_CONFIG,
          configSource: e.source,
          isSensitive: false,
          synonyms: [],
          configType: 0,
          documentation: null,
        })),
      };
    } catch (err) {
      return { ...base, errorCode: errorCodeOf(err), errorMessage: (err as Error).message ?? null, configs: [] };
    }
  });
  return { throttleTimeMs: 0, results };
}

function describe(ctx: RequestContext, resourceType: number, name: string): ConfigEntry[] {
  const { broker } = ctx;
  if (resourceType === RESOURCE_TOPIC) {
    const topic = broker.logs.getTopic(name);
    if (!topic) throw new KafkaError('UNKNOWN_TOPIC_OR_PARTITION', `unknown topic ${name}`, { topic: name });
    return (Object.keys(TOPIC_CONFIG_DEFAULTS) as TopicConfigKey[]).map((key) => ({
      name: key,
      value: String(topic.config[key]),
      source: key in topic.overrides ? SOURCE_TOPIC_CONFIG : brokerSource(ctx, TOPIC_CONFIG_DEFAULTS[key]),
    }));
  }
  if (resourceType === RESOURCE_BROKER) {
    if (name !== '' && name !== String(broker.nodeId)) throw new KafkaError('INVALID_REQUEST', `unknown broker ${name}`);
    return BROKER_CONFIG_DEFS.map((def) => ({
      name: def.name,
      value: String(broker.config[def.name]),
      source: brokerSource(ctx, def.name),
    }));
  }
  throw new KafkaError('INVALID_REQUEST', `unsupported resource type ${resourceType}`);
}

function brokerSource(ctx: RequestContext, key: keyof typeof ctx.broker.config): number {
  const def = BROKER_CONFIG_DEFS.find((d) => d.name === key);
  return def && ctx.broker.config[key] === def.default ? SOURCE_DEFAULT_CONFIG : SOURCE_STATIC_BROKER_CONFIG;
}
