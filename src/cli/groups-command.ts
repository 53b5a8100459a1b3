import { parseArgs } from 'node:util';
import { ApiKey, ErrorCode } from '../protocol/index.js';
import { BOOTSTRAP_HELP, BrokerError, LATEST_OFFSET, tpKey, withClient, type ClusterClient, type TopicPartition } from './cluster-client.js';
import { EXIT_CODES_HELP, EXIT_OK, UsageError, formatTable, parseUsage, printJson, runCommand } from './command.js';
import { decodeAssignment } from './consumer-protocol.js';
import { fetchCommittedOffsets } from './group-client.js';

const HELP = `usage: penstock groups <command> [options]

Shows consumer groups on a running broker (Kafka's kafka-consumer-groups.sh).

commands:
  list                      every group: state, protocol, number of members
  describe [GROUP...]       members, and per partition the committed offset, the log end offset (high
                            watermark) and the lag between them (default: every group)

options:
${BOOTSTRAP_HELP}
  --group NAME                  the group, as an alternative to the argument (Kafka's spelling)
  --json                        print one JSON document instead of tables
  -h, --help                    this help

Lag is LOG-END-OFFSET minus CURRENT-OFFSET: how many records the group has yet to read. A partition
the group was assigned but never committed shows "-".

${EXIT_CODES_HELP}`;

export function runGroups(argv: string[]): Promise<number> {
  return runCommand('groups', async () => {
    const { values, positionals } = parseUsage(() =>
      parseArgs({
        args: argv,
        allowPositionals: true,
        options: {
          'bootstrap-server': { type: 'string' },
          group: { type: 'string', multiple: true },
          json: { type: 'boolean' },
          help: { type: 'boolean', short: 'h' },
        },
      }),
    );
    const [command, ...args] = positionals;
    if (values.help || command === 'help') {
      console.log(HELP);
      return EXIT_OK;
    }
    const names = [...args, ...(values.group ?? [])];
    switch (command) {
      case undefined:
        throw new UsageError('missing command: list or describe');
      case 'list':
        if (names.length > 0) throw new UsageError(`unexpected argument "${names[0]}"`);
        return withClient(values['bootstrap-server'], 'penstock-groups', async (client) => {
          const groups = await describeGroups(client, await listGroupIds(client));
          if (values.json) {
            printJson({ groups: groups.map((g) => ({ groupId: g.groupId, state: g.state, protocolType: g.protocolType, protocol: g.protocol, members: g.members.length })) });
          } else if (groups.length > 0) {
            console.log(formatTable(['GROUP', 'STATE', 'PROTOCOL-TYPE', 'PROTOCOL', 'MEMBERS'], groups.map((g) => [g.groupId, g.state, g.protocolType || '-', g.protocol || '-', g.members.length])));
          }
          return EXIT_OK;
        });
      case 'describe':
        return withClient(values['bootstrap-server'], 'penstock-groups', async (client) => {
          const ids = names.length > 0 ? names : await listGroupIds(client);
          const groups = await describeGroups(client, ids);
          const lags = await Promise.all(groups.map((g) => groupLag(client, g)));
          for (const [i, g] of groups.entries()) {
            if (names.length > 0 && g.state === 'Dead' && lags[i]!.length === 0) {
              throw new BrokerError(ErrorCode.GROUP_ID_NOT_FOUND, `group "${g.groupId}"`, 'no such group: no members and no committed offsets');
            }
          }
          if (values.json) {
            printJson({
              groups: groups.map((g, i) => ({
                ...g,
                partitions: lags[i],
                totalLag: lags[i]!.reduce((sum, p) => sum + (p.lag ?? 0), 0),
              })),
            });
          } else {
            console.log(groups.map((g, i) => formatGroup(g, lags[i]!)).join('\n\n'));
          }
          return EXIT_OK;
        });
      default:
        throw new UsageError(`unknown command "${command}": expected list or describe`);
    }
  });
}

/** Group ids from every broker's ListGroups (each broker lists the groups it coordinates). */
async function listGroupIds(client: ClusterClient): Promise<string[]> {
  const ids = new Set<string>();
  for (const nodeId of await client.brokerIds()) {
    const response = await client.call(await client.connectionTo(nodeId), ApiKey.ListGroups, {});
    if (response.errorCode !== ErrorCode.NONE) throw new BrokerError(response.errorCode, `listing groups on broker ${nodeId}`);
    for (const g of response.groups) ids.add(g.groupId);
  }
  return [...ids].sort();
}

interface GroupMemberView {
  memberId: string;
  clientId: string;
  clientHost: string;
  assignment: TopicPartition[];
}

interface GroupView {
  groupId: string;
  state: string;
  protocolType: string;
  protocol: string;
  members: GroupMemberView[];
  /** The broker coordinating the group. */
  coordinator: number;
}

/** DescribeGroups, each group asked of its coordinator. */
async function describeGroups(client: ClusterClient, ids: readonly string[]): Promise<GroupView[]> {
  const byCoordinator = new Map<number, string[]>();
  for (const id of ids) {
    const node = await client.findCoordinator(id);
    byCoordinator.set(node, [...(byCoordinator.get(node) ?? []), id]);
  }
  const views: GroupView[] = [];
  for (const [coordinator, groups] of byCoordinator) {
    const response = await client.call(await client.connectionTo(coordinator), ApiKey.DescribeGroups, { groups });
    for (const g of response.groups) {
      if (g.errorCode !== ErrorCode.NONE) throw new BrokerError(g.errorCode, `group "${g.groupId}"`);
      views.push({
        groupId: g.groupId,
        state: g.groupState,
        protocolType: g.protocolType,
        protocol: g.protocolData,
        coordinator,
        members: g.members.map((m) => ({
          memberId: m.memberId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          assignment: g.protocolType === 'consumer' ? assignedPartitions(m.memberAssignment) : [],
        })),
      });
    }
  }
  return views.sort((a, b) => a.groupId.localeCompare(b.groupId));
}

function assignedPartitions(bytes: Buffer): TopicPartition[] {
  try {
    return [...decodeAssignment(bytes)].flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })));
  } catch {
    return []; // Not the consumer protocol's layout (another client's protocol): show no assignment.
  }
}

interface PartitionLag extends TopicPartition {
  /** The group's committed offset (the next record it will read), or null if it never committed. */
  committedOffset: number | null;
  /** The partition's high watermark, or null if the topic is gone. */
  logEndOffset: number | null;
  lag: number | null;
  memberId: string | null;
}

/** Committed offsets (OffsetFetch) against high watermarks (ListOffsets), for committed and assigned partitions. */
async function groupLag(client: ClusterClient, group: GroupView): Promise<PartitionLag[]> {
  const committed = await fetchCommittedOffsets(client, await client.connectionTo(group.coordinator), group.groupId, null);
  const owner = new Map<string, string>();
  for (const m of group.members) for (const p of m.assignment) owner.set(tpKey(p.topic, p.partition), m.memberId);
  const partitions = new Map<string, TopicPartition>();
  for (const c of committed.values()) partitions.set(tpKey(c.topic, c.partition), { topic: c.topic, partition: c.partition });
  for (const m of group.members) for (const p of m.assignment) partitions.set(tpKey(p.topic, p.partition), p);

  // Leaders of the partitions' topics; a deleted topic has none, and no log end offset.
  const topics = [...new Set([...partitions.values()].map((p) => p.topic))];
  const leaders = new Map<string, number>();
  if (topics.length > 0) {
    const metadata = await client.metadata(topics);
    for (const t of metadata.topics) {
      if (t.errorCode !== ErrorCode.NONE || !t.name) continue;
      for (const p of t.partitions) leaders.set(tpKey(t.name, p.partitionIndex), p.leaderId);
    }
  }
  const known = [...partitions.values()].filter((p) => leaders.has(tpKey(p.topic, p.partition)));
  const ends = await client.listOffsets(
    known.map((p) => ({ ...p, leader: leaders.get(tpKey(p.topic, p.partition))! })),
    LATEST_OFFSET,
  );

  return [...partitions.values()]
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
    .map((p) => {
      const key = tpKey(p.topic, p.partition);
      const committedOffset = committed.get(key)?.offset ?? null;
      const logEndOffset = ends.get(key) ?? null;
      const lag = committedOffset !== null && logEndOffset !== null ? Math.max(0, logEndOffset - committedOffset) : null;
      return { ...p, committedOffset, logEndOffset, lag, memberId: owner.get(key) ?? null };
    });
}

function formatGroup(group: GroupView, lags: readonly PartitionLag[]): string {
  const summary = formatTable(['GROUP', 'STATE', 'PROTOCOL', 'MEMBERS'], [[group.groupId, group.state, group.protocol || '-', group.members.length]]);
  const members = new Map(group.members.map((m) => [m.memberId, m]));
  const rows = lags.map((p) => {
    const m = p.memberId === null ? undefined : members.get(p.memberId);
    return [group.groupId, p.topic, p.partition, p.committedOffset ?? '-', p.logEndOffset ?? '-', p.lag ?? '-', m?.memberId ?? '-', m?.clientHost ?? '-', m?.clientId ?? '-'];
  });
  // Members with nothing assigned still show, as in Kafka's tool.
  for (const m of group.members) if (m.assignment.length === 0) rows.push([group.groupId, '-', '-', '-', '-', '-', m.memberId, m.clientHost, m.clientId]);
  if (rows.length === 0) return `${summary}\n\nGroup ${group.groupId} has no committed offsets and no members.`;
  const table = formatTable(['GROUP', 'TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG', 'CONSUMER-ID', 'HOST', 'CLIENT-ID'], rows);
  return `${summary}\n\n${table}`;
}
