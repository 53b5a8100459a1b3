import { parseArgs } from 'node:util';
import { ApiKey, ErrorCode } from '../protocol/index.js';
import {
  BOOTSTRAP_HELP,
  BrokerError,
  EARLIEST_OFFSET,
  LATEST_OFFSET,
  tpKey,
  withClient,
  type ClusterClient,
  type TopicInfo,
} from './cluster-client.js';
import { EXIT_CODES_HELP, EXIT_FAILURE, EXIT_OK, UsageError, formatTable, intFlag, keyValueFlags, parseUsage, printJson, runCommand } from './command.js';

const HELP = `usage: penstock topics <command> [options]

Lists, creates, describes and deletes topics on a running broker (Kafka's kafka-topics.sh).

commands:
  list                      every topic and its partition count
  create TOPIC              create a topic
      --partitions N            number of partitions (default: the broker's num.partitions)
      --replication-factor N    must be 1 on a single broker (default: the broker's)
      --config KEY=VALUE        a topic setting, e.g. retention.ms=86400000 (repeatable)
      --if-not-exists           succeed if the topic already exists
  describe [TOPIC...]       partitions, offsets and settings (default: every topic)
      --all-configs             every effective setting and where it comes from, not only the topic's own
  delete TOPIC...           delete topics and their data
      --if-exists               succeed if a topic does not exist

options (every command):
${BOOTSTRAP_HELP}
  --topic NAME                  the topic, as an alternative to the argument (Kafka's spelling)
  --exclude-internal            leave out internal topics (__consumer_offsets) from list and describe
  --json                        print one JSON document instead of a table
  -h, --help                    this help

Topic settings are Kafka's topic-level names: cleanup.policy, retention.ms, retention.bytes,
segment.bytes, segment.ms, max.message.bytes, message.timestamp.type, compression.type, ...

${EXIT_CODES_HELP}`;

const OPTIONS = {
  'bootstrap-server': { type: 'string' },
  topic: { type: 'string', multiple: true },
  partitions: { type: 'string' },
  'replication-factor': { type: 'string' },
  config: { type: 'string', multiple: true },
  'if-not-exists': { type: 'boolean' },
  'if-exists': { type: 'boolean' },
  'all-configs': { type: 'boolean' },
  'exclude-internal': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  return parseUsage(() => parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }));
}

export function runTopics(argv: string[]): Promise<number> {
  return runCommand('topics', async () => {
    const { values, positionals } = parse(argv);
    const [command, ...args] = positionals;
    if (values.help || command === 'help') {
      console.log(HELP);
      return EXIT_OK;
    }
    if (command === undefined) throw new UsageError('missing command: list, create, describe or delete');
    const names = [...args, ...(values.topic ?? [])];
    const flagsFor: Record<string, readonly (keyof Values)[]> = {
      list: ['exclude-internal'],
      create: ['partitions', 'replication-factor', 'config', 'if-not-exists'],
      describe: ['all-configs', 'exclude-internal'],
      delete: ['if-exists'],
    };
    const allowed = flagsFor[command];
    if (!allowed) throw new UsageError(`unknown command "${command}": expected list, create, describe or delete`);
    for (const key of Object.keys(values) as (keyof Values)[]) {
      if (!['bootstrap-server', 'json', 'help', 'topic', ...allowed].includes(key)) throw new UsageError(`--${key} does not apply to "topics ${command}"`);
    }

    switch (command) {
      case 'list':
        if (names.length > 0) throw new UsageError(`unexpected argument "${names[0]}"`);
        return withClient(values['bootstrap-server'], 'penstock-topics', (client) => list(client, values));
      case 'create': {
        if (names.length !== 1) throw new UsageError(names.length === 0 ? 'missing TOPIC' : 'create takes one TOPIC');
        const partitions = values.partitions === undefined ? -1 : intFlag('--partitions', values.partitions, { min: 1, max: 2_147_483_647 });
        const replicationFactor = values['replication-factor'] === undefined ? -1 : intFlag('--replication-factor', values['replication-factor'], { min: 1, max: 32_767 });
        const configs = keyValueFlags('--config', values.config);
        return withClient(values['bootstrap-server'], 'penstock-topics', (client) => create(client, names[0]!, partitions, replicationFactor, configs, values));
      }
      case 'describe':
        return withClient(values['bootstrap-server'], 'penstock-topics', (client) => describe(client, names, values));
      default:
        if (names.length === 0) throw new UsageError('missing TOPIC');
        return withClient(values['bootstrap-server'], 'penstock-topics', (client) => remove(client, names, values));
    }
  });
}

async function list(client: ClusterClient, values: Values): Promise<number> {
  const topics = (await client.allTopics()).filter((t) => !(values['exclude-internal'] && t.internal));
  if (values.json) {
    printJson({ topics: topics.map((t) => ({ name: t.name, partitions: t.partitions.length, internal: t.internal })) });
  } else if (topics.length > 0) {
    console.log(formatTable(['TOPIC', 'PARTITIONS', 'INTERNAL'], topics.map((t) => [t.name, t.partitions.length, t.internal ? 'yes' : 'no'])));
  }
  return EXIT_OK;
}

async function create(client: ClusterClient, name: string, partitions: number, replicationFactor: number, configs: Record<string, string>, values: Values): Promise<number> {
  const response = await client.call(client.bootstrapConnection, ApiKey.CreateTopics, {
    topics: [
      {
        name,
        numPartitions: partitions,
        replicationFactor,
        assignments: [],
        configs: Object.entries(configs).map(([key, value]) => ({ name: key, value })),
      },
    ],
    timeoutMs: client.requestTimeoutMs,
    validateOnly: false,
  });
  const result = response.topics[0]!;
  const existed = result.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS && values['if-not-exists'];
  if (result.errorCode !== ErrorCode.NONE && !existed) throw new BrokerError(result.errorCode, `creating topic "${name}"`, result.errorMessage);
  const info = (await client.topics([name])).get(name)!;
  if (values.json) printJson({ topic: name, created: !existed, partitions: info.partitions.length });
  else console.log(existed ? `Topic ${name} already exists.` : `Created topic ${name} with ${info.partitions.length} partition${info.partitions.length === 1 ? '' : 's'}.`);
  return EXIT_OK;
}

/** Kafka's DescribeConfigsResponse config sources, by the names its admin client uses. */
const CONFIG_SOURCES: Record<number, string> = {
  0: 'UNKNOWN',
  1: 'DYNAMIC_TOPIC_CONFIG',
  2: 'DYNAMIC_BROKER_CONFIG',
  3: 'DYNAMIC_DEFAULT_BROKER_CONFIG',
  4: 'STATIC_BROKER_CONFIG',
  5: 'DEFAULT_CONFIG',
  6: 'DYNAMIC_BROKER_LOGGER_CONFIG',
};
const RESOURCE_TOPIC = 2;
/** From v1 DescribeConfigs says where a value comes from instead of isDefault. */
const SOURCE_DEFAULT_CONFIG = 5;

interface TopicDescription {
  name: string;
  internal: boolean;
  partitions: { partition: number; leader: number; logStartOffset: number; highWatermark: number }[];
  configs: { name: string; value: string | null; source: string; isDefault: boolean; readOnly: boolean }[];
}

async function describe(client: ClusterClient, names: string[], values: Values): Promise<number> {
  let topics: TopicInfo[];
  if (names.length === 0) topics = (await client.allTopics()).filter((t) => !(values['exclude-internal'] && t.internal));
  else topics = [...(await client.topics(names)).values()];

  const all = topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, ...p })));
  const [earliest, latest, configs] = await Promise.all([
    client.listOffsets(all, EARLIEST_OFFSET),
    client.listOffsets(all, LATEST_OFFSET),
    topics.length === 0
      ? Promise.resolve({ results: [] })
      : client.call(client.bootstrapConnection, ApiKey.DescribeConfigs, {
          resources: topics.map((t) => ({ resourceType: RESOURCE_TOPIC, resourceName: t.name, configurationKeys: null })),
          includeSynonyms: false,
        }),
  ]);

  const described: TopicDescription[] = topics.map((t) => {
    const result = configs.results.find((r) => r.resourceName === t.name);
    if (result && result.errorCode !== ErrorCode.NONE) throw new BrokerError(result.errorCode, `settings of topic "${t.name}"`, result.errorMessage);
    return {
      name: t.name,
      internal: t.internal,
      partitions: t.partitions.map((p) => ({
        partition: p.partition,
        leader: p.leader,
        logStartOffset: earliest.get(tpKey(t.name, p.partition))!,
        highWatermark: latest.get(tpKey(t.name, p.partition))!,
      })),
      configs: (result?.configs ?? [])
        .map((c) => ({ name: c.name, value: c.value, source: CONFIG_SOURCES[c.configSource] ?? String(c.configSource), isDefault: c.configSource === SOURCE_DEFAULT_CONFIG, readOnly: c.readOnly }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    };
  });

  if (values.json) {
    printJson({ topics: described });
    return EXIT_OK;
  }
  const blocks = described.map((t) => {
    const own = t.configs.filter((c) => c.source === 'DYNAMIC_TOPIC_CONFIG');
    const lines = [`Topic: ${t.name}   Partitions: ${t.partitions.length}   Internal: ${t.internal ? 'yes' : 'no'}`];
    if (!values['all-configs']) lines.push(`Configs: ${own.length === 0 ? '(none set on the topic)' : own.map((c) => `${c.name}=${c.value ?? ''}`).join(', ')}`);
    lines.push('', indent(formatTable(['PARTITION', 'LEADER', 'LOG-START-OFFSET', 'HIGH-WATERMARK'], t.partitions.map((p) => [p.partition, p.leader, p.logStartOffset, p.highWatermark]))));
    if (values['all-configs']) {
      lines.push('', indent(formatTable(['CONFIG', 'VALUE', 'SOURCE'], t.configs.map((c) => [c.name, c.value ?? '', c.source]))));
    }
    return lines.join('\n');
  });
  if (blocks.length > 0) console.log(blocks.join('\n\n'));
  return EXIT_OK;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

async function remove(client: ClusterClient, names: string[], values: Values): Promise<number> {
  const response = await client.call(client.bootstrapConnection, ApiKey.DeleteTopics, { topicNames: names, timeoutMs: client.requestTimeoutMs });
  const results = names.map((name) => {
    const r = response.responses.find((x) => x.name === name);
    const code = r?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
    const missingButFine = code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION && values['if-exists'];
    const error = code === ErrorCode.NONE || missingButFine ? null : new BrokerError(code, `deleting topic "${name}"`).message;
    return { name, deleted: code === ErrorCode.NONE, error };
  });
  if (values.json) printJson({ topics: results });
  else for (const r of results) if (r.error === null) console.log(r.deleted ? `Deleted topic ${r.name}.` : `Topic ${r.name} does not exist.`);
  const failures = results.filter((r) => r.error !== null);
  for (const failure of failures) process.stderr.write(`penstock topics: ${failure.error}\n`);
  return failures.length > 0 ? EXIT_FAILURE : EXIT_OK;
}
